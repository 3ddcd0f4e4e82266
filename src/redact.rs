//! Tokens never leave kubeproof whole: everything shown or written passes through here first.
//!
//! Two nets, because a shape alone misses encodings and a list alone misses tokens kubeproof
//! never minted:
//! - **by value**: every token kubeproof has seen is remembered for the life of the process and
//!   each of its encodings is replaced wherever it appears — raw, base64 standard and URL-safe,
//!   padded or not, and at each of the three byte alignments base64 can give it inside a larger
//!   encoded text (a whole Secret's `data`, a kubeconfig, a body echoed back);
//! - **by shape**: a JWT, or base64 that decodes to text holding one, the credential after
//!   `Bearer ` and a bootstrap token's secret (`<6>.<16>` characters of `[a-z0-9]`, as in
//!   component logs) are remembered the first time they are seen, then replaced by value like
//!   the rest. A JWT cut short after its header and part of its claims (kubectl `-v=8` cuts
//!   response bodies at 1024 characters) is caught by shape too, and a hex dump (kubectl's
//!   `-v=8` and above print protobuf bodies with Go's `hex.Dump`) is read back into its bytes:
//!   one that holds a token is not shown at all. The `token` of a Secret of type
//!   `kubernetes.io/service-account-token` (and a bootstrap token's secret) is remembered
//!   whatever it looks like, and its value in the document becomes a fingerprint.

use std::sync::{OnceLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The sha256 of a token, hex.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How a token is shown: `sha256:1a2b3c4d5e6f`.
pub fn fingerprint(token: &str) -> String {
    format!("sha256:{}", &sha256_hex(token)[..12])
}

/// What replaces a token in any text.
fn placeholder(token: &str) -> String {
    format!("<token {}>", fingerprint(token))
}

/// Shorter secrets are not remembered: replacing them would mangle ordinary text, and nothing
/// kubeproof handles as a token is that short (a bootstrap token's secret has 16 characters).
const MIN_SECRET_LEN: usize = 16;

/// The secrets seen so far and one automaton over all their encodings.
#[derive(Default)]
struct Known {
    secrets: Vec<String>,
    /// Needle i replaces with the placeholder of `secrets[owner[i]]`.
    owner: Vec<usize>,
    matcher: Option<AhoCorasick>,
}

fn known() -> &'static RwLock<Known> {
    static KNOWN: OnceLock<RwLock<Known>> = OnceLock::new();
    KNOWN.get_or_init(RwLock::default)
}

/// Every form in which `secret` can appear in text kubeproof shows.
fn encodings(secret: &str) -> Vec<String> {
    let raw = secret.as_bytes();
    let mut out = vec![secret.to_string()];
    for (padded, unpadded) in [(&STANDARD, &STANDARD_NO_PAD), (&URL_SAFE, &URL_SAFE_NO_PAD)] {
        out.push(padded.encode(raw));
        // Inside a larger encoded text the secret starts at byte offset 0, 1 or 2 of a 3-byte
        // group: encode it behind that many zero bytes and keep only the characters that
        // depend on the secret alone (not the bytes around it).
        for offset in 0..3 {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(raw);
            let encoded = unpadded.encode(&shifted);
            let skip = [0, 2, 3][offset];
            let partial_tail = usize::from(!((offset + raw.len()) * 8).is_multiple_of(6));
            if let Some(core) = encoded.get(skip..encoded.len() - partial_tail) {
                out.push(core.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Remembers a secret: from now on every encoding of it is redacted, in any text.
pub fn remember(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    if known().read().is_ok_and(|k| k.secrets.iter().any(|s| s == secret)) {
        return;
    }
    let Ok(mut k) = known().write() else { return };
    if k.secrets.iter().any(|s| s == secret) {
        return;
    }
    k.secrets.push(secret.to_string());
    let mut needles = Vec::new();
    let mut owner = Vec::new();
    for (i, s) in k.secrets.iter().enumerate() {
        for e in encodings(s) {
            needles.push(e);
            owner.push(i);
        }
    }
    // Leftmost-longest: a whole padded encoding wins over its own core.
    k.matcher = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&needles).ok();
    k.owner = owner;
}

fn jwt_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Three base64url segments, the first a JSON object (`eyJ` = `{"`).
    RE.get_or_init(|| Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}").expect("regex"))
}

fn cut_jwt_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // A JWT's header and a dot, then at least part of its claims.
    RE.get_or_init(|| Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}").expect("regex"))
}

/// Whether `text` starts with a JWT header: base64url of a JSON object naming an `alg`. Keeps
/// ordinary base64 of JSON (`{"auths":…}`) out of the cut-JWT net.
fn starts_with_jwt_header(text: &str) -> bool {
    let header = text.split('.').next().unwrap_or_default();
    decode_base64(header).is_some_and(|h| h.starts_with(b"{") && String::from_utf8_lossy(&h).contains("\"alg\""))
}

fn hex_dump_line_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Go's hex.Dump: an offset, up to 16 bytes in hex (a gap after 8), the bytes as text in bars.
    RE.get_or_init(|| Regex::new(r"^(\s*)[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2}){1,16}) *\|.*\|$").expect("regex"))
}

fn placeholder_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<token sha256:[0-9a-f]{12}>").expect("regex"))
}

