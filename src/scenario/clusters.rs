//! `clusters`: the clusters a scenario runs on beside its own (named `main`), each with its
//! release, flags and node, and the clusters whose ServiceAccount tokens it trusts. A step says
//! which cluster it runs on with `cluster:`; the default is `main`.
//!
//! ```yaml
//! clusters:
//!   b:
//!     trusts:
//!       - cluster: main
//!         audiences: [b]
//!         claim-mappings: {username: {claim: sub, prefix: "main:"}}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;

use super::{Diagnostic, Requires, Scenario, SourcePos};
use crate::federation::{AUTHENTICATION_CONFIG_SINCE, Federation, MAIN, Member, Trust};

/// The clusters a scenario declares beside `main`, by name.
pub type Clusters = BTreeMap<String, Spanned<ClusterSpec>>;

/// One cluster of the scenario.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClusterSpec {
    /// Its release, as `--local` takes it (`1.30`, `1.30.14`, `latest`); the run's own when left
    /// out. Not for `main`, which is the run's cluster.
    #[serde(default)]
    pub version: Option<String>,
    /// Its flags and nodes, as the scenario's own `requires`. Not for `main` (the scenario's
    /// `requires` are main's).
    #[serde(default)]
    pub requires: Option<Requires>,
    /// Clusters whose ServiceAccount tokens this one accepts (kube-apiserver
    /// `--authentication-config`, 1.29 and later).
    #[serde(default)]
    #[schemars(with = "Vec<TrustSpec>")]
    pub trusts: Vec<Spanned<TrustSpec>>,
}

/// One trusted cluster: a JWT authenticator for its issuer. The issuer's URL and CA are filled
/// in when the clusters start; the rest is the AuthenticationConfiguration's, as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrustSpec {
    /// The trusted cluster: `main` or a name under `clusters`.
    pub cluster: String,
    /// The audiences its tokens must carry here; this cluster's name when left out.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// `claimMappings` (username, groups, uid, extra); `{username: {claim: sub, prefix:
    /// "<cluster>:"}}` when left out.
    #[serde(default)]
    pub claim_mappings: Option<Value>,
    /// `claimValidationRules`: `{claim, requiredValue}` or `{expression, message}` (CEL).
    #[serde(default)]
    pub claim_validation_rules: Vec<Value>,
    /// `userValidationRules`: `{expression, message}` (CEL) on the mapped user.
    #[serde(default)]
    pub user_validation_rules: Vec<Value>,
}

/// Every cluster of `scenario`, `main` first, as the pool starts them; `None` for a scenario on
/// one cluster.
pub fn federation(scenario: &Scenario) -> Option<Federation> {
    let clusters = &scenario.spec.clusters;
    if clusters.is_empty() {
        return None;
    }
    let trusts = |name: &str, spec: Option<&ClusterSpec>| -> Vec<Trust> {
        spec.into_iter().flat_map(|s| &s.trusts).map(|t| trust(name, &t.value)).collect()
    };
    let main = Member {
        name: MAIN.into(),
        version: None,
        profile: scenario.spec.requires.profile(),
        trusts: trusts(MAIN, clusters.get(MAIN).map(|s| &s.value)),
    };
    let others = clusters.iter().filter(|(name, _)| *name != MAIN).map(|(name, spec)| Member {
        name: name.clone(),
        version: spec.value.version.clone(),
        profile: spec.value.requires.as_ref().map(Requires::profile).unwrap_or_default(),
        trusts: trusts(name, Some(&spec.value)),
    });
    Some(Federation { members: std::iter::once(main).chain(others).collect() })
}

/// A trust as the pool takes it, its defaults filled in.
fn trust(truster: &str, spec: &TrustSpec) -> Trust {
    let audiences = if spec.audiences.is_empty() { vec![truster.to_string()] } else { spec.audiences.clone() };
    let prefix = format!("{}:", spec.cluster);
    Trust {
        cluster: spec.cluster.clone(),
        audiences,
        claim_mappings: spec.claim_mappings.clone().unwrap_or_else(|| json!({"username": {"claim": "sub", "prefix": prefix}})),
        claim_validation_rules: spec.claim_validation_rules.clone(),
        user_validation_rules: spec.user_validation_rules.clone(),
    }
}

/// The names a step's `cluster:` may take: `main` and the declared ones.
pub fn names(scenario: &Scenario) -> BTreeSet<&str> {
    std::iter::once(MAIN).chain(scenario.spec.clusters.keys().map(String::as_str)).collect()
}

