//! `restart`: a component of the local control plane the scenario runs on, stopped and started
//! again with changed flags, keeping everything else (ports, PKI, etcd's data).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::profile::Component;
use crate::scenario::GoDuration;
use crate::scenario::step::lint::StepLint;
use crate::version::VersionRange;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RestartStep {
    pub component: Restartable,
    /// Flags (`--name=value`) on top of those it runs with; one of the same name replaces it.
    /// They stay for the rest of the scenario, upgrades included.
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Until it serves again; 2 minutes when left out.
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// The components a scenario may restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Restartable {
    KubeApiserver,
    KubeControllerManager,
}

impl Restartable {
    pub fn component(self) -> Component {
        match self {
            Restartable::KubeApiserver => Component::ApiServer,
            Restartable::KubeControllerManager => Component::ControllerManager,
        }
    }
}

/// Each flag written as `--name` or `--name=value`.
pub fn lint(s: &RestartStep, l: &mut StepLint) {
    for flag in &s.flags {
        l.var(flag);
        let name = flag.split('=').next().unwrap_or_default();
        if !name.starts_with("--") || name.len() < 3 {
            l.problem(format!("`{flag}` is not a flag: write --name=value, as on the component's command line"));
        }
    }
}
