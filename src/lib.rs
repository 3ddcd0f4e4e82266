//! kubeproof: documented Kubernetes behaviour — ServiceAccount tokens first — as executable
//! evidence, against real clusters.
//!
//! The pipeline: [`scenario`] files are parsed into typed steps; [`cluster`] provides a real
//! cluster (a local control plane built from the official Go modules, or a kubeconfig context);
//! [`exec`] runs the steps into a plain result model ([`exec::result`]); [`report`] renders it.
//! [`harness`] makes a directory of scenarios the trials of a `cargo test` target.
//!
//! Running one scenario file on a local control plane of the newest release, from a program:
//!
//! ```no_run
//! use kubeproof::cluster::pool::{Pool, Target};
//! use kubeproof::exec::{self, ExecOptions};
//! use kubeproof::scenario::Scenario;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = Scenario::load(std::path::Path::new("checks/default-sa.yaml")).map_err(|d| format!("{d:?}"))?;
//! let pool = Pool::open_for(&Target::Local("latest".into()), &[scenario.requirement()]).await?;
//! let outcome = exec::run_all(&pool, &[scenario], &ExecOptions::default(), 1).await;
//! println!("{}", kubeproof::report::text::summary(&outcome.reports));
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod cluster;
pub mod exec;
pub mod exit_code;
pub mod federation;
pub mod harness;
pub mod interrupt;
pub mod profile;
pub mod progress;
pub mod random;
pub mod redact;
pub mod report;
pub mod requirement;
pub mod scenario;
pub mod version;