fn base64_run_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Long enough to hold a JWT's header at least.
    RE.get_or_init(|| Regex::new(r"[A-Za-z0-9+/_-]{24,}={0,2}").expect("regex"))
}

fn bearer_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `Authorization: Bearer …` as request dumps and verbose component logs write it.
    RE.get_or_init(|| Regex::new(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{16,})").expect("regex"))
}

fn bootstrap_token_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `<id>.<secret>`: 6 and 16 characters of [a-z0-9]; the secret is the credential.
    RE.get_or_init(|| Regex::new(r"\b[a-z0-9]{6}\.([a-z0-9]{16})\b").expect("regex"))
}

/// Decodes base64 of either alphabet, padded or not; `None` when it is not base64.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let mut body = text.trim_end_matches('=');
    // A run cut inside a quantum still decodes up to there.
    if body.len() % 4 == 1 {
        body = &body[..body.len() - 1];
    }
    let alphabet = if body.contains(['-', '_']) { &base64::alphabet::URL_SAFE } else { &base64::alphabet::STANDARD };
    let lenient =
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(alphabet, lenient).decode(body).ok()
}

/// Remembers every token-shaped thing in `text`: JWTs, bearer credentials, bootstrap tokens
/// (their secret part), and JWTs inside base64 — twice nested at most (a Secret whose data holds a
/// manifest of another Secret).
fn discover(text: &str, depth: usize) {
    for m in jwt_pattern().find_iter(text) {
        remember(m.as_str());
    }
    // A whole JWT's first two segments are followed by its dot: that one is remembered above.
    for m in cut_jwt_pattern().find_iter(text) {
        if !text[m.end()..].starts_with('.') && starts_with_jwt_header(m.as_str()) {
            remember(m.as_str());
        }
    }
    for pattern in [bearer_pattern(), bootstrap_token_pattern()] {
        for c in pattern.captures_iter(text) {
            remember(&c[1]);
        }
    }
    if depth == 0 {
        return;
    }
    for m in base64_run_pattern().find_iter(text) {
        if let Some(decoded) = decode_base64(m.as_str()) {
            discover(&String::from_utf8_lossy(&decoded), depth - 1);
        }
    }
}

/// Replaces every token in a text — known ones in any encoding, new ones by shape — by its
/// fingerprint.
pub fn redact(text: &str) -> String {
    let unhexed = hide_hex_dumps_of_tokens(text);
    let text = unhexed.as_deref().unwrap_or(text);
    discover(text, 2);
    let Ok(k) = known().read() else { return String::from("<redaction failed>") };
    let Some(matcher) = &k.matcher else { return text.to_string() };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in matcher.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        out.push_str(&placeholder(&k.secrets[k.owner[m.pattern().as_usize()]]));
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// The text with every run of hex dump lines whose bytes hold a token replaced by one line
/// saying so; `None` when there is none. The bytes are what counts: a token split across the
/// lines, in hex and in 16-character slices of text, is found whole.
fn hide_hex_dumps_of_tokens(text: &str) -> Option<String> {
    if !text.contains('|') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<&str> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut hidden = false;
    let mut flush = |run: &mut Vec<&str>, bytes: &mut Vec<u8>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        let decoded = String::from_utf8_lossy(bytes);
        let shown = redact(&decoded);
        match placeholder_pattern().find(&shown).map(|m| m.as_str().to_string()) {
            Some(token) => {
                let indent: String = run[0].chars().take_while(|c| c.is_whitespace()).collect();
                out.push_str(&format!("{indent}<hex dump of {} bytes not shown: they hold {token}>\n", bytes.len()));
                hidden = true;
            }
            None => run.iter().for_each(|line| out.push_str(line)),
        }
        run.clear();
        bytes.clear();
    };
    for line in text.split_inclusive('\n') {
        match hex_dump_line_pattern().captures(line.trim_end_matches(['\n', '\r'])) {
            Some(c) => {
                run.push(line);
                bytes.extend(c[2].split_whitespace().filter_map(|pair| u8::from_str_radix(pair, 16).ok()));
            }
            None => {
                flush(&mut run, &mut bytes, &mut out);
                out.push_str(line);
            }
        }
    }
    flush(&mut run, &mut bytes, &mut out);
    hidden.then_some(out)
}

