//! Plain-text rendering, for the terminal and for libtest failure messages.

use std::fmt::Write as _;

use super::{Diagnostics, Failure, Phase, ScenarioReport, Stopped, Tally, Verdict};

/// One line per scenario: `PASS  name  [cluster]  (1.2s)`.
pub fn line(r: &ScenarioReport) -> String {
    let tag = match r.verdict {
        Verdict::Passed if r.is_flaky() => "FLAKY",
        Verdict::Passed => "PASS",
        Verdict::Failed => "FAIL",
        Verdict::NotApplicable => "N/A ",
    };
    let mut s = format!("{tag}  {}  [{}]  ({:.1}s)", r.scenario, r.ran_on(), r.elapsed.as_secs_f64());
    if let Some(o) = &r.observed {
        let _ = write!(s, "  observed: {o}");
    }
    if let Some(reason) = &r.reason {
        let _ = write!(s, "  — {reason}");
    }
    let attempts = r.earlier_attempts.len() + 1;
    match r.earlier_attempts.first() {
        Some(first) if r.verdict == Verdict::Passed => {
            let _ = write!(s, "  (passed on attempt {attempts}; first failure: {})", headline(first));
        }
        Some(_) => {
            let _ = write!(s, "  ({attempts} attempts, every one failed)");
        }
        None => {}
    }
    s
}

/// `--repeat N`: each scenario's passes out of its runs, the least reliable first.
pub fn pass_counts(reports: &[ScenarioReport], repeat: u32) -> String {
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for r in reports.iter().filter(|r| r.verdict != Verdict::NotApplicable) {
        let name = format!("{} [{}]", r.scenario, r.ran_on());
        let passed = usize::from(r.verdict == Verdict::Passed && !r.is_flaky());
        match counts.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, p, runs)) => (*p, *runs) = (*p + passed, *runs + 1),
            None => counts.push((name, passed, 1)),
        }
    }
    counts.sort_by(|a, b| (a.1 * b.2).cmp(&(b.1 * a.2)).then(a.0.cmp(&b.0)));
    let mut s = format!("passes in {repeat} runs each (a flaky pass does not count):\n");
    for (name, passed, runs) in counts {
        let _ = writeln!(s, "  {passed:>4}/{runs:<4} {name}");
    }
    s
}

