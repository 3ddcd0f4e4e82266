//! `call`: an HTTPS request to the API server, as curl with `Authorization: Bearer` would make it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::parsed::{FromText, Invalid, Parsed};
use crate::scenario::source::excerpt;
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

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
    /// Request headers; `${…}` is substituted in the values. They replace kubeproof's own
    /// `Accept` and `Content-Type`. A list sends the header once per value, in order
    /// (`Impersonate-Group: [team-a, team-b]`, as `kubectl --as-group` does).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, StringOrList>")]
    pub headers: Headers,
    /// A JSON value (written as YAML) sent as the request body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// The request body as text, sent as written after `${…}` substitution (YAML for an apply
    /// patch, a deliberately malformed document …).
    #[serde(default)]
    pub body_text: Option<String>,
    /// A saved token put into `body` as it is sent (a TokenReview's `spec.token`); the body as
    /// written, and everything shown, never holds it.
    #[serde(default)]
    pub body_token: Option<BodyToken>,
    /// For `method: PATCH`, the kind of patch the body is: `merge` (the default), `json`,
    /// `strategic` or `apply`; it sets the `Content-Type`.
    #[serde(default)]
    #[schemars(with = "Option<PatchType>")]
    pub patch: Option<Parsed<PatchType>>,
    /// Expected HTTP status; any 2xx when left out.
    #[serde(default)]
    pub status: Option<u16>,
    /// Assertions on `{status, headers, body, attempts}`.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    /// Repeat the request (every 250 ms, within the step's timeout) until the status and
    /// assertions hold — for what changes without an object to watch, such as the API server's
    /// 10-second token authentication cache.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

pub(crate) fn get_method() -> Parsed<http::Method> {
    Parsed::new("GET")
}

/// Where a saved token goes in a `call`'s `body`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BodyToken {
    /// A JSON pointer (RFC 6901) to a member of an object in `body`, e.g. `/spec/token`; the
    /// member is added or replaced.
    pub pointer: String,
    /// The saved token's name.
    pub token: String,
}

/// Puts `token` at `pointer` in `body`: the member the pointer's last segment names, in the
/// object the rest of it selects (`~1` stands for `/`, `~0` for `~`).
pub(crate) fn place_token(body: &mut Value, pointer: &str, token: &str) -> Result<(), PlaceError> {
    let Some((parent, member)) = pointer.rsplit_once('/').filter(|_| pointer.starts_with('/')) else {
        return Err(PlaceError::NotAPointer { pointer: pointer.to_string() });
    };
    match body.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.insert(member.replace("~1", "/").replace("~0", "~"), json!(token));
            Ok(())
        }
        _ => Err(PlaceError::NotInObject {
            pointer: pointer.to_string(),
            parent: parent.to_string(),
            selects: match body.pointer(parent) {
                None => "nothing",
                Some(Value::Array(_)) => "an array",
                Some(_) => "a value that is not an object",
            },
        }),
    }
}

/// Why `body-token`'s pointer has no place for the token in `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// Not a JSON pointer: it does not start with `/`.
    NotAPointer { pointer: String },
    /// The object the pointer leads into is none: `parent` selects nothing, an array or a value.
    NotInObject { pointer: String, parent: String, selects: &'static str },
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::NotAPointer { pointer } => {
                write!(f, "`body-token`: pointer `{}` must start with `/` (a JSON pointer, such as `/spec/token`)", excerpt(pointer))
            }
            PlaceError::NotInObject { pointer, parent, selects } => write!(
                f,
                "`body-token`: pointer `{}` does not lead into an object of `body` (`{}` selects {selects})",
                excerpt(pointer),
                if parent.is_empty() { "/" } else { parent },
            ),
        }
    }
}

/// Request headers as written: each name parsed at load, each value substituted when sent.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(Parsed<http::HeaderName>, HeaderValues)>);

/// A header's values: one string, or a list sent as the header repeated.
#[derive(Debug, Clone, Default)]
pub struct HeaderValues {
    pub values: Vec<String>,
    /// Written as a list (even of one): lint refuses a list where a header takes one value.
    pub list: bool,
}

