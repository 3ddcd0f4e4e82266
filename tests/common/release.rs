//! What the trials that need a release share (tests/faults.rs, tests/control_plane.rs): which
//! release to run on, its installation, and a runtime.

use kubeproof::cluster::local::{self, InstallOptions};
use libtest_mimic::{Completion, Failed};

/// The release the trials run on: `KUBEPROOF_VERSION`, else the last of `KUBEPROOF_VERSIONS`.
pub fn version_request() -> Option<String> {
    std::env::var("KUBEPROOF_VERSION")
        .ok()
        .or_else(|| std::env::var("KUBEPROOF_VERSIONS").ok().and_then(|v| v.split(',').next_back().map(str::to_string)))
        .filter(|v| !v.trim().is_empty())
}

/// Runs `test` with the requested release installed (built or downloaded); ignored when no
/// release is requested.
pub fn with_version(test: fn(local::Installation) -> Result<(), Failed>) -> Result<Completion, Failed> {
    let Some(request) = version_request() else {
        return Ok(Completion::ignored_with("no release: set KUBEPROOF_VERSION=latest to build and start one"));
    };
    let v = local::versions::resolve(&request)?;
    let installation = local::install(v, &InstallOptions::default())?;
    test(installation)?;
    Ok(Completion::Completed)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}
