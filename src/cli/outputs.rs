//! The report files and CI output a run or a matrix asks for: checked before anything runs,
//! written after it, in one place for `run` and `matrix` (the terminal follows the run's
//! events as it goes; see `report::terminal`).

use std::path::PathBuf;

use kubeproof::report::{ScenarioReport, Stopped, github, junit, output};

use super::ExitCode;

/// What one command writes once its scenarios are done.
#[derive(Debug, Default)]
pub struct Outputs {
    /// `--json`: the run's document (`run`), or the matrix and its reports (`matrix`).
    pub json: Option<PathBuf>,
    /// `--junit`: a testsuite per cluster.
    pub junit: Option<PathBuf>,
    /// `--markdown` (`matrix` only): the behaviour matrix page.
    pub markdown: Option<PathBuf>,
}

/// What the outputs are made of.
pub struct Results<'a> {
    pub reports: &'a [ScenarioReport],
    pub stopped: Option<&'a Stopped>,
    /// The `--json` document.
    pub json: &'a dyn Fn() -> String,
    /// The `--markdown` page, which is also the GitHub step summary when there is one.
    pub page: Option<String>,
}

impl Outputs {
    /// Before anything runs: a report that could not be written is bad input, not a silent loss.
    pub fn check(&self) -> Result<(), ExitCode> {
        for path in [&self.json, &self.junit, &self.markdown].into_iter().flatten() {
            output::check_writable(path).map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::BadInput
            })?;
        }
        Ok(())
    }

    /// Writes every file asked for (0600, redacted) and, under GitHub Actions, the annotations
    /// and the step summary. Returns the gravest code of the writes: exit 4 when one failed.
    pub fn write(&self, results: Results<'_>) -> ExitCode {
        let mut code = ExitCode::Ok;
        let mut file = |path: &Option<PathBuf>, text: &dyn Fn() -> String| {
            if let Some(path) = path {
                code = code.max_with(write_report(path, &text()));
            }
        };
        file(&self.json, results.json);
        file(&self.junit, &|| junit::document(results.reports, results.stopped));
        if let Some(page) = &results.page {
            file(&self.markdown, &|| page.clone());
        }
        if github::active() {
            print!("{}", github::annotations(results.reports));
            let summary = results.page.unwrap_or_else(|| github::summary(results.reports));
            if let Err(e) = github::append_summary(&summary) {
                eprintln!("warning: {e}");
            }
        }
        code
    }
}

/// Writes a report file (0600, redacted) after a run; a failure is its own exit code, since
/// the scenarios did run.
fn write_report(path: &std::path::Path, text: &str) -> ExitCode {
    match output::write_private(path, text) {
        Ok(()) => {
            eprintln!("kubeproof: wrote {}", path.display());
            ExitCode::Ok
        }
        Err(e) => {
            eprintln!("error: {e}; the results above are all there is of this run");
            ExitCode::ReportNotWritten
        }
    }
}
