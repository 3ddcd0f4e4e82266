//! Plain-text rendering, for the terminal and for libtest failure messages.

use std::fmt::Write as _;

use super::{Failure, ScenarioReport, StepError, Stopped, Tally, Verdict};
use crate::scenario::assertion::Mismatch;

/// One line per scenario: `PASS  name  [cluster]  (1.2s)`.
pub fn line(r: &ScenarioReport) -> String {
    let tag = match r.verdict {
        Verdict::Passed => "PASS",
        Verdict::Failed => "FAIL",
        Verdict::NotApplicable => "N/A ",
    };
    let mut s = format!("{tag}  {}  [{}]  ({:.1}s)", r.scenario, r.cluster, r.elapsed.as_secs_f64());
    if let Some(o) = &r.observed {
        let _ = write!(s, "  observed: {o}");
    }
    if let Some(reason) = &r.reason {
        let _ = write!(s, "  — {reason}");
    }
    s
}

/// The steps and, for a failure, where and why — what a libtest failure shows.
pub fn details(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} on {} (server {})", r.scenario, r.cluster, r.server_version);
    if let Some(ns) = &r.namespace {
        let _ = writeln!(s, "namespace {ns}");
    }
    for step in &r.steps {
        let mark = if step.skipped { "-" } else { "✓" };
        let _ = writeln!(s, "  {mark} {:>2}. {:<15} line {:<4} {}", step.index + 1, step.keyword, step.line, step.summary);
    }
    if let Some(f) = &r.failure {
        let _ = writeln!(s, "  ✗ {}:", headline(f));
        for line in explain(&f.error).lines() {
            let _ = writeln!(s, "      {line}");
        }
    }
    if let Some(reason) = &r.reason {
        let _ = writeln!(s, "  not applicable: {reason}");
    }
    for what in &r.left {
        let _ = writeln!(s, "  cleanup: {what} (delete it by hand)");
    }
    s
}

/// The closing line, in the form test-result readers look for.
pub fn summary(reports: &[ScenarioReport]) -> String {
    format!("kubeproof: {}", Tally::of(reports))
}

/// Why a run stopped early, and what was left behind.
pub fn stopped(stopped: &Stopped) -> String {
    let mut s = String::new();
    match stopped {
        Stopped::ClusterDied(what) => {
            let _ = writeln!(s, "error: the cluster died: {what}");
        }
        Stopped::Interrupted { signal, left } => {
            let _ = writeln!(s, "kubeproof: stopped by {}", signal.name());
            if left.is_empty() {
                let _ = writeln!(s, "kubeproof: everything the scenarios created was deleted");
            } else {
                let _ = writeln!(s, "kubeproof: cleanup was cut short; delete these by hand:");
                for what in left {
                    let _ = writeln!(s, "  {what}");
                }
            }
        }
    }
    s
}

/// The line after a run that stopped early.
pub fn not_finished(count: usize) -> String {
    format!("kubeproof: {count} scenario(s) did not finish\n")
}

/// Where a failure happened: ``step 3 `call` at file:7:5 failed``.
pub fn headline(f: &Failure) -> String {
    let step = f.step.map(|i| format!("step {} ", i + 1)).unwrap_or_default();
    format!("{step}`{}` at {} failed", f.keyword, f.position)
}

/// What went wrong, in words.
pub fn explain(e: &StepError) -> String {
    match e {
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
        StepError::Undefined { message } | StepError::Other { message } => message.clone(),
        StepError::Capture { name, message } => format!("capture `{name}`: {message}"),
        StepError::Api { code, reason, message } => format!("{message} ({code} {reason})"),
    }
}

/// One mismatch, with a word diff when both sides are long.
fn mismatch(m: &Mismatch) -> String {
    let long = m.expected.len() > 60 && m.observed.len() > 60;
    if !long {
        return format!("{m}");
    }
    let diff = similar::TextDiff::from_words(&m.expected, &m.observed);
    let mut shown = String::new();
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Delete => shown.push_str(&format!("[-{text}-]")),
            similar::ChangeTag::Insert => shown.push_str(&format!("{{+{text}+}}")),
            similar::ChangeTag::Equal => shown.push_str(text),
        }
    }
    format!("{}:\n    expected: {}\n    observed: {}\n    diff:     {shown}", m.path, m.expected, m.observed)
}
