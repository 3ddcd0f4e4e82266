//! Exit codes: every path out of kubeproof ends in one of these. Each error and outcome says
//! which is its own (`ClusterError::exit_code`, `RunOutcome::exit_code`), and this file holds the
//! numbers, their order of gravity and the table docs/cli.md shows (a test holds the two alike).

use crate::interrupt::Signal;

/// Why kubeproof exits, as a documented number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and passed (or was not applicable).
    Ok,
    /// A scenario failed.
    Failed,
    /// Bad input: a scenario file or an argument is wrong. Nothing was run.
    BadInput,
    /// No usable cluster: unreachable, refused, could not be built or started, or died mid-run.
    Cluster,
    /// The scenarios ran, but a report file (`--json`, `--junit`, `--markdown`) could not be
    /// written afterwards: the run's results are on the terminal only.
    ReportNotWritten,
    /// Stopped by Ctrl-C, SIGTERM or SIGHUP, after cleaning up: 128 + the signal's number.
    Signalled(Signal),
}

impl ExitCode {
    /// Every code, in order of gravity (the last wins in [`max_with`](Self::max_with)), with
    /// its meaning as docs/cli.md words it. Signals stand for all three.
    pub const DOCUMENTED: [(ExitCode, &'static str); 6] = [
        (ExitCode::Ok, "every scenario passed (or was not applicable)"),
        (ExitCode::Failed, "at least one scenario failed"),
        (ExitCode::BadInput, "bad input: nothing ran"),
        (ExitCode::ReportNotWritten, "the scenarios ran, but a report file could not be written afterwards"),
        (ExitCode::Cluster, "no usable cluster"),
        (ExitCode::Signalled(Signal::Interrupt), "stopped by a signal, after cleaning up"),
    ];

    pub fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Failed => 1,
            ExitCode::BadInput => 2,
            ExitCode::Cluster => 3,
            ExitCode::ReportNotWritten => 4,
            ExitCode::Signalled(signal) => signal.exit_code(),
        }
    }

    /// The graver of two codes: a signal, then no cluster, then a report not written, then bad
    /// input, then a failure.
    pub fn max_with(self, other: ExitCode) -> ExitCode {
        let rank = |c: ExitCode| {
            let same = |(d, _): &(ExitCode, &str)| std::mem::discriminant(d) == std::mem::discriminant(&c);
            Self::DOCUMENTED.iter().position(same).unwrap_or(0)
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graver_code_wins_whatever_the_order() {
        let all = ExitCode::DOCUMENTED.map(|(c, _)| c);
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                let expected = if i >= j { *a } else { *b };
                assert_eq!(a.max_with(*b), expected, "{a:?} vs {b:?}");
            }
        }
        assert_eq!(ExitCode::Signalled(Signal::Terminate).code(), 143);
    }

    /// docs/cli.md's table has a row for every code, whose meaning begins with the words above,
    /// and no row for a code that does not exist.
    #[test]
    fn the_documented_table_is_the_code() {
        let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
        let section = page.split("## Exit codes").nth(1).unwrap();
        let rows: Vec<(String, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                (cells[0].to_string(), cells[1].to_string())
            })
            .collect();
        assert_eq!(rows.len(), ExitCode::DOCUMENTED.len(), "{rows:?}");
        for (code, meaning) in ExitCode::DOCUMENTED {
            let number = match code {
                ExitCode::Signalled(_) => {
                    [Signal::Interrupt, Signal::Terminate, Signal::Hangup].map(|s| s.exit_code().to_string()).join(", ")
                }
                other => other.code().to_string(),
            };
            let row = rows.iter().find(|(n, _)| *n == number).unwrap_or_else(|| panic!("no row for {number} in {rows:?}"));
            assert!(row.1.starts_with(meaning), "row {number}: `{}` does not begin with `{meaning}`", row.1);
        }
    }
}
