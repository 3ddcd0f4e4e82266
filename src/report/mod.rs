//! The result model every reporter reads, and the reporters: text, JSON, JUnit, matrix.

pub mod document;
pub mod github;
pub mod junit;
pub mod matrix;
pub mod output;
pub mod terminal;
pub mod text;

pub use crate::exec::StepError;
pub use crate::exec::result::*;

/// Counts for the closing line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
}

impl Tally {
    pub fn of(reports: &[ScenarioReport]) -> Tally {
        let mut t = Tally::default();
        for r in reports {
            match r.verdict {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed => t.failed += 1,
                Verdict::NotApplicable => t.not_applicable += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.not_applicable)
    }
}
