//! JUnit XML, the report CI servers read: a `testsuite` per cluster, a `testcase` per scenario,
//! a `failure` with the step, its position and the message, the step log as `system-out`.

use std::fmt::Write as _;

use super::{ScenarioReport, Stopped, Tally, Verdict, text};

/// The whole document for these reports, grouped by cluster in the order they first appear.
pub fn document(reports: &[ScenarioReport], stopped: Option<&Stopped>) -> String {
    let mut clusters: Vec<&str> = Vec::new();
    for r in reports {
        if !clusters.contains(&r.cluster.as_str()) {
            clusters.push(&r.cluster);
        }
    }
    let t = Tally::of(reports);
    // Times are summed as durations: a sum of no f64s is -0.0, which prints as "-0.000".
    // The root's totals include the run's own error when it stopped early; the schema Jenkins
    // validates with has no `skipped` here (each testsuite carries its own).
    let stop = usize::from(stopped.is_some());
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"kubeproof\" tests=\"{}\" failures=\"{}\" errors=\"{stop}\" time=\"{:.3}\">",
        reports.len() + stop,
        t.failed,
        reports.iter().map(|r| r.elapsed).sum::<std::time::Duration>().as_secs_f64()
    );
    for cluster in clusters {
        let mine: Vec<&ScenarioReport> = reports.iter().filter(|r| r.cluster == cluster).collect();
        let failed = mine.iter().filter(|r| r.verdict == Verdict::Failed).count();
        let skipped = mine.iter().filter(|r| r.verdict == Verdict::NotApplicable).count();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(cluster),
            mine.len(),
            mine.iter().map(|r| r.elapsed).sum::<std::time::Duration>().as_secs_f64()
        );
        for r in mine {
            testcase(&mut x, r);
        }
        x.push_str("  </testsuite>\n");
    }
    if let Some(stopped) = stopped {
        // A run cut short is an error of its own, so that CI does not read a partial run as green.
        x.push_str("  <testsuite name=\"kubeproof\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n");
        let _ = writeln!(
            x,
            "    <testcase name=\"run\" classname=\"kubeproof\"><error message=\"the run stopped early\">{}</error></testcase>",
            escape(&text::stopped(stopped))
        );
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn testcase(x: &mut String, r: &ScenarioReport) {
    // No `file` attribute: the schema Jenkins validates with refuses it on a testcase; the
    // failure's message and the step log name the file and line.
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\">",
        escape(&match r.path.is_empty() {
            true => r.scenario.clone(),
            false => format!("{} ({})", r.scenario, r.ran_on()),
        }),
        escape(&r.cluster),
        r.elapsed.as_secs_f64()
    );
    match (&r.verdict, &r.failure) {
        (Verdict::Failed, Some(f)) => {
            let _ = write!(
                x,
                "\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(&text::headline(f)),
                escape(&f.keyword),
                escape(&f.error.to_string())
            );
        }
        (Verdict::NotApplicable, _) => {
            let _ = write!(x, "\n      <skipped message=\"{}\"/>", escape(r.reason.as_deref().unwrap_or("not applicable")));
        }
        _ => {}
    }
    // Each earlier failed attempt (`--retries`), as nextest writes a flaky test's: inside the
    // testcase of its last attempt, a `flakyFailure` when it passed, a `rerunFailure` when not.
    let rerun = if r.verdict == Verdict::Passed { "flakyFailure" } else { "rerunFailure" };
    for f in &r.earlier_attempts {
        let _ = write!(
            x,
            "\n      <{rerun} message=\"{}\" type=\"{}\">{}</{rerun}>",
            escape(&text::headline(f)),
            escape(&f.keyword),
            escape(&f.error.to_string())
        );
    }
    let _ = write!(x, "\n      <system-out>{}</system-out>\n    </testcase>\n", escape(&text::details(r)));
}

/// XML text and attribute escaping; characters XML 1.0 cannot carry at all are dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::report::{Failure, Phase, Position, StepError, StepRecord};

    fn report(name: &str, verdict: Verdict) -> ScenarioReport {
        ScenarioReport {
            scenario: name.into(),
            file: PathBuf::from(format!("scenarios/{name}.yaml")),
            cluster: "v1.37.2".into(),
            server_version: "v1.37.2".into(),
            kubectl: String::new(),
            failure: (verdict == Verdict::Failed).then(|| Failure {
                phase: Phase::Step,
                step: Some(1),
                position: Position { file: format!("scenarios/{name}.yaml").into(), line: Some(7), column: Some(5) },
                keyword: "call".into(),
                error: StepError::other("$.status: expected 403, observed 200 <&\u{1}>"),
                diagnostics: None,
                included_from: Vec::new(),
            }),
            later_failures: Vec::new(),
            earlier_attempts: Vec::new(),
            path: Vec::new(),
            other_clusters: Vec::new(),
            reason: (verdict == Verdict::NotApplicable).then(|| "applies to <1.24".into()),
            verdict,
            steps: vec![StepRecord {
                phase: Phase::Step,
                index: 0,
                line: 5,
                file: None,
                keyword: "service-account".into(),
                summary: "ServiceAccount sa created".into(),
                skipped: false,
                elapsed: Duration::from_millis(12),
            }],
            observed: None,
            namespace: Some("kp-x-abcdefgh".into()),
            left: Vec::new(),
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn one_testcase_per_scenario_with_failures_and_skips() {
        let reports = [report("passes", Verdict::Passed), report("fails", Verdict::Failed), report("old", Verdict::NotApplicable)];
        let xml = document(&reports, None);
        assert!(xml.contains("<testsuites name=\"kubeproof\" tests=\"3\" failures=\"1\" errors=\"0\""), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert!(xml.contains("<failure message=\"step 2 `call` at scenarios/fails.yaml:7:5 failed\" type=\"call\">"), "{xml}");
        assert!(xml.contains("observed 200 &lt;&amp;&gt;</failure>"), "escaped, control characters dropped: {xml}");
        assert!(xml.contains("<skipped message=\"applies to &lt;1.24\"/>"), "{xml}");
        assert!(!xml.contains('\u{1}'));
    }

    #[test]
    fn an_upgrade_scenario_is_named_with_its_path() {
        let mut upgraded = report("up", Verdict::Passed);
        upgraded.path = vec!["1.23.17".into(), "1.24.0".into()];
        let x = document(&[upgraded, report("plain", Verdict::Passed)], None);
        assert!(x.contains("<testcase name=\"up (1.23.17 → 1.24.0)\""), "{x}");
        assert!(x.contains("<testcase name=\"plain\""), "{x}");
    }

    #[test]
    fn a_run_cut_short_is_an_error() {
        let stopped = Stopped::ClusterDied("v1.37.2: etcd exited".into());
        let xml = document(&[report("passes", Verdict::Passed)], Some(&stopped));
        assert!(xml.contains("<error message=\"the run stopped early\">"), "{xml}");
        assert!(xml.contains("etcd exited"), "{xml}");
    }
}
