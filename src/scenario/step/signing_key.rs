//! `signing-key`: the ServiceAccount signing key of the local control plane the scenario runs on,
//! rotated as the Kubernetes docs describe, or its previous keys dropped from the verification set.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::version::VersionRange;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SigningKeyStep {
    pub action: KeyAction,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Until kube-apiserver serves again; 2 minutes when left out.
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAction {
    /// A new key signs (kube-apiserver's tokens and kube-controller-manager's token Secrets);
    /// the previous public keys stay in the verification set, so tokens they signed still verify.
    Rotate,
    /// Only the current key verifies: tokens signed by earlier keys get 401.
    DropPrevious,
}