/// The steps and, for a failure, where and why and what the cluster looked like — what a
/// libtest failure shows. `finally` steps are numbered `f1`, `f2` …
pub fn details(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} on {} (server {}{})", r.scenario, r.ran_on(), r.server_version, kubectl_of(r));
    for other in &r.other_clusters {
        let _ = writeln!(s, "  and `{}` on {} (server {})", other.name, other.cluster, other.server_version);
    }
    if let Some(ns) = &r.namespace {
        let _ = writeln!(s, "namespace {ns}");
    }
    // In the order things happened: the steps and their failure, then `finally`'s, then the
    // cleanup's.
    let failures: Vec<&Failure> = r.failure.iter().chain(&r.later_failures).collect();
    for stage in 0..3 {
        for step in r.steps.iter().filter(|step| order(step.phase) == stage) {
            let mark = if step.skipped { "-" } else { "✓" };
            let number = number(step.phase, step.index);
            let line = match &step.file {
                Some(file) => format!("{}:{}", file.display(), step.line),
                None => format!("line {:<4}", step.line),
            };
            let _ = writeln!(s, "  {mark} {number:>2}. {:<15} {line} {}", step.keyword, step.summary);
        }
        for f in failures.iter().filter(|f| order(f.phase) == stage) {
            failure(&mut s, f, r.namespace.as_deref());
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

/// A failure: where, why, and its diagnostics.
fn failure(s: &mut String, f: &Failure, namespace: Option<&str>) {
    let _ = writeln!(s, "  ✗ {}:", headline(f));
    for line in f.error.to_string().lines() {
        let _ = writeln!(s, "      {line}");
    }
    if let Some(d) = &f.diagnostics {
        s.push_str(&diagnostics(d, namespace));
    }
}

/// The closing line, in the form test-result readers look for.
pub fn summary(reports: &[ScenarioReport]) -> String {
    let flaky: Vec<String> = reports.iter().filter(|r| r.is_flaky()).map(|r| format!("{} [{}]", r.scenario, r.ran_on())).collect();
    match flaky.is_empty() {
        true => format!("kubeproof: {}", Tally::of(reports)),
        // The closing line stays the count alone, as CI reads it; the flaky ones before it.
        false => format!("kubeproof: {} flaky (passed on a retry): {}\nkubeproof: {}", flaky.len(), flaky.join(", "), Tally::of(reports)),
    }
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

/// Where a failure happened: ``step 3 `call` at file:7:5 failed``, ``finally step 1 …``.
pub fn headline(f: &Failure) -> String {
    let finally = if f.phase == Phase::Finally { "finally " } else { "" };
    let step = f.step.map(|i| format!("{finally}step {} ", i + 1)).unwrap_or_default();
    let places: Vec<String> = f.included_from.iter().map(|p| p.to_string()).collect();
    let included = match places.is_empty() {
        true => String::new(),
        false => format!(" (included from {})", places.join(", from ")),
    };
    format!("{step}`{}` at {}{included} failed", f.keyword, f.position)
}

/// When a phase runs: the steps (after the cluster and the namespace), `finally`, the cleanup.
fn order(phase: Phase) -> u8 {
    match phase {
        Phase::Cluster | Phase::Setup | Phase::Step => 0,
        Phase::Finally => 1,
        Phase::Cleanup => 2,
    }
}

/// A step's number as people count: `3`, or `f1` for the first `finally` step.
fn number(phase: Phase, index: usize) -> String {
    match phase {
        Phase::Finally => format!("f{}", index + 1),
        Phase::Step | Phase::Cluster | Phase::Setup | Phase::Cleanup => format!("{}", index + 1),
    }
}

/// A failure's diagnostics: the namespace's events one per line, each object the step named as
/// YAML, each component's last log lines, and what could not be collected.
pub fn diagnostics(d: &Diagnostics, namespace: Option<&str>) -> String {
    const IN: &str = "          ";
    let mut s = String::from("      diagnostics:\n");
    let namespace = namespace.unwrap_or("the namespace");
    match d.events.as_deref() {
        // Not read: `problems` says why.
        None => {}
        Some([]) => {
            let _ = writeln!(s, "        events in {namespace}: none");
        }
        Some(events) => {
            let earlier = match d.earlier_events {
                0 => String::new(),
                n => format!(" (the last {}; {n} earlier)", events.len()),
            };
            let _ = writeln!(s, "        events in {namespace}{earlier}:");
            for e in events {
                let count = e.count.map(|n| format!(" (×{n})")).unwrap_or_default();
                let time = e.time.as_deref().map(|t| format!("{t} ")).unwrap_or_default();
                let message = e.message.lines().collect::<Vec<_>>().join(" ");
                let _ = writeln!(s, "{IN}{time}{} {} {}: {message}{count}", e.type_, e.reason, e.object);
            }
        }
    }
    for o in &d.objects {
        match (&o.document, &o.note) {
            (Some(doc), _) => {
                let _ = writeln!(s, "        {}:", o.object);
                let yaml = serde_saphyr::to_string(doc).unwrap_or_else(|e| format!("(cannot show it as YAML: {e})"));
                for line in yaml.lines() {
                    let _ = writeln!(s, "{IN}{line}");
                }
            }
            (None, note) => {
                let _ = writeln!(s, "        {}: {}", o.object, note.as_deref().unwrap_or("not read"));
            }
        }
    }
    for log in &d.logs {
        let last = match log.lines.len() {
            0 => "empty".to_string(),
            1 => "its last line".to_string(),
            n => format!("its last {n} lines"),
        };
        let _ = writeln!(s, "        {} log, {last}:", log.component);
        for line in &log.lines {
            let _ = writeln!(s, "{IN}{line}");
        }
    }
    for problem in &d.problems {
        let _ = writeln!(s, "        not collected: {problem}");
    }
    s
}

/// `, kubectl PATH` when the report says which kubectl its `kubectl` steps ran.
fn kubectl_of(r: &ScenarioReport) -> String {
    match r.kubectl.is_empty() {
        true => String::new(),
        false => format!(", kubectl {}", r.kubectl),
    }
}
