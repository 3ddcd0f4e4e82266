//! The steps a scenario is made of: `Step`, the YAML key naming each kind, and the fields every
//! kind may have (`versions`, `timeout`, `expect`, `capture`) reached through exhaustive matches.
//!
//! Each kind's own fields and lint rules live in `step/<kind>.rs`, beside this file; its execution
//! lives in `src/exec/<kind>.rs` (`exec/pod_exec.rs` for `exec`), which reads them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::assertion::Assertion;
use super::duration::GoDuration;
use crate::version::VersionRange;

pub mod apply;
pub mod call;
pub mod compare;
pub mod exec;
pub mod get;
pub mod include;
pub mod jwt;
pub mod kubectl;
pub mod lint;
pub mod logs;
pub mod object;
pub mod restart;
pub mod secret_token;
pub mod signing_key;
pub mod token;
pub mod upgrade;

pub use apply::{ApplyStep, ServiceAccountStep};
pub use call::CallStep;
pub use compare::CompareStep;
pub use exec::ExecStep;
pub use get::GetStep;
pub use include::IncludeStep;
pub use jwt::JwtStep;
pub use kubectl::KubectlStep;
pub use logs::LogsStep;
pub use object::ObjectStep;
pub use restart::RestartStep;
pub use secret_token::SecretTokenStep;
pub use signing_key::SigningKeyStep;
pub use token::{BoundKind, BoundObject, TokenStep};
pub use upgrade::UpgradeStep;

/// One step. Written as a single-key mapping: `- token: {service-account: sa}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Create a ServiceAccount in the scenario's namespace (short form of `apply`): its name, or
    /// `{name, status, expect, capture, versions, timeout}`.
    ServiceAccount(
        #[serde(deserialize_with = "crate::scenario::step::apply::short_or_long")]
        #[schemars(with = "crate::scenario::step::apply::ServiceAccountForm")]
        ServiceAccountStep,
    ),
    /// Server-side apply manifests of any kind, namespaced or cluster-scoped.
    Apply(ApplyStep),
    /// Delete an object and wait until it is gone.
    Delete(ObjectStep),
    /// Mint a token through the TokenRequest API.
    Token(TokenStep),
    /// Wait until a controller has written a token into a `kubernetes.io/service-account-token` Secret.
    SecretToken(SecretTokenStep),
    /// Call the API server over HTTPS as a token, as the admin, or anonymously.
    Call(CallStep),
    /// Decode a JWT, verify it against the cluster's JWKS and assert on its claims.
    Jwt(JwtStep),
    /// Compare two tokens by their sha256.
    CompareTokens(CompareStep),
    /// Get an object (or a list) and assert on it.
    Get(GetStep),
    /// Watch an object (or a list) until the assertions hold.
    Wait(GetStep),
    /// Assert that an object is absent and, with `for`, stays absent.
    Absent(ObjectStep),
    /// Assert that an object exists and does not change for a window.
    Unchanged(ObjectStep),
    /// Run the cluster's kubectl with the scenario's kubeconfig and namespace.
    Kubectl(KubectlStep),
    /// Run a command in a pod's container (`pods/exec`), as the admin.
    Exec(ExecStep),
    /// Read a container's log (`pods/log`).
    Logs(LogsStep),
    /// The steps of a step file, with parameters: `{file: steps/bind-role.yaml, with: {sa: reader}}`.
    Include(IncludeStep),
    /// Upgrade the local control plane in place to a later release (one minor at a time).
    Upgrade(UpgradeStep),
    /// Restart a component of the local control plane with changed flags.
    Restart(RestartStep),
    /// Rotate the ServiceAccount signing key, or drop the previous ones.
    SigningKey(SigningKeyStep),
}

/// Values taken from a step's result into variables: `{uid: $.metadata.uid}`, `{n: {count: …}}`;
/// each JSONPath compiled at load and located where it is written.
pub type Captures = BTreeMap<String, Spanned<super::capture::Capture>>;

/// A step's assertions, each located where it is written.
pub type Assertions = Vec<Spanned<Assertion>>;

