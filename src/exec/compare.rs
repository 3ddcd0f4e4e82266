//! `compare-tokens`: same token or a different one, by sha256.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::scenario::lint::StepLint;
use crate::version::VersionRange;
use super::StepError;
use super::{Run, StepOutput, expect_equal, redact};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CompareStep {
    pub a: String,
    pub b: String,
    /// true: the two tokens must be byte-identical; false: they must differ.
    pub same: bool,
    #[serde(default)]
    pub versions: Option<VersionRange>,
}

pub fn compare(run: &mut Run<'_>, s: &CompareStep) -> Result<StepOutput, StepError> {
    let (a, b) = (run.token(&s.a)?, run.token(&s.b)?);
    let same = a == b;
    let summary = format!(
        "{} {} {} {} {}",
        s.a,
        redact::fingerprint(a),
        if same { "==" } else { "!=" },
        s.b,
        redact::fingerprint(b)
    );
    let doc = json!({"a": redact::sha256_hex(a), "b": redact::sha256_hex(b), "same": same});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.same", json!(s.same))))
}

pub(crate) fn lint(s: &CompareStep, l: &mut StepLint) {
    l.token(&s.a, false);
    l.token(&s.b, false);
}

pub(crate) fn describe(_: &CompareStep) -> String {
    "comparing tokens".into()
}
