//! Tokens never leave kubeproof whole: everything shown passes through here first.

use std::sync::OnceLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// The sha256 of a token, hex.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How a token is shown: `sha256:1a2b3c4d5e6f`.
pub fn fingerprint(token: &str) -> String {
    format!("sha256:{}", &sha256_hex(token)[..12])
}

fn jwt_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Three base64url segments, the first a JSON object (`eyJ` = `{"`).
    RE.get_or_init(|| Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}").expect("regex"))
}

/// Replaces every JWT in a text by its fingerprint.
pub fn redact(text: &str) -> String {
    jwt_pattern().replace_all(text, |c: &regex::Captures| format!("<token {}>", fingerprint(&c[0]))).into_owned()
}

/// Whether a text contains something that looks like a JWT.
pub fn contains_jwt(text: &str) -> bool {
    jwt_pattern().is_match(text)
}

/// Redacts every string inside a JSON value.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if contains_jwt(s) {
                *s = redact(s);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIn0.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn tokens_become_fingerprints() {
        let text = format!("token: {JWT}\n");
        let out = redact(&text);
        assert!(!contains_jwt(&out), "{out}");
        assert!(out.contains(&fingerprint(JWT)));
        let mut doc = serde_json::json!({"status": {"token": JWT}, "n": 1});
        redact_json(&mut doc);
        assert!(!contains_jwt(&doc.to_string()));
    }

    #[test]
    fn fingerprint_is_a_sha256_prefix() {
        assert_eq!(fingerprint("abc"), "sha256:ba7816bf8f01");
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
