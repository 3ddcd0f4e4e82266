//! The command line: thin adapters from arguments to the library.

pub mod cluster;
pub mod init;
pub mod matrix;
pub mod outputs;
pub mod run;

pub use kubeproof::exit_code::ExitCode;
