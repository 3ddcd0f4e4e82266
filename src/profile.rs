//! Profiles: what a local cluster offers beyond kubeproof's defaults, as scenarios require it
//! (`requires: {apiserver-args, controller-manager-args, nodes}`) — its components' extra flags
//! and its nodes. One profile is one local cluster; a kubeconfig context's flags cannot be seen.

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

/// Flags (`--flag=value`) per component, and the number of nodes. Ordered, so that a set of
/// profiles has one cluster per distinct profile; see [`Profile::canonical`].
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub apiserver: Vec<String>,
    #[serde(default)]
    pub controller_manager: Vec<String>,
    /// Nodes (kubelet, container runtime) beside the control plane; none by default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nodes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Profile {
    /// No flags beyond kubeproof's own, and no node.
    pub fn is_empty(&self) -> bool {
        self.nodes == 0 && self.components().iter().all(|(_, flags)| flags.is_empty())
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

    /// The flags of one component, to change.
    pub fn of_mut(&mut self, component: Component) -> &mut Vec<String> {
        match component {
            Component::ApiServer => &mut self.apiserver,
            Component::ControllerManager => &mut self.controller_manager,
        }
    }

    /// The same profile with each component's flags sorted: two scenarios that list the same
    /// flags in another order share a cluster.
    pub fn canonical(mut self) -> Profile {
        self.apiserver.sort();
        self.controller_manager.sort();
        self
    }

    /// Whether every flag `wanted` names, component by component, is one of these, and there
    /// are as many nodes as it wants.
    pub fn includes(&self, wanted: &Profile) -> bool {
        self.nodes >= wanted.nodes
            && wanted.components().iter().all(|(component, flags)| flags.iter().all(|f| self.of(*component).contains(f)))
    }
}

/// `kube-apiserver --a=1 --b=2; kube-controller-manager --c=3; 1 node`, leaving out components
/// without flags; empty for the empty profile.
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = match self.nodes {
            0 => None,
            1 => Some("1 node".to_string()),
            n => Some(format!("{n} nodes")),
        };
        let parts: Vec<String> = self
            .components()
            .iter()
            .filter(|(_, flags)| !flags.is_empty())
            .map(|(component, flags)| format!("{} {}", component.binary(), flags.join(" ")))
            .chain(nodes)
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(apiserver: &[&str], controller_manager: &[&str]) -> Profile {
        let own = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect();
        Profile { apiserver: own(apiserver), controller_manager: own(controller_manager), nodes: 0 }
    }

    #[test]
    fn shown_per_component() {
        assert_eq!(profile(&[], &[]).to_string(), "");
        assert_eq!(profile(&["--a=1", "--b"], &[]).to_string(), "kube-apiserver --a=1 --b");
        assert_eq!(profile(&[], &["--c=3"]).to_string(), "kube-controller-manager --c=3");
        assert_eq!(profile(&["--a=1"], &["--c=3"]).to_string(), "kube-apiserver --a=1; kube-controller-manager --c=3");
        assert_eq!(Profile { nodes: 1, ..profile(&["--a=1"], &[]) }.to_string(), "kube-apiserver --a=1; 1 node");
    }

    #[test]
    fn nodes_are_part_of_the_profile() {
        let with_node = Profile { nodes: 1, ..Profile::default() };
        assert!(!with_node.is_empty());
        assert!(with_node.includes(&Profile::default()));
        assert!(!Profile::default().includes(&with_node));
        assert_ne!(with_node.clone().canonical(), Profile::default().canonical());
    }

    #[test]
    fn includes_is_per_component() {
        let running = profile(&["--a=1", "--b=2"], &["--c=3"]);
        assert!(running.includes(&profile(&["--b=2"], &[])));
        assert!(running.includes(&profile(&[], &["--c=3"])));
        assert!(running.includes(&Profile::default()));
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
