//! GitHub Actions: an `::error` annotation at the failing step's line for every failed scenario,
//! and a markdown summary appended to the job's step summary. Used when `GITHUB_ACTIONS=true`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{ScenarioReport, Tally, Verdict, text};

/// Whether kubeproof runs inside a GitHub Actions job.
pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The workflow commands for the failures among `reports`, one per line.
pub fn annotations(reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    for r in reports.iter().filter(|r| r.verdict == Verdict::Failed) {
        let Some(f) = &r.failure else { continue };
        let mut props = format!("file={}", property(&f.position.file.display().to_string()));
        if let Some(line) = f.position.line {
            let _ = write!(props, ",line={line}");
        }
        if let Some(col) = f.position.column {
            let _ = write!(props, ",col={col}");
        }
        let title = format!("{} on {}", r.scenario, r.ran_on());
        let _ = writeln!(out, "::error {props},title={}::{}", property(&title), data(&format!("{}\n{}", text::headline(f), f.error)));
    }
    // A flaky scenario passed: a warning at its first failure, so it is seen, not lost.
    for r in reports.iter().filter(|r| r.is_flaky()) {
        let f = &r.earlier_attempts[0];
        let title = format!("flaky: {} on {}", r.scenario, r.ran_on());
        let passed = format!("passed on attempt {} after: {}", r.earlier_attempts.len() + 1, text::headline(f));
        let _ = writeln!(
            out,
            "::warning file={},title={}::{}",
            property(&f.position.file.display().to_string()),
            property(&title),
            data(&passed)
        );
    }
    out
}

/// A markdown summary of a run: the tally and a line per scenario that did not pass.
pub fn summary(reports: &[ScenarioReport]) -> String {
    let mut s = format!("### kubeproof: {}\n\n", Tally::of(reports));
    let failed: Vec<&ScenarioReport> = reports.iter().filter(|r| r.verdict == Verdict::Failed).collect();
    if !failed.is_empty() {
        s.push_str("| scenario | cluster | where |\n|---|---|---|\n");
        for r in failed {
            let at = r.failure.as_ref().map(|f| f.position.to_string()).unwrap_or_default();
            let _ = writeln!(s, "| `{}` | {} | `{at}` |", r.scenario, r.ran_on());
        }
    }
    s
}

/// Appends to the file named by `GITHUB_STEP_SUMMARY`, if there is one.
pub fn append_summary(markdown: &str) -> Result<(), SummaryError> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    let path = Path::new(&path);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| SummaryError { path: Some(path.to_path_buf()), error })?;
    file.write_all(crate::redact::redact(markdown).as_bytes()).map_err(|error| SummaryError { path: None, error })
}

/// The step summary could not be opened (its path is said) or written.
#[derive(Debug)]
pub struct SummaryError {
    pub path: Option<std::path::PathBuf>,
    pub error: std::io::Error,
}

impl std::fmt::Display for SummaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(path) => write!(f, "cannot write the step summary {}: {}", path.display(), self.error),
            None => write!(f, "cannot write the step summary: {}", self.error),
        }
    }
}

/// A workflow command's message: `%`, CR and LF escaped.
fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::report::{Failure, Phase, Position, StepError};

    fn failed() -> ScenarioReport {
        ScenarioReport {
            scenario: "rbac-forbidden-until-bound".into(),
            file: PathBuf::from("scenarios/rbac.yaml"),
            cluster: "v1.37.2".into(),
            server_version: "v1.37.2".into(),
            kubectl: String::new(),
            verdict: Verdict::Failed,
            reason: None,
            failure: Some(Failure {
                phase: Phase::Step,
                step: Some(2),
                position: Position { file: "scenarios/rbac.yaml".into(), line: Some(12), column: Some(5) },
                keyword: "call".into(),
                error: StepError::other("100% wrong,\nreally: yes"),
                diagnostics: None,
                included_from: Vec::new(),
            }),
            later_failures: Vec::new(),
            earlier_attempts: Vec::new(),
            path: Vec::new(),
            other_clusters: Vec::new(),
            steps: Vec::new(),
            observed: None,
            namespace: None,
            left: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn failures_become_error_annotations_at_their_line() {
        let out = annotations(&[failed()]);
        assert_eq!(
            out,
            "::error file=scenarios/rbac.yaml,line=12,col=5,title=rbac-forbidden-until-bound on v1.37.2::\
             step 3 `call` at scenarios/rbac.yaml:12:5 failed%0A100%25 wrong,%0Areally: yes\n"
        );
    }

    #[test]
    fn the_summary_lists_what_failed() {
        let s = summary(&[failed()]);
        assert!(s.starts_with("### kubeproof: 0 passed, 1 failed, 0 skipped"), "{s}");
        assert!(s.contains("| `rbac-forbidden-until-bound` | v1.37.2 | `scenarios/rbac.yaml:12:5` |"), "{s}");
    }
}
