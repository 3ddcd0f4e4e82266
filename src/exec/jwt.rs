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
        verify(run, &token, &header).await.map_err(StepError::other)?;
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

fn decode_parts(token: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("{} segments instead of 3", parts.len()));
    }
    let decode = |seg: &str, what: &str| -> Result<Value, String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg.trim_end_matches('='))
            .map_err(|e| format!("the {what} is not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("the {what} is not JSON: {e}"))
    };
    Ok((decode(parts[0], "header")?, decode(parts[1], "payload")?))
}

/// Checks the RS256 signature with the key the cluster publishes under the token's `kid`.
async fn verify(run: &Run<'_>, token: &str, header: &Value) -> Result<(), String> {
    let answer = super::request::admin(run.cluster, http::Method::GET, "/openid/v1/jwks", None).await.map_err(|e| e.to_string())?;
    let (status, jwks) = (answer.status, answer.body);
    if status != 200 {
        return Err(format!("GET /openid/v1/jwks → {status}"));
    }
    let set: JwkSet = serde_json::from_value(jwks).map_err(|e| format!("the cluster's JWKS: {e}"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let jwk = match kid {
        Some(kid) => set.find(kid).ok_or_else(|| format!("no key with kid {kid} in /openid/v1/jwks"))?,
        None => set.keys.first().ok_or("the cluster's JWKS is empty")?,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Claims are the scenario's to assert; here only the signature is checked.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|_| ())
        .map_err(|e| format!("the signature does not verify against /openid/v1/jwks: {e}"))
}

pub(crate) fn describe(_: &JwtStep) -> String {
    "verifying a token against /openid/v1/jwks".into()
}
