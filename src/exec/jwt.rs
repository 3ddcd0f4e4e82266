//! `jwt`: a token's header and claims, its signature checked against the cluster's JWKS.

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::StepError;
use super::{Run, StepOutput};
use crate::redact;

use crate::scenario::step::jwt::*;
pub async fn jwt(run: &mut Run<'_>, s: &JwtStep) -> Result<StepOutput, StepError> {
    let token = run.token(&s.token)?.to_string();
    let (header, claims) = decode_parts(&token).map_err(|e| StepError::invalid(format!("token `{}` is not a JWT: {e}", s.token)))?;
    let iat = claims.get("iat").and_then(Value::as_i64);
    let since_iat = |claim: Option<&Value>| match (claim.and_then(Value::as_i64), iat) {
        (Some(t), Some(iat)) => json!(t - iat),
        _ => Value::Null,
    };
    let lifetime = since_iat(claims.get("exp"));
    let warn_after = since_iat(claims.pointer("/kubernetes.io/warnafter"));
    let age = since_iat(Some(&json!(crate::clock::unix_now())));
    let mut verified = Value::Null;
    if s.verify {
        verify(run, &token, &header).await.map_err(|e| StepError::other(e.to_string()))?;
        verified = json!(true);
    }
    let summary = format!(
        "token `{}` {}: iss {}, sub {}, lifetime {}",
        s.token,
        redact::fingerprint(&token),
        claims.get("iss").unwrap_or(&Value::Null),
        claims.get("sub").unwrap_or(&Value::Null),
        if lifetime.is_null() { "none (no exp)".to_string() } else { format!("{lifetime}s") }
    );
    let doc = json!({"header": header, "claims": claims, "lifetime": lifetime, "warn_after": warn_after, "age": age,
        "verified": verified, "sha256": redact::sha256_hex(&token)});
    Ok(StepOutput::new(doc, summary))
}

fn decode_parts(token: &str) -> Result<(Value, Value), JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Segments(parts.len()));
    }
    let decode = |seg: &str, part: &'static str| -> Result<Value, JwtError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg.trim_end_matches('='))
            .map_err(|error| JwtError::NotBase64 { part, error })?;
        serde_json::from_slice(&bytes).map_err(|error| JwtError::NotJson { part, error })
    };
    Ok((decode(parts[0], "header")?, decode(parts[1], "payload")?))
}

/// Checks the RS256 signature with the key the cluster publishes under the token's `kid`.
async fn verify(run: &Run<'_>, token: &str, header: &Value) -> Result<(), JwtError> {
    let answer = super::request::admin(run.cluster, http::Method::GET, "/openid/v1/jwks", None).await.map_err(JwtError::Request)?;
    let (status, jwks) = (answer.status, answer.body);
    if status != 200 {
        return Err(JwtError::JwksStatus(status));
    }
    let set: JwkSet = serde_json::from_value(jwks).map_err(JwtError::Jwks)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let jwk = match kid {
        Some(kid) => set.find(kid).ok_or_else(|| JwtError::NoKey(kid.to_string()))?,
        None => set.keys.first().ok_or(JwtError::EmptyJwks)?,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(JwtError::Key)?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Claims are the scenario's to assert; here only the signature is checked.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|_| ()).map_err(JwtError::Signature)
}

/// Why a token could not be read as a JWT, or its signature not be checked.
#[derive(Debug)]
pub enum JwtError {
    /// Not three dot-separated segments: how many there are.
    Segments(usize),
    /// The header or the payload is not base64url.
    NotBase64 { part: &'static str, error: base64::DecodeError },
    /// The header or the payload is not JSON.
    NotJson { part: &'static str, error: serde_json::Error },
    /// The JWKS could not be fetched.
    Request(StepError),
    /// The JWKS was refused: the status.
    JwksStatus(u16),
    /// The JWKS is not one.
    Jwks(serde_json::Error),
    /// No key has the token's `kid`.
    NoKey(String),
    /// The token has no `kid` and the JWKS no key.
    EmptyJwks,
    /// The key is not one `jsonwebtoken` can use.
    Key(jsonwebtoken::errors::Error),
    /// The signature does not verify.
    Signature(jsonwebtoken::errors::Error),
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Segments(n) => write!(f, "{n} segments instead of 3"),
            JwtError::NotBase64 { part, error } => write!(f, "the {part} is not base64url: {error}"),
            JwtError::NotJson { part, error } => write!(f, "the {part} is not JSON: {error}"),
            JwtError::Request(e) => e.fmt(f),
            JwtError::JwksStatus(status) => write!(f, "GET /openid/v1/jwks → {status}"),
            JwtError::Jwks(e) => write!(f, "the cluster's JWKS: {e}"),
            JwtError::NoKey(kid) => write!(f, "no key with kid {kid} in /openid/v1/jwks"),
            JwtError::EmptyJwks => f.write_str("the cluster's JWKS is empty"),
            JwtError::Key(e) => write!(f, "JWKS key: {e}"),
            JwtError::Signature(e) => write!(f, "the signature does not verify against /openid/v1/jwks: {e}"),
        }
    }
}

pub(crate) fn describe(_: &JwtStep) -> String {
    "verifying a token against /openid/v1/jwks".into()
}
