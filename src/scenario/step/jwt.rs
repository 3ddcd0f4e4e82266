//! `jwt`: a token's header and claims, its signature checked against the cluster's JWKS.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::assertion::Assertion;
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JwtStep {
    /// A saved token's name.
    pub token: String,
    /// Verify the signature against the cluster's `/openid/v1/jwks` (default true).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Assertions on `{header, claims, lifetime, warn_after, age, verified, sha256}`: `lifetime`
    /// is `exp − iat`, `warn_after` is `kubernetes.io.warnafter − iat` (each null without the
    /// claim), `age` is the seconds from `iat` to now by kubeproof's clock.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
}

pub(crate) fn yes() -> bool {
    true
}

pub fn lint(s: &JwtStep, l: &mut StepLint) {
    l.token(&s.token, false);
}
