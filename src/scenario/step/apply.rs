//! `apply` and `service-account`: server-side apply of any manifest, recorded for cleanup; with
//! `status`, the API server's answer is asserted on, a refusal included.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::manifest;
use crate::scenario::parsed::{HttpStatus, Templated};
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

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
    pub file_text: Option<Result<String, manifest::ManifestError>>,
    /// Expected HTTP status of the apply (one manifest only): 201 created, 200 updated, 422
    /// refused… Left out: any success. With it, the document is `{status, body}`. `${s}` takes
    /// a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on the stored object (`{items: [...]}` for several manifests), or on
    /// `{status, body}` with `status`.
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
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// `service-account`: a ServiceAccount in the scenario's namespace. Written as its name
/// (`service-account: sauser`) or as a mapping with the name and what to expect
/// (`service-account: {name: Bad_Name, status: 422}`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServiceAccountStep {
    /// The ServiceAccount's name.
    pub name: String,
    /// Expected HTTP status of the apply; left out: any success. With it, the document is
    /// `{status, body}`. `${s}` takes a variable's value.
    #[serde(default)]
    pub status: Option<Templated<HttpStatus>>,
    /// Assertions on the stored ServiceAccount, or on `{status, body}` with `status`.
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
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// The two ways to write `service-account`, for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum ServiceAccountForm {
    /// The name only.
    Name(String),
    /// The name and what to expect.
    Long(ServiceAccountStep),
}

/// Reads `service-account` in either form; the long form's errors (unknown keys, wrong types)
/// are its own fields', at their positions.
pub(crate) fn short_or_long<'de, D: Deserializer<'de>>(d: D) -> Result<ServiceAccountStep, D::Error> {
    struct Form;
    impl<'de> serde::de::Visitor<'de> for Form {
        type Value = ServiceAccountStep;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a ServiceAccount name, or a mapping with `name` (and `status`, `expect`, `capture`, `versions`, `timeout`)")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<ServiceAccountStep, E> {
            Err(E::custom("`service-account` is missing its value: expected a string (the ServiceAccount's name) or a mapping with `name`"))
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ServiceAccountStep, E> {
            Ok(ServiceAccountStep { name: name.to_string(), ..Default::default() })
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ServiceAccountStep, A::Error> {
            ServiceAccountStep::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Form)
}

pub(crate) fn several_with_status(count: usize) -> String {
    format!("`status` is the answer to one apply: give one manifest, not {count} (split them into several `apply` steps)")
}

/// `service-account`: its name may use variables; a `status` is an HTTP status.
pub fn lint_service_account(s: &ServiceAccountStep, l: &mut StepLint) {
    l.var(&s.name);
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
}

/// The manifests (inline or from the file read at load) must be readable and their variables
/// defined; `status` is the answer to one apply, so it goes with one manifest.
pub fn lint(s: &ApplyStep, l: &mut StepLint) {
    match manifest::manifests(s, &l.dir()) {
        Ok(docs) => {
            docs.iter().for_each(|d| l.json_vars(d));
            if s.status.is_some() && docs.len() != 1 {
                l.problem(several_with_status(docs.len()));
            }
        }
        Err(e) => l.problem(e.to_string()),
    }
    if let Some(status) = &s.status {
        l.templated(status, |_| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Scenario, Step};

    #[test]
    fn service_account_takes_a_name_or_a_mapping() {
        let text = "description: d\nsteps:\n  - service-account: short\n  - service-account: {name: long, status: 422, versions: '>=1.24', expect: [{path: $.body.reason, equals: Invalid}]}\n";
        let scenario = Scenario::parse(std::path::Path::new("s.yaml"), text).unwrap();
        let [short, long] = [0, 1].map(|i| match &scenario.spec.steps[i].value {
            Step::ServiceAccount(s) => s.clone(),
            other => panic!("{other:?}"),
        });
        assert_eq!((short.name.as_str(), short.status.is_none(), short.expect.len()), ("short", true, 0));
        assert_eq!(long.name, "long");
        assert_eq!(long.status.map(|s| s.to_string()), Some("422".into()));
        assert_eq!(long.expect.len(), 1);
        assert!(scenario.spec.steps[1].value.versions().is_some(), "the long form is version-gated");
        assert!(crate::scenario::lint::lint(&scenario).is_empty());
    }
}