/// A header's value in the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, HeaderValues>::deserialize(d)?;
        Ok(Headers(map.into_iter().map(|(name, values)| (Parsed::new(name), values)).collect()))
    }
}

impl<'de> Deserialize<'de> for HeaderValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = HeaderValues;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a header value: a string, or a list of strings to send the header once per value")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<HeaderValues, E> {
                Ok(HeaderValues { values: vec![s.to_string()], list: false })
            }
            // An unquoted number or boolean is its text, as a plain string value always was.
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<HeaderValues, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<HeaderValues, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<HeaderValues, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<HeaderValues, E> {
                self.visit_str(&b.to_string())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderValues, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(HeaderValues { values, list: true })
            }
        }
        d.deserialize_any(V)
    }
}

/// Headers the API server reads one value of: a list there would be a request it cannot mean.
const ONE_VALUE_HEADERS: &[&str] = &["authorization", "content-type", "impersonate-user", "impersonate-uid"];

impl FromText for http::HeaderName {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        http::HeaderName::from_bytes(text.as_bytes()).map_err(|_| {
            Invalid(format!("header name `{}` is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)", excerpt(text)))
        })
    }
}

/// The kinds of patch the API server accepts, each its own media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum PatchType {
    /// JSON merge patch (RFC 7386), `application/merge-patch+json`.
    Merge,
    /// JSON patch (RFC 6902), a list of operations, `application/json-patch+json`.
    Json,
    /// Strategic merge patch, built-in kinds only, `application/strategic-merge-patch+json`.
    Strategic,
    /// Server-side apply, `application/apply-patch+yaml`; the path needs `?fieldManager=`.
    Apply,
}

