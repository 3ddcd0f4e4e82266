//! The command line: thin adapters from arguments to the library.

pub mod cluster;
pub mod matrix;
pub mod run;

/// Documented exit codes (docs/cli.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and passed.
    Ok = 0,
    /// A scenario failed.
    Failed = 1,
    /// Bad input: a scenario file or an argument is wrong. Nothing was run.
    BadInput = 2,
    /// No usable cluster: unreachable, refused, or the local control plane could not start.
    Cluster = 3,
    /// Interrupted (Ctrl-C); everything created was cleaned up.
    Interrupted = 130,
}
