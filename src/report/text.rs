//! Plain-text rendering, for the terminal and for libtest failure messages.

use std::fmt::Write as _;

use super::{ScenarioReport, Stopped, Tally, Verdict};

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
        let step = f.step.map(|i| format!("step {} ", i + 1)).unwrap_or_default();
        let _ = writeln!(s, "  ✗ {step}`{}` at {} failed:", f.keyword, f.location);
        for line in f.message.lines() {
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

/// Why a run stopped early, what did not run, and what was left behind.
pub fn stopped(stopped: &Stopped, not_run: usize) -> String {
    let mut s = String::new();
    match stopped {
        Stopped::ClusterDied(what) => {
            let _ = writeln!(s, "error: the cluster died: {what}");
            let _ = writeln!(s, "kubeproof: stopped; {not_run} scenario(s) did not finish");
        }
        Stopped::Interrupted { signal, left } => {
            let _ = writeln!(s, "kubeproof: stopped by {}; {not_run} scenario(s) did not finish", signal.name());
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
