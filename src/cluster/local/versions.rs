//! Turning `latest`, `1.24` or `1.24.17` into one exact release.

use super::go::Go;
use super::install;
pub use super::resolve_error::{NotARelease, NotServed, ResolveError};
use crate::version::KubeVersion;

/// The releases the behaviour matrix (docs/behaviour-matrix.md) was last made on: what kubeproof
/// has shown to run faithfully, from the seeds' 1.22.7 to the newest. Other releases of 1.22 and
/// later are built the same way; `kubeproof --version` says this list.
pub const MATRIX_RELEASES: [&str; 11] =
    ["1.22.7", "1.23.17", "1.24.0", "1.24.17", "1.27.4", "1.28.3", "1.29.15", "1.30.14", "1.32.0", "1.34.2", "1.37.2"];

/// Checks a request's form only — `latest`, `1.24`, `1.24.17` (a leading `v` is fine) — so
/// that a typo is reported as bad input before anything is looked up or built.
pub fn check_request(request: &str) -> Result<(), NotARelease> {
    let request = request.trim();
    let parts: Vec<&str> = request.trim_start_matches('v').split('.').collect();
    let numeric = parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()));
    if request == "latest" || (numeric && (2..=3).contains(&parts.len()) && parts[0] == "1") {
        Ok(())
    } else {
        Err(NotARelease { request: request.to_string() })
    }
}

/// Resolves a version request. Exact versions that are installed need no network.
pub fn resolve(request: &str) -> Result<KubeVersion, ResolveError> {
    let request = request.trim();
    check_request(request).map_err(ResolveError::NotARelease)?;
    let unknown = |why: NotServed| ResolveError::NotServed { why };
    if request == "latest" {
        return newest(None).map_err(unknown);
    }
    let parts: Vec<&str> = request.trim_start_matches('v').split('.').collect();
    let exact: KubeVersion = request.parse().map_err(|e| unknown(NotServed::Unreadable(e)))?;
    match parts.len() {
        2 => newest(Some((exact.major, exact.minor))).map_err(unknown),
        3 => {
            if install::is_installed(exact) {
                return Ok(exact);
            }
            let go = Go::find()?;
            if go.has_kubernetes(exact) { Ok(exact) } else { Err(unknown(NotServed::Release(exact))) }
        }
        _ => Err(unknown(NotServed::NotAVersion(request.to_string()))),
    }
}

/// The newest release, or the newest patch of one minor. The proxy's list can lag behind its
/// contents, so patches after the newest listed one are probed (patch numbers have no gaps).
fn newest(minor: Option<(u32, u32)>) -> Result<KubeVersion, NotServed> {
    let go = match Go::find() {
        Ok(go) => go,
        Err(e) => return newest_installed(minor).ok_or(NotServed::Go(e)),
    };
    let listed = match go.listed_kubernetes_versions() {
        Ok(v) => v,
        // Offline: the newest installed release that fits is the best answer there is.
        Err(e) => return newest_installed(minor).ok_or(NotServed::Go(e)),
    };
    let (major, minor) = match minor {
        Some(m) => m,
        None => {
            let top = listed.last().ok_or(NotServed::NoneListed)?;
            (top.major, top.minor)
        }
    };
    let known = listed.iter().filter(|v| (v.major, v.minor) == (major, minor)).map(|v| v.patch).max();
    let start = match known {
        Some(p) => p,
        None if go.has_kubernetes(KubeVersion::new(major, minor, 0)) => 0,
        None => return Err(NotServed::Minor { major, minor }),
    };
    // Exponential probe for the first missing patch, then bisect.
    let exists = |p: u32| go.has_kubernetes(KubeVersion::new(major, minor, p));
    let (mut good, mut step) = (start, 1);
    let mut bad = loop {
        let candidate = good + step;
        if !exists(candidate) {
            break candidate;
        }
        good = candidate;
        step *= 2;
    };
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if exists(mid) { good = mid } else { bad = mid }
    }
    Ok(KubeVersion::new(major, minor, good))
}

fn newest_installed(minor: Option<(u32, u32)>) -> Option<KubeVersion> {
    install::installed_versions().into_iter().filter(|v| minor.is_none_or(|(ma, mi)| (v.major, v.minor) == (ma, mi))).max()
}

#[cfg(test)]
mod matrix_tests {
    /// The list `--version` gives is the one the committed matrix was made on.
    #[test]
    fn the_matrix_releases_are_the_documented_matrix() {
        let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/behaviour-matrix.md")).unwrap();
        let header = page.lines().find(|l| l.starts_with("| scenario |")).unwrap();
        let columns: Vec<&str> =
            header.split('|').map(str::trim).filter(|c| c.starts_with("`v")).map(|c| c.trim_matches('`').trim_start_matches('v')).collect();
        assert_eq!(columns, super::MATRIX_RELEASES);
    }
}
