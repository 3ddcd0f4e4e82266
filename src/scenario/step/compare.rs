//! `compare-tokens`: same token or a different one, by sha256.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::step::lint::StepLint;
use crate::version::VersionRange;

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

pub fn lint(s: &CompareStep, l: &mut StepLint) {
    l.token(&s.a, false);
    l.token(&s.b, false);
}
