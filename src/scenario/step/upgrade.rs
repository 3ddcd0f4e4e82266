//! `upgrade`: the local control plane the scenario runs on, upgraded in place to a later release —
//! one minor at a time, keeping etcd's data, the PKI and the signing keys (docs/scenario-format.md).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::scenario::step::lint::StepLint;
use crate::version::{KubeVersion, ReleaseName};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpgradeStep {
    /// The release to end on: `1.24.0`, or a minor (`1.27`: its newest patch). Each minor between
    /// is passed through on its newest patch, unless `via` names one.
    pub to: String,
    /// Patches to pass through on the way (`[1.25.15, 1.26.13]`), one per minor, in order.
    #[serde(default)]
    pub via: Vec<String>,
    /// For the whole upgrade, every hop and component; 5 minutes when left out.
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// A release or minor a scenario names: `1.24.0`, `1.38.0-rc.0` or `1.24` (a leading `v` is fine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    pub version: KubeVersion,
    /// `false` for a minor (`1.24`), which means its newest installable patch.
    pub exact: bool,
}

impl Release {
    pub fn parse(text: &str) -> Result<Release, NotARelease> {
        match text.parse() {
            Ok(ReleaseName::Minor { major, minor }) => Ok(Release { version: KubeVersion::new(major, minor, 0), exact: false }),
            Ok(ReleaseName::Exact(version)) => Ok(Release { version, exact: true }),
            Err(_) => Err(NotARelease::Text(text.to_string())),
        }
    }
}

/// A `to` or `via` that does not name what it must.
#[derive(Debug, Clone, PartialEq)]
pub enum NotARelease {
    /// Neither a release nor a minor.
    Text(String),
    /// A minor where a patch is needed (`via`).
    Minor(String),
}

impl std::fmt::Display for NotARelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotARelease::Text(text) => write!(
                f,
                "`{text}` is not a Kubernetes release: write a release such as 1.24.17, a pre-release such as 1.38.0-rc.0, or a \
                 minor such as 1.24 (its newest patch)"
            ),
            NotARelease::Minor(v) => write!(f, "`via: {v}` must name a patch (e.g. {v}.0): the release to pass through"),
        }
    }
}

impl UpgradeStep {
    /// `to` and `via` as releases, or the first that does not read as one.
    pub fn releases(&self) -> Result<(Release, Vec<KubeVersion>), NotARelease> {
        let to = Release::parse(&self.to)?;
        let via = self
            .via
            .iter()
            .map(|v| match Release::parse(v)? {
                Release { version, exact: true } => Ok(version),
                _ => Err(NotARelease::Minor(v.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((to, via))
    }
}

/// `to` and `via` read as releases; `via` one per minor, ascending, below `to`.
pub fn lint(s: &UpgradeStep, l: &mut StepLint) {
    let (to, via) = match s.releases() {
        Ok(releases) => releases,
        Err(problem) => return l.problem(problem.to_string()),
    };
    for pair in via.windows(2) {
        if pair[1].minor <= pair[0].minor {
            l.problem(format!("`via` must go up one minor at a time: {} comes after {}", pair[1], pair[0]));
        }
    }
    if let Some(last) = via.last().filter(|v| v.minor >= to.version.minor) {
        l.problem(format!("`via: {last}` is not below `to: {}`: via names the releases passed through on the way", s.to));
    }
}