impl PatchType {
    const ALL: [(&'static str, PatchType); 4] =
        [("merge", PatchType::Merge), ("json", PatchType::Json), ("strategic", PatchType::Strategic), ("apply", PatchType::Apply)];

    pub fn media_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

impl FromText for PatchType {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        match PatchType::ALL.iter().find(|(name, _)| *name == text) {
            Some((_, patch)) => Ok(*patch),
            None => {
                let names: Vec<&str> = PatchType::ALL.iter().map(|(name, _)| *name).collect();
                Err(Invalid(format!("patch type `{}` is not one of {}", excerpt(text), names.join(", "))))
            }
        }
    }
}

/// A known identity, a defined path, body and header values, a path from the root, a method
/// `call` sends, at most one body, a patch type only for PATCH, headers that HTTP can carry and
/// that do not contradict `as` or `patch` (names, methods and patch types parsed at load).
pub fn lint(s: &CallStep, l: &mut StepLint) {
    l.token(&s.identity, true);
    l.var(&s.path);
    if let Some(body) = &s.body {
        l.json_vars(body);
    }
    if let Some(text) = &s.body_text {
        l.var(text);
    }
    if !s.path.starts_with('/') {
        l.problem(format!("path `{}` must start with `/`", s.path));
    }
    if let Some(problem) = s.method.problem() {
        l.problem(problem);
    }
    if s.body.is_some() && s.body_text.is_some() {
        l.problem("`body` and `body-text` are both given: send one of them");
    }
    if let Some(t) = &s.body_token {
        l.token(&t.token, false);
        match &s.body {
            // The body's shape is as written: `${…}` is substituted in its strings only.
            Some(body) => {
                if let Err(problem) = place_token(&mut body.clone(), &t.pointer, "") {
                    l.problem(problem.to_string());
                }
            }
            None => l.problem("`body-token` puts a token into `body`: give `body` (a JSON value), such as `{kind: TokenReview, spec: {}}`"),
        }
    }
    if let Some(patch) = &s.patch {
        match patch.problem() {
            Some(problem) => l.problem(problem),
            None if s.method.get().is_ok_and(|m| m != http::Method::PATCH) => l.problem(format!(
                "`patch: {patch}` is for `method: PATCH` only (this call's method is {})",
                s.method.as_str().to_uppercase()
            )),
            None => {}
        }
    }
    header_rules(s, l);
}

/// Each header once, with a value HTTP can carry, and none that `as`, `patch` or the HTTP
/// client already sets.
pub(crate) fn header_rules(s: &CallStep, l: &mut StepLint) {
    use http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
    let mut seen = std::collections::BTreeSet::new();
    for (name, values) in &s.headers.0 {
        values.values.iter().for_each(|v| l.var(v));
        let parsed = match name.get() {
            Ok(parsed) => parsed,
            Err(problem) => {
                l.problem(problem.0);
                continue;
            }
        };
        if !seen.insert(parsed.as_str().to_string()) {
            l.problem(format!(
                "header `{name}` is given twice (header names are case-insensitive); to send it with several values, give a list: `{name}: [a, b]`"
            ));
        }
        match values.values.len() {
            0 => l.problem(format!("header `{name}` is an empty list: give at least one value, or leave the header out")),
            n if values.list && ONE_VALUE_HEADERS.contains(&parsed.as_str()) => l.problem(format!(
                "header `{name}` takes one value, not a list{}: the API server reads only one (a list sends the header once per value, for `Impersonate-Group`, `Impersonate-Extra-*` and headers of your own)",
                if n == 1 { String::new() } else { format!(" of {n}") }
            )),
            _ => {}
        }
        if values.values.iter().any(|v| http::HeaderValue::from_bytes(v.as_bytes()).is_err()) {
            l.problem(format!(
                "header `{name}`: the value holds a character a header cannot carry (a newline or another control character)"
            ));
        }
        if *parsed == AUTHORIZATION && s.identity != "anonymous" {
            l.problem(format!(
                "header `{name}` conflicts with `as: {}`, which sends its own credentials; to send an `Authorization` of your own, use `as: anonymous`",
                s.identity
            ));
        }
        if let (true, Some(patch)) = (*parsed == CONTENT_TYPE, &s.patch) {
            l.problem(format!("header `{name}` and `patch: {patch}` both set the content type: keep one"));
        }
        if [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(parsed) {
            l.problem(format!("header `{name}` is set by the HTTP client (from the cluster's address and the body): leave it out"));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_token_goes_into_the_body_at_its_pointer() {
        let mut body = json!({"kind": "TokenReview", "spec": {"audiences": ["vault"]}, "a/b": {}});
        place_token(&mut body, "/spec/token", "t0k").unwrap();
        place_token(&mut body, "/a~1b/x~0y", "t1k").unwrap();
        assert_eq!(body, json!({"kind": "TokenReview", "spec": {"audiences": ["vault"], "token": "t0k"}, "a/b": {"x~y": "t1k"}}));
        place_token(&mut body, "/spec/token", "new").unwrap();
        assert_eq!(body["spec"]["token"], "new", "a member already there is replaced");
        assert!(place_token(&mut body, "spec/token", "t").unwrap_err().to_string().contains("must start with `/`"));
        assert!(place_token(&mut body, "/status/token", "t").unwrap_err().to_string().contains("`/status` selects nothing"));
        assert!(place_token(&mut body, "/spec/audiences/0", "t").unwrap_err().to_string().contains("`/spec/audiences` selects an array"));
        assert!(place_token(&mut json!([1]), "/x", "t").unwrap_err().to_string().contains("`/` selects an array"));
    }

    #[test]
    fn patch_types_and_header_names_parse_at_load() {
        assert_eq!(*Parsed::<PatchType>::new("strategic").get().unwrap(), PatchType::Strategic);
        let bad = Parsed::<PatchType>::new("yaml");
        assert_eq!(bad.problem().unwrap(), "patch type `yaml` is not one of merge, json, strategic, apply");
        assert!(Parsed::<http::HeaderName>::new("X-Trace").get().is_ok());
        assert!(Parsed::<http::HeaderName>::new("X Trace").problem().unwrap().contains("not a valid HTTP header name"));
    }
}