/// Whether a text still holds a token: a JWT's shape, or any encoding of a known secret.
pub fn leaks(text: &str) -> bool {
    jwt_pattern().is_match(text) || known().read().is_ok_and(|k| k.matcher.as_ref().is_some_and(|m| m.is_match(text)))
}

/// Whether a text contains something that looks like a JWT.
pub fn contains_jwt(text: &str) -> bool {
    jwt_pattern().is_match(text)
}

/// Redacts a JSON document in place: Secrets' tokens first, then every string.
pub fn redact_json(value: &mut Value) {
    remember_secret_tokens(value);
    redact_strings(value);
}

/// The data keys that hold a credential, by Secret type.
fn credential_keys(secret_type: &str) -> &'static [&'static str] {
    match secret_type {
        "kubernetes.io/service-account-token" => &["token"],
        "bootstrap.kubernetes.io/token" => &["token-secret"],
        _ => &[],
    }
}

/// Finds Secrets anywhere in the document (lists, watch events, bodies) and remembers their
/// credentials, decoded, so that every encoding of them is redacted from here on.
fn remember_secret_tokens(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let keys = map.get("type").and_then(Value::as_str).map(credential_keys).unwrap_or_default();
            for key in keys {
                for field in ["data", "stringData"] {
                    let Some(v) = map.get(field).and_then(|d| d.get(*key)).and_then(Value::as_str) else { continue };
                    let plain = if field == "data" {
                        decode_base64(v).map(|b| String::from_utf8_lossy(&b).into_owned())
                    } else {
                        Some(v.to_string())
                    };
                    if let Some(plain) = plain {
                        remember(&plain);
                    }
                }
            }
            map.values_mut().for_each(remember_secret_tokens);
        }
        Value::Array(items) => items.iter_mut().for_each(remember_secret_tokens),
        _ => {}
    }
}

