//! `eventually`: a step repeated until its checks hold, for what the cluster makes true only
//! after a while and gives no object to watch (the API server's token cache, RBAC a moment
//! after a binding, an object a controller creates). `call`, `kubectl` and `get` use it.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::{Run, StepError, StepOutput};
use crate::scenario::assertion::Assertion;

/// The pause between attempts.
const EVERY: Duration = Duration::from_millis(250);

/// One attempt of a step, or — when it says `eventually: true` — [`eventually`]; `what` names
/// the step in the timeout's message.
pub(crate) async fn once_or_eventually<'r>(
    run: &mut Run<'r>,
    repeat: bool,
    expect: &[Spanned<Assertion>],
    what: impl FnOnce() -> String,
    mut attempt: impl AsyncFnMut(&mut Run<'r>, u32) -> Result<StepOutput, StepError>,
) -> Result<StepOutput, StepError> {
    if !repeat {
        return attempt(run, 1).await;
    }
    eventually(run, expect, &what(), attempt).await
}

/// Runs `attempt` (given the attempt's number, from 1) until the assertions its output implies
/// and the step's `expect` that apply to the release hold, every 250 ms within the step's time
/// limit. An attempt that fails outright is repeated too. On running out: a timeout naming `what`,
/// the number of attempts and the last result.
pub(crate) async fn eventually<'r>(
    run: &mut Run<'r>,
    expect: &[Spanned<Assertion>],
    what: &str,
    mut attempt: impl AsyncFnMut(&mut Run<'r>, u32) -> Result<StepOutput, StepError>,
) -> Result<StepOutput, StepError> {
    let mut attempts = 1;
    loop {
        let out = attempt(run, attempts).await;
        let last = match &out {
            Ok(o) => match super::evaluate(run, super::located(run, &o.implied, expect), &o.doc)? {
                m if m.is_empty() => return out,
                m => format!("{}; last: {}", m.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; "), o.summary),
            },
            Err(e) => e.to_string(),
        };
        // No attempt starts past the step's deadline: this says what was last seen.
        if run.deadline.passed_after(EVERY) {
            return Err(run.deadline.timed_out(format!("{what} to be as expected ({attempts} attempts)"), Some(last)));
        }
        tokio::time::sleep(EVERY).await;
        attempts += 1;
    }
}
