//! Why a step failed, as data. The engine says what went wrong; reporters (text, JSON, JUnit,
//! CI annotations) decide how to show it.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::redact;
use crate::scenario::assertion::Mismatch;

/// What went wrong in a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepError {
    /// Assertions that did not hold, and the step's one-line summary of what it saw.
    Mismatch { mismatches: Vec<Mismatch>, summary: String },
    /// The step's time limit passed while it waited for something; the last thing it saw.
    Timeout {
        after_ms: u64,
        waiting_for: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<String>,
    },
    /// A `${name}` or a saved token that does not exist at run time.
    Undefined { message: String },
    /// A capture that selected nothing, or several values.
    Capture { name: String, message: String },
    /// The API server refused a request the step needed to make (not one it asserts on).
    Api { code: u16, reason: String, message: String },
    /// A value of the step that cannot be used: one that does not parse (lint says so before a
    /// run), or a template whose rendered text does not.
    Invalid { message: String },
    /// The cluster serves no such kind (a CRD not installed, a kind misspelt).
    Unserved { message: String },
    /// Anything else: a client that cannot start, an unreadable response, a program that cannot run.
    Other { message: String },
}

impl StepError {
    pub fn other(message: impl Into<String>) -> StepError {
        StepError::Other { message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> StepError {
        StepError::Invalid { message: message.into() }
    }

    /// An error from the Kubernetes client, with the API server's Status when there is one.
    pub fn kube(context: &str, e: kube::Error) -> StepError {
        match e {
            kube::Error::Api(status) => {
                StepError::Api { code: status.code, reason: status.reason.clone(), message: format!("{context}: {}", status.message) }
            }
            other => StepError::other(format!("{context}: {}", crate::cluster::describe_error(&other))),
        }
    }

    /// The same error with every string passed through redaction.
    pub fn redacted(self) -> StepError {
        let r = |s: String| redact::redact(&s);
        match self {
            StepError::Mismatch { mismatches, summary } => StepError::Mismatch {
                mismatches: mismatches
                    .into_iter()
                    .map(|m| Mismatch { path: r(m.path), expected: r(m.expected), observed: r(m.observed), position: m.position })
                    .collect(),
                summary: r(summary),
            },
            StepError::Timeout { after_ms, waiting_for, last_seen } => {
                StepError::Timeout { after_ms, waiting_for: r(waiting_for), last_seen: last_seen.map(r) }
            }
            StepError::Undefined { message } => StepError::Undefined { message: r(message) },
            StepError::Invalid { message } => StepError::Invalid { message: r(message) },
            StepError::Unserved { message } => StepError::Unserved { message: r(message) },
            StepError::Capture { name, message } => StepError::Capture { name, message: r(message) },
            StepError::Api { code, reason, message } => StepError::Api { code, reason, message: r(message) },
            StepError::Other { message } => StepError::Other { message: r(message) },
        }
    }
}

/// What went wrong, in words: every mismatch (with a word diff when both sides are long), the
/// summary; what a timed-out step was waiting for and last saw.
impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&match self {
            StepError::Mismatch { mismatches, summary } => {
                let lines: Vec<String> = mismatches.iter().map(mismatch).collect();
                format!("{}\n  {summary}", lines.join("\n"))
            }
            StepError::Timeout { after_ms, waiting_for, last_seen } => {
                let mut s = format!("timed out after {}s while {waiting_for}", *after_ms as f64 / 1000.0);
                if let Some(last) = last_seen.as_deref().filter(|l| !l.is_empty()) {
                    let _ = write!(s, "\n  last seen: {last}");
                }
                s
            }
            StepError::Undefined { message }
            | StepError::Invalid { message }
            | StepError::Unserved { message }
            | StepError::Other { message } => message.clone(),
            StepError::Capture { name, message } => format!("capture `{name}`: {message}"),
            StepError::Api { code, reason, message } => format!("{message} ({code} {reason})"),
        })
    }
}

/// One mismatch, with a word diff when both sides are long values (`equals`: a diff against
/// "something not containing …" says nothing).
fn mismatch(m: &Mismatch) -> String {
    let long = m.expected.len() > 60 && m.observed.len() > 60;
    if !long || serde_json::from_str::<serde_json::Value>(&m.expected).is_err() {
        return format!("{m}");
    }
    // The values as shown: cut, saying so (the JSON report keeps them whole).
    let (expected, observed) = m.shown();
    let diff = similar::TextDiff::from_words(&expected, &observed);
    let mut shown = String::new();
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Delete => shown.push_str(&format!("[-{text}-]")),
            similar::ChangeTag::Insert => shown.push_str(&format!("{{+{text}+}}")),
            similar::ChangeTag::Equal => shown.push_str(text),
        }
    }
    format!("{}:\n    expected: {expected}\n    observed: {observed}\n    diff:     {shown}", m.path)
}

/// A `${name}` that names no variable.
impl From<crate::scenario::template::TemplateError> for StepError {
    fn from(e: crate::scenario::template::TemplateError) -> StepError {
        StepError::Undefined { message: e.to_string() }
    }
}

/// A value of the step that does not parse.
impl From<crate::scenario::parsed::Invalid> for StepError {
    fn from(invalid: crate::scenario::parsed::Invalid) -> StepError {
        StepError::Invalid { message: invalid.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_diff_only_between_two_long_values() {
        let long = "a value long enough to be diffed word by word, which is over sixty characters";
        let values = Mismatch::new("$.a", serde_json::json!(long).to_string(), serde_json::json!(format!("{long}!")).to_string());
        assert!(mismatch(&values).contains("diff:"), "{}", mismatch(&values));
        let negation = Mismatch::new("$.a", format!("something not containing {:?}", long), serde_json::json!(long).to_string());
        assert!(!mismatch(&negation).contains("diff:"), "{}", mismatch(&negation));
    }
}
