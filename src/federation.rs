//! Several clusters in one scenario: the clusters it asks for beside its own (`main`), and which
//! of them trusts which — one cluster accepting another's ServiceAccount tokens through that
//! cluster's issuer discovery, as `--authentication-config` configures it. This is what the
//! cluster pool is told (it never sees the scenario); `scenario/clusters.rs` is how it is written.

use serde_json::{Value, json};

use crate::profile::Profile;
use crate::version::KubeVersion;

/// The name of the run's own cluster, in steps' `cluster:` and in `trusts`.
pub const MAIN: &str = "main";

/// A context mapping as the command line and `KUBEPROOF_CONTEXT` take it: `NAME=CONTEXT`, or a
/// plain `CONTEXT` for `main`.
pub fn mapping(given: &str) -> (&str, &str) {
    given.split_once('=').unwrap_or((MAIN, given))
}

/// Every cluster of a scenario, `main` first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Federation {
    pub members: Vec<Member>,
}

/// One cluster of a scenario, as it must be started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// The release, as `--local` takes it; the run's own when `None` (always for `main`).
    pub version: Option<String>,
    pub profile: Profile,
    /// The clusters whose tokens this one accepts.
    pub trusts: Vec<Trust>,
}

/// One JWT authenticator of a trusting cluster: the trusted cluster's issuer, with the claim
/// mappings and validation rules the scenario gives. The issuer's URL, CA and keys are the
/// trusted cluster's own, filled in when it has started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// The trusted cluster's name.
    pub cluster: String,
    /// The `aud` its tokens must carry here.
    pub audiences: Vec<String>,
    /// `claimMappings`, as the AuthenticationConfiguration has it.
    pub claim_mappings: Value,
    pub claim_validation_rules: Vec<Value>,
    pub user_validation_rules: Vec<Value>,
}

impl Federation {
    /// The other clusters' names (not `main`).
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|m| m.name.as_str()).filter(|n| *n != MAIN)
    }

    /// Whether some cluster trusts `name`: its issuer must then be served for discovery.
    pub fn is_trusted(&self, name: &str) -> bool {
        self.members.iter().flat_map(|m| &m.trusts).any(|t| t.cluster == name)
    }
}

/// The first release that takes `--authentication-config` (behind a feature gate until 1.30).
pub const AUTHENTICATION_CONFIG_SINCE: KubeVersion = KubeVersion::new(1, 29, 0);

/// Where a trusted cluster's issuer is served: what a trusting cluster's configuration names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// `https://host:port`: the issuer, and the base of its discovery document.
    pub url: String,
    /// The CA that signed the issuer's serving certificate (PEM).
    pub ca_pem: String,
}

/// Why a cluster's authentication cannot be configured on its release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "trusting another cluster needs --authentication-config, which kube-apiserver has from {AUTHENTICATION_CONFIG_SINCE}; this cluster runs {0}"
)]
pub struct TooOld(pub KubeVersion);

/// The `AuthenticationConfiguration` a cluster of `release` is started with: one JWT
/// authenticator per trusted cluster, in the API version that release reads (v1alpha1 on 1.29,
/// v1beta1 on 1.30–1.33, v1 from 1.34).
pub fn authentication_config(release: KubeVersion, trusted: &[(&Trust, &Issuer)]) -> Result<Value, TooOld> {
    let api_version = match release.minor {
        _ if release < AUTHENTICATION_CONFIG_SINCE => return Err(TooOld(release)),
        29 => "apiserver.config.k8s.io/v1alpha1",
        30..=33 => "apiserver.config.k8s.io/v1beta1",
        _ => "apiserver.config.k8s.io/v1",
    };
    let jwt: Vec<Value> = trusted
        .iter()
        .map(|(trust, issuer)| {
            let mut authenticator = json!({
                "issuer": {"url": issuer.url, "certificateAuthority": issuer.ca_pem, "audiences": trust.audiences},
                "claimMappings": trust.claim_mappings,
            });
            if trust.audiences.len() > 1 {
                // The API refuses several audiences without it.
                authenticator["issuer"]["audienceMatchPolicy"] = json!("MatchAny");
            }
            if !trust.claim_validation_rules.is_empty() {
                authenticator["claimValidationRules"] = json!(trust.claim_validation_rules);
            }
            if !trust.user_validation_rules.is_empty() {
                authenticator["userValidationRules"] = json!(trust.user_validation_rules);
            }
            authenticator
        })
        .collect();
    Ok(json!({"apiVersion": api_version, "kind": "AuthenticationConfiguration", "jwt": jwt}))
}

/// The kube-apiserver flags that read the configuration at `path` on `release`.
pub fn authentication_flags(release: KubeVersion, path: &std::path::Path) -> Vec<String> {
    let mut flags = vec![format!("--authentication-config={}", path.display())];
    if release.minor == 29 {
        // Alpha on 1.29: "set --feature-gates=StructuredAuthenticationConfiguration=true to use
        // authentication-config file". The gate is removed in 1.37, so only here.
        flags.push("--feature-gates=StructuredAuthenticationConfiguration=true".into());
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(audiences: &[&str]) -> Trust {
        Trust {
            cluster: MAIN.into(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            claim_mappings: json!({"username": {"claim": "sub", "prefix": "main:"}}),
            ..Default::default()
        }
    }

    #[test]
    fn the_api_version_follows_the_release() {
        let issuer = Issuer { url: "https://127.0.0.1:6443".into(), ca_pem: "PEM".into() };
        let t = trust(&["b"]);
        let version = |v: &str| authentication_config(v.parse().unwrap(), &[(&t, &issuer)]).map(|c| c["apiVersion"].clone());
        assert_eq!(version("1.28.3"), Err(TooOld("1.28.3".parse().unwrap())));
        assert_eq!(version("1.29.15").unwrap(), "apiserver.config.k8s.io/v1alpha1");
        assert_eq!(version("1.33.1").unwrap(), "apiserver.config.k8s.io/v1beta1");
        assert_eq!(version("1.37.2").unwrap(), "apiserver.config.k8s.io/v1");
        let config = authentication_config("1.37.2".parse().unwrap(), &[(&t, &issuer)]).unwrap();
        assert_eq!(config["jwt"][0]["issuer"], json!({"url": issuer.url, "certificateAuthority": "PEM", "audiences": ["b"]}));
        assert_eq!(config["jwt"][0]["claimMappings"]["username"]["prefix"], "main:");
        assert!(config["jwt"][0].get("claimValidationRules").is_none());
    }

    #[test]
    fn several_audiences_match_any() {
        let issuer = Issuer { url: "https://127.0.0.1:6443".into(), ca_pem: "PEM".into() };
        let t = trust(&["b", "c"]);
        let config = authentication_config("1.30.14".parse().unwrap(), &[(&t, &issuer)]).unwrap();
        assert_eq!(config["jwt"][0]["issuer"]["audienceMatchPolicy"], "MatchAny");
    }

    #[test]
    fn only_1_29_needs_the_gate() {
        let path = std::path::Path::new("/x/authentication-config.json");
        assert_eq!(authentication_flags("1.29.15".parse().unwrap(), path).len(), 2);
        assert_eq!(authentication_flags("1.37.2".parse().unwrap(), path), vec!["--authentication-config=/x/authentication-config.json"]);
    }
}
