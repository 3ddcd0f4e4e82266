//! `signing-key`: the scenario's own local cluster's ServiceAccount signing key rotated, or its
//! previous keys dropped from the verification set.

use serde_json::json;

use super::{Run, StepError, StepOutput};
use crate::scenario::step::signing_key::{KeyAction, SigningKeyStep};

pub async fn signing_key(run: &mut Run<'_>, s: &SigningKeyStep) -> Result<StepOutput, StepError> {
    let local = run.local_cluster("signing-key")?;
    let done = match s.action {
        KeyAction::Rotate => local.rotate_signing_key(true).await.map(|()| "rotated: a new key signs, the previous ones still verify"),
        KeyAction::DropPrevious => local.drop_previous_keys().await.map(|()| "dropped the previous keys: only the current one verifies"),
    };
    let summary = done.map_err(|e| StepError::other(format!("signing key: {e}")))?;
    Ok(StepOutput::new(json!({"action": format!("{:?}", s.action)}), summary))
}

pub(crate) fn describe(s: &SigningKeyStep) -> String {
    match s.action {
        KeyAction::Rotate => "rotating the signing key".into(),
        KeyAction::DropPrevious => "dropping the previous signing keys".into(),
    }
}
