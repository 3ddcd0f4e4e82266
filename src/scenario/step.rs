//! The steps a scenario is made of. Each step kind is a struct; `Step` is the YAML key naming it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use serde_json_path::JsonPath;
use serde_saphyr::Spanned;

use super::assertion::Assertion;
use super::parsed::{FromText, Parsed};
use super::duration::GoDuration;
use crate::version::VersionRange;

/// One step. Written as a single-key mapping: `- token: {service-account: sa}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Create a ServiceAccount in the scenario's namespace (short form of `apply`).
    ServiceAccount(String),
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
}

/// Values taken from a step's result into variables: `{uid: $.metadata.uid}`; each JSONPath
/// compiled at load and located where it is written.
pub type Captures = BTreeMap<String, Spanned<Parsed<JsonPath>>>;

/// A step's assertions, each located where it is written.
pub type Assertions = Vec<Spanned<Assertion>>;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApplyStep {
    /// One manifest (a mapping), several (a sequence), or YAML text with `---` separators.
    #[serde(default)]
    pub manifest: Option<serde_json::Value>,
    /// A YAML file of manifests, relative to the scenario file and inside the directory tree the
    /// scenarios were loaded from (unless `--allow-outside-files`).
    #[serde(default)]
    pub file: Option<String>,
    /// `file` as read when the scenario was loaded (or why it could not be).
    #[serde(skip)]
    #[schemars(skip)]
    pub file_text: Option<Result<String, String>>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// Names one object. `api-version` may be left out when the kind is unambiguous.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ObjectStep {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Defaults to the scenario's namespace; ignored for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `absent`: keep watching this long; `unchanged`: the window to watch.
    #[serde(default, rename = "for")]
    pub window: Option<GoDuration>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TokenStep {
    pub service_account: String,
    /// As `kubectl create token --duration`: left out or `0s` sends `expirationSeconds: null`.
    #[serde(default)]
    pub duration: Option<GoDuration>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub bound_object: Option<BoundObject>,
    /// The variable the token is saved in (never printed: reports show its sha256).
    #[serde(default)]
    pub save: Option<String>,
    /// Expected HTTP status; 201 (created) when left out.
    #[serde(default)]
    pub status: Option<u16>,
    /// Assertions on `{status, body, warnings}`; the body is the TokenRequest or the error Status.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BoundObject {
    /// Pod, Secret or Node.
    #[schemars(with = "String")]
    pub kind: Parsed<BoundKind>,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecretTokenStep {
    /// The Secret's name, in the scenario's namespace.
    pub secret: String,
    pub save: String,
    /// Assertions on the Secret (its token redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CallStep {
    /// A saved token's name, `admin`, or `anonymous`.
    #[serde(rename = "as")]
    pub identity: String,
    /// GET, POST, PUT, PATCH, DELETE or HEAD (any case).
    #[serde(default = "get_method")]
    #[schemars(with = "String")]
    pub method: Parsed<http::Method>,
    pub path: String,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Expected HTTP status; any 2xx when left out.
    #[serde(default)]
    pub status: Option<u16>,
    /// Assertions on `{status, body, attempts}`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    /// Repeat the request (every 250 ms, within the step's timeout) until the status and
    /// assertions hold — for what changes without an object to watch, such as the API server's
    /// 10-second token authentication cache.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

fn get_method() -> Parsed<http::Method> {
    Parsed::new("GET")
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JwtStep {
    /// A saved token's name.
    pub token: String,
    /// Verify the signature against the cluster's `/openid/v1/jwks` (default true).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Assertions on `{header, claims, lifetime, verified, sha256}`; `lifetime` is `exp − iat`,
    /// null without `exp`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
}

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

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GetStep {
    pub kind: String,
    /// Left out: the list of that kind.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub label_selector: Option<String>,
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Assertions on the object, or on `{items: [...]}` for a list.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubectlStep {
    /// Arguments after `kubectl`; `--kubeconfig`, `--context` (where known) and `--namespace` are added.
    pub args: Vec<String>,
    /// Save stdout (trimmed) as a token, e.g. after `create token`.
    #[serde(default)]
    pub save: Option<String>,
    /// Expected exit code; 0 when left out.
    #[serde(default)]
    pub exit: Option<i32>,
    /// Assertions on `{exit, stdout, stderr}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// The kinds of object a token can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BoundKind::Pod => "Pod",
            BoundKind::Secret => "Secret",
            BoundKind::Node => "Node",
        }
    }
}

impl FromText for BoundKind {
    fn from_text(text: &str) -> Result<Self, String> {
        match text {
            "Pod" => Ok(BoundKind::Pod),
            "Secret" => Ok(BoundKind::Secret),
            "Node" => Ok(BoundKind::Node),
            other => Err(format!("bound-object kind `{}` is not one of Pod, Secret, Node", super::source::excerpt(other))),
        }
    }
}

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
        }
    }

    /// The releases this step runs on; `None` means all the scenario runs on.
    pub fn versions(&self) -> Option<&VersionRange> {
        match self {
            Step::ServiceAccount(_) => None,
            Step::Apply(s) => s.versions.as_ref(),
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => s.versions.as_ref(),
            Step::Token(s) => s.versions.as_ref(),
            Step::SecretToken(s) => s.versions.as_ref(),
            Step::Call(s) => s.versions.as_ref(),
            Step::Jwt(s) => s.versions.as_ref(),
            Step::CompareTokens(s) => s.versions.as_ref(),
            Step::Get(s) | Step::Wait(s) => s.versions.as_ref(),
            Step::Kubectl(s) => s.versions.as_ref(),
        }
    }

    /// The step's own timeout, if it sets one.
    pub fn timeout(&self) -> Option<GoDuration> {
        match self {
            Step::ServiceAccount(_) | Step::Jwt(_) | Step::CompareTokens(_) => None,
            Step::Apply(s) => s.timeout,
            Step::Delete(s) | Step::Absent(s) | Step::Unchanged(s) => s.timeout,
            Step::Token(s) => s.timeout,
            Step::SecretToken(s) => s.timeout,
            Step::Call(s) => s.timeout,
            Step::Get(s) | Step::Wait(s) => s.timeout,
            Step::Kubectl(s) => s.timeout,
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
            Step::ServiceAccount(_)
            | Step::Apply(_)
            | Step::Delete(_)
            | Step::Absent(_)
            | Step::Unchanged(_)
            | Step::CompareTokens(_) => (&[], None),
        }
    }
}
