//! `restart`: a component of the scenario's own local cluster, started again with changed flags.

use serde_json::json;

use super::{Run, StepError, StepOutput};
use crate::scenario::step::restart::RestartStep;

pub async fn restart(run: &mut Run<'_>, s: &RestartStep) -> Result<StepOutput, StepError> {
    let local = run.local_cluster("restart")?;
    let flags = s.flags.iter().map(|f| run.render(f)).collect::<Result<Vec<_>, _>>()?;
    let binary = s.component.component().binary();
    local.restart(binary, &flags).await.map_err(|e| StepError::other(format!("restarting {binary}: {e}")))?;
    Ok(StepOutput::new(json!({"component": binary, "flags": flags}), format!("restarted {binary} {}", flags.join(" "))))
}

pub(crate) fn describe(s: &RestartStep) -> String {
    format!("restarting {}", s.component.component().binary())
}
