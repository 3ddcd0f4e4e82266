//! kubeproof: documented Kubernetes ServiceAccount token behaviour as executable evidence.
//!
//! The pipeline: [`scenario`] files are parsed into typed steps; [`cluster`] provides a real
//! cluster (a local control plane built from the official Go modules, or a kubeconfig context);
//! [`exec`] runs the steps into a plain result model; [`report`] renders results.

pub mod clock;
pub mod cluster;
pub mod exec;
pub mod exit_code;
pub mod harness;
pub mod interrupt;
pub mod profile;
pub mod progress;
pub mod random;
pub mod redact;
pub mod report;
pub mod scenario;
pub mod version;
