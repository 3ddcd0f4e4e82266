//! `compare-tokens`: same token or a different one, by sha256.

use serde_json::json;

use super::StepError;
use super::{Run, StepOutput, expect_equal};
use crate::redact;

use crate::scenario::step::compare::*;
pub fn compare(run: &mut Run<'_>, s: &CompareStep) -> Result<StepOutput, StepError> {
    let (a, b) = (run.token(&s.a)?, run.token(&s.b)?);
    let same = a == b;
    let summary = format!("{} {} {} {} {}", s.a, redact::fingerprint(a), if same { "==" } else { "!=" }, s.b, redact::fingerprint(b));
    let doc = json!({"a": redact::sha256_hex(a), "b": redact::sha256_hex(b), "same": same});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.same", json!(s.same))))
}

pub(crate) fn describe(_: &CompareStep) -> String {
    "comparing tokens".into()
}