/// What is wrong in `clusters`, each at its cluster or trust: a name that is not a DNS label,
/// `version` or `requires` on `main`, a release that is not one, flags that do not start with
/// `--`, a trust of itself or of an undeclared cluster, and trust on a cluster
/// whose release is older than `--authentication-config`.
pub fn problems(scenario: &Scenario) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let known = names(scenario);
    let at = |loc: &serde_saphyr::Location| scenario.pos_of(loc);
    for (name, spec) in &scenario.spec.clusters {
        let pos = at(&spec.referenced);
        let mut problem = |pos: SourcePos, message: String| out.push(Diagnostic { pos, message: format!("clusters: {message}") });
        if !is_dns_label(name) {
            problem(pos.clone(), format!("`{name}` is not a cluster name: lowercase letters, digits and `-`, at most 20 characters"));
        }
        if name == MAIN && (spec.value.version.is_some() || spec.value.requires.is_some()) {
            problem(
                pos.clone(),
                "`main` is the run's own cluster: its release is the run's and its flags the scenario's `requires`; give it only `trusts`"
                    .into(),
            );
        }
        if let Some(version) = &spec.value.version {
            use crate::version::{KubeVersion, ReleaseName};
            let release = match version.parse::<ReleaseName>() {
                // Resolved when the clusters start, as `--local` is.
                _ if version == "latest" || version == "next" => None,
                Err(_) => {
                    problem(
                        pos.clone(),
                        format!("`{name}`: `{version}` is not a release (valid: latest, next, 1.30, 1.30.14, 1.38.0-beta.0)"),
                    );
                    None
                }
                Ok(ReleaseName::Exact(v)) => Some(v),
                Ok(ReleaseName::Minor { major, minor }) => Some(KubeVersion::new(major, minor, 0)),
            };
            if let Some(v) = release.filter(|v| *v < AUTHENTICATION_CONFIG_SINCE && !spec.value.trusts.is_empty()) {
                problem(pos.clone(), format!("`{name}` runs {version}: {}", crate::federation::TooOld(v)));
            }
        }
        for (component, flags) in spec.value.requires.iter().flat_map(|r| r.profile().components().map(|(c, f)| (c, f.to_vec()))) {
            for flag in flags.iter().filter(|f| !f.starts_with("--")) {
                problem(pos.clone(), format!("`{name}`: {} flag `{flag}` must start with `--`", component.binary()));
            }
        }
        for t in &spec.value.trusts {
            let trusted = &t.value.cluster;
            if trusted == name {
                problem(at(&t.referenced), format!("`{name}` trusts itself: a cluster accepts its own tokens without it"));
            } else if !known.contains(trusted.as_str()) {
                let valid = known.iter().copied().collect::<Vec<_>>().join(", ");
                problem(at(&t.referenced), format!("`{name}` trusts `{trusted}`, which is not a cluster of the scenario (valid: {valid})"));
            }
        }
    }
    out
}

/// A short DNS label: cluster names become parts of local cluster names and report labels.
fn is_dns_label(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        Scenario::parse(std::path::Path::new("s.yaml"), text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn messages(text: &str) -> Vec<String> {
        match Scenario::parse(std::path::Path::new("s.yaml"), text) {
            Ok(s) => problems(&s).into_iter().map(|d| format!("{}:{} {}", d.pos.line, d.pos.column, d.message)).collect(),
            Err(ds) => ds.into_iter().map(|d| format!("{}:{} {}", d.pos.line, d.pos.column, d.message)).collect(),
        }
    }

    #[test]
    fn defaults_fill_audience_and_username_prefix() {
        let s = parse("description: d\nclusters:\n  b:\n    trusts: [{cluster: main}]\nsteps:\n  - service-account: sa\n");
        let f = federation(&s).unwrap();
        assert_eq!(f.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["main", "b"]);
        let t = &f.members[1].trusts[0];
        assert_eq!(t.audiences, ["b"]);
        assert_eq!(t.claim_mappings, json!({"username": {"claim": "sub", "prefix": "main:"}}));
        assert!(f.is_trusted(MAIN) && !f.is_trusted("b"));
        assert!(federation(&parse("description: d\nsteps:\n  - service-account: sa\n")).is_none());
    }

    #[test]
    fn bad_clusters_are_located() {
        let found = messages(
            "description: d\nclusters:\n  b:\n    trusts:\n      - cluster: b\n      - cluster: nowhere\n  c:\n    version: 1.28\n    trusts: [{cluster: main}]\n  main:\n    version: 1.30\nsteps:\n  - service-account: sa\n",
        );
        let joined = found.join("\n");
        assert!(joined.contains("5:9 clusters: `b` trusts itself"), "{joined}");
        assert!(
            joined.contains("6:9 clusters: `b` trusts `nowhere`, which is not a cluster of the scenario (valid: b, c, main)"),
            "{joined}"
        );
        assert!(joined.contains("clusters: `c` runs 1.28: trusting another cluster needs --authentication-config"), "{joined}");
        assert!(joined.contains("clusters: `main` is the run's own cluster"), "{joined}");
    }

    #[test]
    fn clusters_may_trust_each_other() {
        // They boot side by side: each one's issuer is known before either boots.
        let found = messages(
            "description: d\nclusters:\n  b:\n    trusts: [{cluster: c}]\n  c:\n    trusts: [{cluster: b}]\nsteps:\n  - service-account: sa\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn names_are_short_dns_labels() {
        assert!(is_dns_label("b") && is_dns_label("east-1"));
        for bad in ["", "B", "1a", "a_b", "a-", "a-very-long-cluster-name"] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