fn redact_strings(value: &mut Value) {
    match value {
        Value::String(s) => {
            let redacted = redact(s);
            if redacted != *s {
                *s = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each test uses its own token: the registry is process-wide.
    fn jwt(tag: &str) -> String {
        let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"system:serviceaccount:a:{tag}"}}"#));
        format!("eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.{claims}.c2lnbmF0dXJlLWJ5dGVzLW9mLXNvbWUtbGVuZ3Ro")
    }

    #[test]
    fn raw_tokens_become_fingerprints() {
        let t = jwt("raw");
        let out = redact(&format!("token: {t}\n"));
        assert!(!leaks(&out), "{out}");
        assert!(out.contains(&fingerprint(&t)), "{out}");
        let mut doc = serde_json::json!({"status": {"token": t}, "n": 1});
        redact_json(&mut doc);
        assert!(!doc.to_string().contains(&t));
    }

    #[test]
    fn base64_of_a_token_is_caught_by_shape_alone() {
        let t = jwt("shape");
        for encoded in [STANDARD.encode(&t), URL_SAFE_NO_PAD.encode(&t)] {
            let out = redact(&format!("data:\n  token: {encoded}\n"));
            assert!(!out.contains(&encoded[..40]), "{out}");
            assert!(out.contains(&fingerprint(&t)), "{out}");
        }
    }

    #[test]
    fn a_known_token_is_caught_at_every_alignment_inside_larger_base64() {
        let t = "not-a-jwt-but-a-long-opaque-credential-0123456789";
        remember(t);
        for prefix in ["", "a", "ab", "abc", "apiVersion: v1\nusers:\n- user:\n    token: "] {
            let document = format!("{prefix}{t}\nmore: text that follows\n");
            for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&document);
                let out = redact(&format!("kubeconfig: {encoded}"));
                // No run of the token's own characters longer than a base64 quantum survives.
                let encoded_forms: Vec<String> = encodings(t).into_iter().filter(|e| e != t).collect();
                // Whole encodings and aligned cores; the two alphabets agree on this text's.
                assert!(encoded_forms.len() >= 4, "{encoded_forms:?}");
                assert!(encoded_forms.iter().all(|c| !out.contains(c.as_str())), "{prefix:?}: {out}");
                assert!(out.contains(&fingerprint(t)), "{prefix:?}: {out}");
            }
        }
    }

    #[test]
    fn service_account_token_secrets_lose_their_token_whatever_it_looks_like() {
        let opaque = "opaque-credential-that-is-no-jwt-at-all";
        let mut doc = serde_json::json!({
            "kind": "List",
            "items": [{"kind": "Secret", "type": "kubernetes.io/service-account-token",
                       "data": {"token": STANDARD.encode(opaque), "namespace": STANDARD.encode("default")}}]
        });
        redact_json(&mut doc);
        let text = doc.to_string();
        assert!(!text.contains(&STANDARD.encode(opaque)), "{text}");
        assert!(text.contains(&STANDARD.encode("default")), "other keys stay: {text}");
        assert!(!redact(&format!("echo {opaque}")).contains(opaque));
    }

    #[test]
    fn bearer_credentials_and_bootstrap_tokens_are_caught_by_shape() {
        let opaque = "opaque0bearer1credential2of3a4static5token6file";
        let line = format!("I0101 handler.go:1] GET /api Authorization: Bearer {opaque} 200");
        let out = redact(&line);
        assert!(!out.contains(opaque), "{out}");
        assert!(out.contains(&fingerprint(opaque)) && out.contains("GET /api"), "{out}");
        assert!(!redact(&format!("later, alone: {opaque}")).contains(opaque), "remembered by value from then on");
        let out = redact("kubeadm join --token k9x2ab.0123456789qrstuv");
        assert!(out.contains("--token k9x2ab.<token sha256:") && !out.contains("0123456789qrstuv"), "{out}");
    }

    /// Go's hex.Dump of `bytes`, each line behind a tab, as kubectl's klog output has it.
    fn hex_dump(bytes: &[u8]) -> String {
        let mut out = String::new();
        for (i, chunk) in bytes.chunks(16).enumerate() {
            let mut hex = String::new();
            for (j, b) in chunk.iter().enumerate() {
                hex.push_str(&format!("{b:02x} "));
                if j == 7 {
                    hex.push(' ');
                }
            }
            let text: String = chunk.iter().map(|&b| if (32..127).contains(&b) { b as char } else { '.' }).collect();
            out.push_str(&format!("\t{:08x}  {hex:<49}|{text}|\n", i * 16));
        }
        out
    }

    #[test]
    fn a_jwt_cut_short_by_kubectl_is_caught_by_shape() {
        let t = jwt("cut-by-kubectl");
        // kubectl -v=8 cuts a response body at 1024 characters, inside the token's claims.
        let cut = &t[..t.find('.').unwrap() + 20];
        let line = format!(r#"I0101 request.go:1212] Response Body: {{"status":{{"token":"{cut} [truncated 415 chars]"#);
        let out = redact(&line);
        assert!(!out.contains(&cut[..32]) && out.contains("Response Body") && out.contains("<token sha256:"), "{out}");
        // Base64 of some other JSON is not a JWT: a docker config keeps its data.
        let docker = format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"auths":{"r":{}}}"#), "abcdefgh");
        assert_eq!(redact(&docker), docker);
    }

    #[test]
    fn a_hex_dump_holding_a_token_is_not_shown() {
        let t = jwt("in-a-protobuf-body");
        let mut body = b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest".to_vec();
        body.extend_from_slice(b"\x1a\xa0\x05\n\x8d\x05");
        body.extend_from_slice(t.as_bytes());
        body.extend_from_slice(b"\x12\x08\x08\xcf\xd8\x91\xd8\x06\x10\x00");
        let dump = hex_dump(&body);
        // Neither the hex nor the 16-character slices of text show a piece of it.
        let text = format!("I0101 serviceaccount.go:87] \"Response Body\" body=<\n{dump} >\nI0101 next line\n");
        let out = redact(&text);
        assert!(out.contains(&format!("\t<hex dump of {} bytes not shown: they hold <token sha256:", body.len())), "{out}");
        assert!(
            out.starts_with("I0101 serviceaccount.go:87] \"Response Body\" body=<\n") && out.ends_with(" >\nI0101 next line\n"),
            "{out}"
        );
        let hex_of_token: String = t.as_bytes()[..16].iter().map(|b| format!("{b:02x} ")).collect();
        assert!(!out.contains(&t[..16]) && !out.contains(hex_of_token.trim()) && !out.contains("|eyJ"), "{out}");
        // A dump without a token is left as it is.
        let plain = hex_dump(b"k8s\x00\n\x04\n\x02v1\x12\x03Pod nothing secret in here at all");
        assert_eq!(redact(&plain), plain);
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let text = "GET /api/v1/namespaces/default/pods as sauser → 403: forbidden";
        assert_eq!(redact(text), text);
        remember("short");
        assert_eq!(redact("a short word"), "a short word");
    }

    #[test]
    fn fingerprint_is_a_sha256_prefix() {
        assert_eq!(fingerprint("abc"), "sha256:ba7816bf8f01");
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
