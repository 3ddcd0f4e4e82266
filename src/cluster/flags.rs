//! Flag profiles: the flags a local cluster's components run with beyond kubeproof's own, as
//! scenarios require them (`requires: {apiserver-args, controller-manager-args}`). One profile
//! is one local cluster; a kubeconfig context's flags cannot be seen.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A control-plane component whose flags a scenario may require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    ApiServer,
    ControllerManager,
}

impl Component {
    /// The binary's name, as flags are given on its command line.
    pub fn binary(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
        }
    }
}

/// Flags (`--flag=value`) per component. Ordered, so that a set of profiles has one cluster per
/// distinct profile; see [`FlagProfile::canonical`].
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FlagProfile {
    #[serde(default)]
    pub apiserver: Vec<String>,
    #[serde(default)]
    pub controller_manager: Vec<String>,
}

impl FlagProfile {
    /// No flags beyond kubeproof's own.
    pub fn is_empty(&self) -> bool {
        self.components().iter().all(|(_, flags)| flags.is_empty())
    }

    /// Each component with its flags, in the order they start.
    pub fn components(&self) -> [(Component, &[String]); 2] {
        [(Component::ApiServer, &self.apiserver), (Component::ControllerManager, &self.controller_manager)]
    }

    /// The flags of one component.
    pub fn of(&self, component: Component) -> &[String] {
        match component {
            Component::ApiServer => &self.apiserver,
            Component::ControllerManager => &self.controller_manager,
        }
    }

    /// The same profile with each component's flags sorted: two scenarios that list the same
    /// flags in another order share a cluster.
    pub fn canonical(mut self) -> FlagProfile {
        self.apiserver.sort();
        self.controller_manager.sort();
        self
    }

    /// Whether every flag `wanted` names, component by component, is one of these.
    pub fn includes(&self, wanted: &FlagProfile) -> bool {
        wanted.components().iter().all(|(component, flags)| flags.iter().all(|f| self.of(*component).contains(f)))
    }
}

/// `kube-apiserver --a=1 --b=2; kube-controller-manager --c=3`, leaving out components without
/// flags; empty for the empty profile.
impl fmt::Display for FlagProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .components()
            .iter()
            .filter(|(_, flags)| !flags.is_empty())
            .map(|(component, flags)| format!("{} {}", component.binary(), flags.join(" ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(apiserver: &[&str], controller_manager: &[&str]) -> FlagProfile {
        let own = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect();
        FlagProfile { apiserver: own(apiserver), controller_manager: own(controller_manager) }
    }

    #[test]
    fn shown_per_component() {
        assert_eq!(profile(&[], &[]).to_string(), "");
        assert_eq!(profile(&["--a=1", "--b"], &[]).to_string(), "kube-apiserver --a=1 --b");
        assert_eq!(profile(&[], &["--c=3"]).to_string(), "kube-controller-manager --c=3");
        assert_eq!(profile(&["--a=1"], &["--c=3"]).to_string(), "kube-apiserver --a=1; kube-controller-manager --c=3");
    }

    #[test]
    fn includes_is_per_component() {
        let running = profile(&["--a=1", "--b=2"], &["--c=3"]);
        assert!(running.includes(&profile(&["--b=2"], &[])));
        assert!(running.includes(&profile(&[], &["--c=3"])));
        assert!(running.includes(&FlagProfile::default()));
        // The right flag given to the wrong component is not there.
        assert!(!running.includes(&profile(&["--c=3"], &[])));
        assert!(!running.includes(&profile(&[], &["--a=1"])));
        assert!(!profile(&[], &[]).includes(&profile(&[], &["--c=3"])));
    }

    #[test]
    fn canonical_sorts_each_component_and_keeps_them_apart() {
        let a = profile(&["--b", "--a"], &["--d", "--c"]).canonical();
        assert_eq!(a, profile(&["--a", "--b"], &["--c", "--d"]));
        assert_ne!(profile(&["--a"], &[]).canonical(), profile(&[], &["--a"]).canonical());
        assert!(profile(&[], &[]).is_empty() && !profile(&[], &["--a"]).is_empty());
    }
}