impl Step {
    /// The YAML key of this step, as reports name it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::ServiceAccount(_) => "service-account",
            Step::Apply(_) => "apply",
            Step::Delete(_) => "delete",
            Step::Token(_) => "token",
            Step::SecretToken(_) => "secret-token",
            Step::Call(_) => "call",
            Step::Jwt(_) => "jwt",
            Step::CompareTokens(_) => "compare-tokens",
            Step::Get(_) => "get",
            Step::Wait(_) => "wait",
            Step::Absent(_) => "absent",
            Step::Unchanged(_) => "unchanged",
            Step::Kubectl(_) => "kubectl",
            Step::Exec(_) => "exec",
            Step::Logs(_) => "logs",
            Step::Include(_) => "include",
            Step::Upgrade(_) => "upgrade",
            Step::Restart(_) => "restart",
            Step::SigningKey(_) => "signing-key",
        }
    }

    /// The releases this step runs on; `None` means all the scenario runs on.
    pub fn versions(&self) -> Option<&VersionRange> {
        match self {
            Step::ServiceAccount(s) => s.versions.as_ref(),
            Step::Apply(s) => s.versions.as_ref(),
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => s.versions.as_ref(),
            Step::Token(s) => s.versions.as_ref(),
            Step::SecretToken(s) => s.versions.as_ref(),
            Step::Call(s) => s.versions.as_ref(),
            Step::Jwt(s) => s.versions.as_ref(),
            Step::CompareTokens(s) => s.versions.as_ref(),
            Step::Get(s) | Step::Wait(s) => s.versions.as_ref(),
            Step::Kubectl(s) => s.versions.as_ref(),
            Step::Exec(s) => s.versions.as_ref(),
            Step::Logs(s) => s.versions.as_ref(),
            Step::Restart(s) => s.versions.as_ref(),
            Step::SigningKey(s) => s.versions.as_ref(),
            // The included steps have their own; an upgrade runs wherever it is written (the
            // scenario's `versions` say where it starts).
            Step::Include(_) | Step::Upgrade(_) => None,
        }
    }

    /// The cluster the step runs on, when it names one (`main` otherwise).
    pub fn cluster(&self) -> Option<&str> {
        let named = match self {
            Step::ServiceAccount(s) => &s.cluster,
            Step::Apply(s) => &s.cluster,
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => &s.cluster,
            Step::Token(s) => &s.cluster,
            Step::SecretToken(s) => &s.cluster,
            Step::Call(s) => &s.cluster,
            Step::Jwt(s) => &s.cluster,
            Step::Get(s) | Step::Wait(s) => &s.cluster,
            Step::Kubectl(s) => &s.cluster,
            Step::Exec(s) => &s.cluster,
            Step::Logs(s) => &s.cluster,
            Step::Restart(s) => &s.cluster,
            Step::SigningKey(s) => &s.cluster,
            // Tokens are compared wherever they came from; an include's steps name their own;
            // an upgrade is main's (the run's release follows it).
            Step::CompareTokens(_) | Step::Include(_) | Step::Upgrade(_) => &None,
        };
        named.as_deref()
    }

    /// The step's own timeout, if it sets one.
    pub fn timeout(&self) -> Option<GoDuration> {
        match self {
            Step::Jwt(_) | Step::CompareTokens(_) => None,
            Step::ServiceAccount(s) => s.timeout,
            Step::Apply(s) => s.timeout,
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => s.timeout,
            Step::Token(s) => s.timeout,
            Step::SecretToken(s) => s.timeout,
            Step::Call(s) => s.timeout,
            Step::Get(s) | Step::Wait(s) => s.timeout,
            Step::Kubectl(s) => s.timeout,
            Step::Exec(s) => s.timeout,
            Step::Logs(s) => s.timeout,
            Step::Upgrade(s) => s.timeout,
            Step::Restart(s) => s.timeout,
            Step::SigningKey(s) => s.timeout,
            Step::Include(_) => None,
        }
    }

    /// Assertions and captures. Every kind is named: a new kind must say what it checks, or lint
    /// and the run would skip its assertions silently.
    pub fn checks(&self) -> (&[Spanned<Assertion>], Option<&Captures>) {
        match self {
            Step::Token(s) => (&s.expect, Some(&s.capture)),
            Step::SecretToken(s) => (&s.expect, Some(&s.capture)),
            Step::Call(s) => (&s.expect, Some(&s.capture)),
            Step::Jwt(s) => (&s.expect, Some(&s.capture)),
            Step::Get(s) | Step::Wait(s) => (&s.expect, Some(&s.capture)),
            Step::Kubectl(s) => (&s.expect, Some(&s.capture)),
            Step::Exec(s) => (&s.expect, Some(&s.capture)),
            Step::Logs(s) => (&s.expect, Some(&s.capture)),
            // Defines its parameters; the included steps check.
            Step::Include(_) => (&[], None),
            Step::ServiceAccount(s) => (&s.expect, Some(&s.capture)),
            Step::Apply(s) => (&s.expect, Some(&s.capture)),
            Step::Delete(s) => (&s.expect, Some(&s.capture)),
            // Watching only: lint refuses `expect` and `capture` there.
            Step::Absent(_) | Step::Unchanged(_) | Step::CompareTokens(_) => (&[], None),
            // They change the cluster; the steps after them check what it does.
            Step::Upgrade(_) | Step::Restart(_) | Step::SigningKey(_) => (&[], None),
        }
    }

    /// Whether the step changes the cluster itself (its release, flags or keys): the scenario
    /// then needs a local cluster of its own.
    pub fn changes_cluster(&self) -> bool {
        match self {
            Step::Upgrade(_) | Step::Restart(_) | Step::SigningKey(_) => true,
            Step::ServiceAccount(_)
            | Step::Apply(_)
            | Step::Delete(_)
            | Step::Token(_)
            | Step::SecretToken(_)
            | Step::Call(_)
            | Step::Jwt(_)
            | Step::CompareTokens(_)
            | Step::Get(_)
            | Step::Wait(_)
            | Step::Absent(_)
            | Step::Unchanged(_)
            | Step::Kubectl(_)
            | Step::Exec(_)
            | Step::Logs(_)
            | Step::Include(_) => false,
        }
    }
}
