//! What a scenario asks of the clusters it runs on, as the cluster pool is told it: the releases
//! it applies to, the profile (flags, nodes) it needs, whether it changes its cluster, and the
//! other clusters it runs on. The pool never sees the scenario itself.

use crate::federation::Federation;
use crate::profile::Profile;
use crate::version::{KubeVersion, VersionRange};

/// What one scenario asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirement {
    /// The releases the scenario applies to; `None` for all.
    pub versions: Option<VersionRange>,
    pub profile: Profile,
    /// The scenario changes its cluster (upgrades it, restarts components, rotates its signing
    /// key): it gets a local cluster of its own, started for it alone and never shared.
    pub own_cluster: bool,
    /// The scenario's clusters, when it runs on several: they are started for it alone, wired
    /// together as it says.
    pub federation: Option<Federation>,
}

impl Requirement {
    pub fn applies_to(&self, v: &KubeVersion) -> bool {
        self.versions.as_ref().is_none_or(|r| r.contains(v))
    }

    /// The profile a shared cluster of its own must be started with; `None` when the main
    /// cluster does, or when the scenario changes its cluster (it gets one started for it alone).
    pub fn own_profile(&self) -> Option<Profile> {
        let flags = self.profile.clone().canonical();
        (!flags.is_empty() && !self.own_cluster && self.federation.is_none()).then_some(flags)
    }
}
