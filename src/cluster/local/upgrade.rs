//! Upgrading a running local cluster in place, as kubeadm does it: one minor at a time, etcd
//! first where the release pairs another, then kube-apiserver, the controllers, and the node's
//! kubelet and kube-proxy last — keeping etcd's data, the PKI, the signing keys, the ports and
//! every flag a scenario added.

use std::fmt;

use super::{Installation, LocalCluster, StartError, process};
use crate::version::KubeVersion;

/// The releases an upgrade passes through, each one minor above the one before: `via` where it
/// names that minor, else its newest patch (`newest(minor)`), ending on `to`.
pub fn path<E: fmt::Display>(
    from: KubeVersion,
    to: (KubeVersion, bool),
    via: &[KubeVersion],
    mut newest: impl FnMut(u32) -> Result<KubeVersion, E>,
) -> Result<Vec<KubeVersion>, PathError> {
    let (target, exact) = to;
    let refuse = |why| Err(PathError { from, to: target, why });
    if target.major != from.major || target.minor < from.minor || (target.minor == from.minor && (!exact || target <= from)) {
        return refuse(Why::NotLater);
    }
    if target.minor == from.minor {
        // A patch upgrade: the binaries change, the minor does not.
        return Ok(vec![target]);
    }
    if let Some(v) = via.iter().find(|v| v.minor <= from.minor || v.minor >= target.minor) {
        return refuse(Why::ViaOutside(*v));
    }
    let mut out = Vec::new();
    for minor in from.minor + 1..=target.minor {
        let named = via.iter().find(|v| v.minor == minor).copied();
        let release = match (named, minor == target.minor) {
            (Some(v), _) => v,
            (None, true) if exact => target,
            (None, _) => newest(minor).map_err(|e| PathError { from, to: target, why: Why::NoRelease { minor, error: e.to_string() } })?,
        };
        out.push(release);
    }
    Ok(out)
}

/// Why an upgrade path cannot be taken.
#[derive(Debug, Clone, PartialEq)]
pub struct PathError {
    pub from: KubeVersion,
    pub to: KubeVersion,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// A downgrade, or the release it runs.
    NotLater,
    /// `via` names a release outside the way from `from` to `to`.
    ViaOutside(KubeVersion),
    /// A minor on the way has no release the module proxy serves.
    NoRelease { minor: u32, error: String },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = (self.from, self.to);
        match &self.why {
            Why::NotLater => {
                write!(f, "cannot upgrade from {from} to {to}: an upgrade goes to a later release (Kubernetes supports no downgrade)")
            }
            Why::ViaOutside(v) => write!(f, "cannot pass through {v} on the way from {from} to {to}: it is not between them"),
            Why::NoRelease { minor, error } => {
                write!(f, "cannot upgrade from {from} to {to}: no release of 1.{minor} to pass through ({error}); name one with `via`")
            }
        }
    }
}

impl std::error::Error for PathError {}

impl LocalCluster {
    /// Upgrades the running cluster to `to`, one minor above it (or a later patch of its minor):
    /// etcd (where `to` pairs another release of it), kube-apiserver (until `/readyz`), the
    /// controllers, then the node (until it is Ready on the new kubelet). Each component restarts
    /// on its ports with `to`'s binaries and kubeproof's flags for `to`, plus the flags the
    /// cluster was started for and those changed since.
    pub async fn upgrade(&self, to: Installation) -> Result<(), StartError> {
        let from = self.version();
        if to.version.minor > from.minor + 1 || to.version <= from {
            return Err(StartError::Upgrade(PathError { from, to: to.version, why: Why::NotLater }));
        }
        let _restarting = self.begin_restart();
        let ports = self.ports.ok_or(StartError::Poisoned)?;
        *self.release.write().unwrap_or_else(std::sync::PoisonError::into_inner) = to.clone();
        let flags = self.flags(&ports, &self.controller_kubeconfigs());
        let here = process::Placement::default();
        if self.running_binary("etcd").as_ref() != Some(&to.etcd) {
            self.replace("etcd", &to.etcd, flags.etcd, &here)?;
        }
        self.replace("kube-apiserver", &to.binary("kube-apiserver"), flags.apiserver, &here)?;
        self.await_apiserver().await?;
        self.replace("kube-controller-manager", &to.binary("kube-controller-manager"), flags.controller_manager, &here)?;
        self.replace("kube-scheduler", &to.binary("kube-scheduler"), flags.scheduler, &here)?;
        self.upgrade_node().await
    }

    /// The executable a component runs now.
    fn running_binary(&self, name: &str) -> Option<std::path::PathBuf> {
        let components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        components.iter().find(|c| c.name == name).map(|c| c.binary.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    fn newest(minor: u32) -> Result<KubeVersion, &'static str> {
        match minor {
            26 => Err("not served"),
            m => Ok(KubeVersion::new(1, m, 9)),
        }
    }

    #[test]
    fn one_minor_at_a_time_on_the_newest_patch_unless_named() {
        assert_eq!(path(v("1.23.17"), (v("1.24.0"), true), &[], newest), Ok(vec![v("1.24.0")]));
        assert_eq!(path(v("1.23.17"), (v("1.25"), false), &[], newest), Ok(vec![v("1.24.9"), v("1.25.9")]));
        assert_eq!(path(v("1.23.17"), (v("1.25.1"), true), &[v("1.24.3")], newest), Ok(vec![v("1.24.3"), v("1.25.1")]));
        assert_eq!(path(v("1.24.0"), (v("1.24.17"), true), &[], newest), Ok(vec![v("1.24.17")]), "a patch upgrade");
        assert_eq!(path(v("1.37.2"), (v("1.38.0-beta.0"), true), &[], newest), Ok(vec![v("1.38.0-beta.0")]), "to a pre-release");
        assert_eq!(path(v("1.38.0-beta.0"), (v("1.38.0"), true), &[], newest), Ok(vec![v("1.38.0")]), "to its release");
    }

    #[test]
    fn downgrades_itself_and_strays_are_refused_naming_why() {
        let refused = |from: &str, to: (&str, bool), via: &[KubeVersion]| path(v(from), (v(to.0), to.1), via, newest).unwrap_err();
        assert_eq!(refused("1.24.0", ("1.23.17", true), &[]).why, Why::NotLater);
        assert_eq!(refused("1.24.0", ("1.24.0", true), &[]).why, Why::NotLater, "to itself");
        assert_eq!(refused("1.38.0", ("1.38.0-rc.0", true), &[]).why, Why::NotLater, "back to a pre-release");
        assert_eq!(refused("1.24.3", ("1.24", false), &[]).why, Why::NotLater, "a minor it runs");
        assert_eq!(refused("1.23.17", ("1.25.0", true), &[v("1.23.2")]).why, Why::ViaOutside(v("1.23.2")));
        let gap = refused("1.25.0", ("1.27.0", true), &[]);
        assert!(gap.to_string().contains("no release of 1.26 to pass through (not served); name one with `via`"), "{gap}");
        assert!(refused("1.24.0", ("1.23.17", true), &[]).to_string().contains("Kubernetes supports no downgrade"));
    }
}
