//! `upgrade`: the local cluster the scenario runs on, upgraded in place along the path planned
//! (and installed) before the scenario's first step; the steps after it run on the new release.

use serde_json::json;

use super::{Run, StepError, StepOutput};
use crate::cluster::local::upgrade::{PathError, path};
use crate::cluster::local::{self, InstallError, InstallOptions, Installation};
use crate::scenario::step::upgrade::{NotARelease, UpgradeStep};
use crate::scenario::{Scenario, SourcePos, Step};
use crate::version::KubeVersion;

/// Each `upgrade` step's path, in the order the steps are written, every release on it installed
/// (downloaded or built, cached as any release) — or the first step whose path cannot be taken,
/// located, with why. Blocking: it may resolve minors through the module proxy and build.
pub fn plan(scenario: &Scenario, from: KubeVersion, nodes: bool) -> Result<Vec<Vec<Installation>>, PlanError> {
    let mut from = from;
    let mut paths = Vec::new();
    for step in scenario.spec.steps.iter().chain(&scenario.spec.finally) {
        let Step::Upgrade(upgrade) = &step.value else { continue };
        let at = scenario.pos_in(step, &step.referenced);
        let fail = |why| PlanError { at: at.clone(), why };
        let (to, via) = upgrade.releases().map_err(|e| fail(Why::Release(e)))?;
        let newest = |minor| local::versions::resolve(&format!("1.{minor}"));
        let releases = path(from, (to.version, to.exact), &via, newest).map_err(|e| fail(Why::Path(e)))?;
        let opts = InstallOptions { nodes, ..InstallOptions::default() };
        let installed = releases
            .iter()
            .map(|v| local::install(*v, &opts).map_err(|e| fail(Why::Install { release: *v, error: e.into() })))
            .collect::<Result<Vec<_>, _>>()?;
        from = releases.last().copied().unwrap_or(from);
        paths.push(installed);
    }
    Ok(paths)
}

/// An `upgrade` step whose path cannot be taken, where it is written.
#[derive(Debug)]
pub struct PlanError {
    pub at: SourcePos,
    pub why: Why,
}

#[derive(Debug)]
pub enum Why {
    /// `to` or `via` names no release.
    Release(NotARelease),
    /// A downgrade, the running release, a `via` off the way, a minor with no release.
    Path(PathError),
    /// A release on the way that cannot be installed.
    Install { release: KubeVersion, error: std::sync::Arc<InstallError> },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Why::Release(e) => write!(f, "{e}"),
            Why::Path(e) => write!(f, "{e}"),
            Why::Install { release, error } => write!(f, "cannot upgrade to {release}: {error}"),
        }
    }
}

/// Upgrades hop by hop along the step's planned path; the run goes on on the last release.
pub(crate) async fn upgrade(run: &mut Run<'_>, s: &UpgradeStep) -> Result<StepOutput, StepError> {
    let local = run.local_cluster("upgrade")?;
    let hops = run.upgrade_paths.pop_front().ok_or_else(|| StepError::other(format!("no upgrade to {} was planned", s.to)))?;
    let from = run.release;
    let mut passed = vec![from.to_string()];
    for hop in hops {
        let to = hop.version;
        local.upgrade(hop).await.map_err(|e| StepError::other(format!("upgrading from {} to {to}: {e}", run.release)))?;
        run.cluster.discovery.forget().await;
        run.set_release(to);
        passed.push(to.to_string());
    }
    let shown = passed.join(" → ");
    Ok(StepOutput::new(json!({"from": from.to_string(), "to": run.release.to_string(), "path": passed}), format!("upgraded {shown}")))
}

pub(crate) fn describe(s: &UpgradeStep) -> String {
    format!("upgrading the control plane to {}", s.to)
}
