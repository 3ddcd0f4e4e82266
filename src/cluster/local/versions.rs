//! Turning `latest`, `next`, `1.24`, `1.24.17` or `1.38.0-beta.0` into one exact release.

use super::go::Go;
use super::install;
pub use super::resolve_error::{Listed, NotARelease, NotServed, ResolveError};
use crate::version::{KubeVersion, Pre, PreKind, ReleaseName};

/// The releases the behaviour matrix (docs/behaviour-matrix.md) was last made on: what kubeproof
/// has shown to run faithfully, from the seeds' 1.22.7 to the newest. Other releases of 1.22 and
/// later, and their pre-releases, are built the same way; `kubeproof --version` says this list.
pub const MATRIX_RELEASES: [&str; 20] = [
    "1.22.7",
    "1.22.16",
    "1.23.17",
    "1.24.0",
    "1.24.17",
    "1.25.15",
    "1.26.13",
    "1.27.4",
    "1.28.3",
    "1.28.15",
    "1.29.15",
    "1.30.14",
    "1.31.4",
    "1.32.9",
    "1.33.13",
    "1.34.12",
    "1.35.8",
    "1.36.5",
    "1.37.2",
    "1.38.0-beta.0",
];

/// A release request, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The newest release (never a pre-release).
    Latest,
    /// The newest pre-release of the minor after the newest release.
    Next,
    /// A minor (its newest patch, never a pre-release) or an exact release or pre-release.
    Named(ReleaseName),
}

/// Reads a request's form only — `latest`, `next`, `1.24`, `1.24.17`, `1.38.0-beta.0` (a
/// leading `v` is fine) — so that a typo is reported as bad input before anything is looked
/// up or built.
pub fn parse_request(request: &str) -> Result<Request, NotARelease> {
    let request = request.trim();
    match request {
        "latest" => Ok(Request::Latest),
        "next" => Ok(Request::Next),
        _ => request.parse().map(Request::Named).map_err(|_| NotARelease { request: request.to_string() }),
    }
}

/// [`parse_request`], for callers that only check.
pub fn check_request(request: &str) -> Result<(), NotARelease> {
    parse_request(request).map(|_| ())
}

/// Resolves a version request. Exact versions that are installed need no network.
pub fn resolve(request: &str) -> Result<KubeVersion, ResolveError> {
    let unknown = |why: NotServed| ResolveError::NotServed { why };
    match parse_request(request).map_err(ResolveError::NotARelease)? {
        Request::Latest => newest(None).map_err(unknown),
        Request::Next => next().map_err(unknown),
        Request::Named(ReleaseName::Minor { major, minor }) => newest(Some((major, minor))).map_err(unknown),
        Request::Named(ReleaseName::Exact(exact)) => {
            if install::is_installed(exact) {
                return Ok(exact);
            }
            let go = Go::find()?;
            if go.has_kubernetes(exact) {
                Ok(exact)
            } else {
                Err(unknown(NotServed::Release { release: exact, listed: listed_near(&go, exact) }))
            }
        }
    }
}

/// The newest release, or the newest patch of one minor — never a pre-release. The proxy's
/// list can lag behind its contents, so patches after the newest listed one are probed (patch
/// numbers have no gaps).
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
    let releases = || listed.iter().filter(|v| !v.is_pre_release());
    let (major, minor) = match minor {
        Some(m) => m,
        None => {
            let top = releases().max().ok_or(NotServed::NoneListed)?;
            (top.major, top.minor)
        }
    };
    let known = releases().filter(|v| (v.major, v.minor) == (major, minor)).map(|v| v.patch).max();
    let start = match known {
        Some(p) => p,
        None if go.has_kubernetes(KubeVersion::new(major, minor, 0)) => 0,
        None => {
            let pre_releases = listed.iter().filter(|v| (v.major, v.minor) == (major, minor)).copied().collect();
            return Err(NotServed::Minor { major, minor, pre_releases });
        }
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

/// `next`: the newest pre-release of the minor after the newest release. The list lags here
/// too (it may list a beta but not the alphas before it), so the pre-releases after the
/// newest listed one — or from the first alpha when none is listed — are probed in the order
/// Kubernetes tags them.
fn next() -> Result<KubeVersion, NotServed> {
    let go = match Go::find() {
        Ok(go) => go,
        Err(e) => return newest_installed_pre_release().ok_or(NotServed::Go(e)),
    };
    let listed = match go.listed_kubernetes_versions() {
        Ok(v) => v,
        Err(e) => return newest_installed_pre_release().ok_or(NotServed::Go(e)),
    };
    let newest_release = *listed.iter().filter(|v| !v.is_pre_release()).max().ok_or(NotServed::NoneListed)?;
    let (major, minor) = (newest_release.major, newest_release.minor + 1);
    let first = KubeVersion::pre_release(major, minor, 0, PreKind::Alpha, 0);
    let newest_listed = listed.iter().filter(|v| v.is_pre_release() && (v.major, v.minor, v.patch) == (major, minor, 0)).max().copied();
    let Some(mut found) = newest_listed.or_else(|| go.has_kubernetes(first).then_some(first)) else {
        return Err(NotServed::NoPreRelease { newest_release });
    };
    while let Some(later) = following(found).into_iter().find(|v| go.has_kubernetes(*v)) {
        found = later;
    }
    Ok(found)
}

/// The pre-releases that may come right after `v`, in the order to try them: the next of its
/// kind, then the first of each later kind (`beta.0` → `beta.1`, `rc.0`).
fn following(v: KubeVersion) -> Vec<KubeVersion> {
    let Some(pre) = v.pre else { return Vec::new() };
    let with = |kind, n| KubeVersion { pre: Some(Pre { kind, n }), ..v };
    std::iter::once(with(pre.kind, pre.n + 1)).chain(PreKind::ALL.into_iter().filter(|k| *k > pre.kind).map(|k| with(k, 0))).collect()
}

/// What the proxy lists near a release it lacks, for the error to say what exists.
fn listed_near(go: &Go, release: KubeVersion) -> Listed {
    let Ok(listed) = go.listed_kubernetes_versions() else { return Listed::Unknown };
    let of_the_minor: Vec<KubeVersion> = listed.iter().filter(|v| (v.major, v.minor) == (release.major, release.minor)).copied().collect();
    if !of_the_minor.is_empty() {
        return Listed::OfTheMinor(of_the_minor);
    }
    listed.iter().filter(|v| !v.is_pre_release()).max().map_or(Listed::Unknown, |newest| Listed::NewestRelease(*newest))
}

fn newest_installed(minor: Option<(u32, u32)>) -> Option<KubeVersion> {
    install::installed_versions()
        .into_iter()
        .filter(|v| !v.is_pre_release() && minor.is_none_or(|(ma, mi)| (v.major, v.minor) == (ma, mi)))
        .max()
}

/// Offline `next`: the newest installed pre-release, if it is newer than every installed release.
fn newest_installed_pre_release() -> Option<KubeVersion> {
    install::installed_versions().into_iter().max().filter(KubeVersion::is_pre_release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_kubernetes_names_releases() {
        assert_eq!(parse_request(" latest "), Ok(Request::Latest));
        assert_eq!(parse_request("next"), Ok(Request::Next));
        assert_eq!(parse_request("1.24"), Ok(Request::Named(ReleaseName::Minor { major: 1, minor: 24 })));
        assert_eq!(parse_request("v1.38.0-rc.1"), Ok(Request::Named(ReleaseName::Exact("1.38.0-rc.1".parse().unwrap()))));
        for bad in ["1.38.0-gamma.1", "banana", "1.x", "1", "Latest", "1.38.0-beta", "2.0.0", "1.30.9-eks-1"] {
            let e = parse_request(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}` is not a Kubernetes release")), "{e}");
            assert!(e.to_string().contains("next") && e.to_string().contains("1.38.0-beta.0"), "names the accepted forms: {e}");
        }
    }

    #[test]
    fn pre_releases_are_probed_in_the_order_kubernetes_tags_them() {
        let names = |v: &str| following(v.parse().unwrap()).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(names("1.38.0-alpha.3"), ["1.38.0-alpha.4", "1.38.0-beta.0", "1.38.0-rc.0"]);
        assert_eq!(names("1.38.0-beta.0"), ["1.38.0-beta.1", "1.38.0-rc.0"]);
        assert_eq!(names("1.38.0-rc.2"), ["1.38.0-rc.3"]);
        assert!(names("1.38.0").is_empty());
    }

    #[test]
    fn what_is_not_served_names_what_is() {
        let beta: KubeVersion = "1.38.0-beta.7".parse().unwrap();
        let listed = Listed::OfTheMinor(vec!["1.38.0-beta.0".parse().unwrap()]);
        let said = NotServed::Release { release: beta, listed }.to_string();
        assert!(said.contains("1.38.0-beta.7 is not on the Go module proxy") && said.contains("of 1.38 it lists 1.38.0-beta.0"), "{said}");
        let far = NotServed::Release { release: KubeVersion::new(1, 99, 0), listed: Listed::NewestRelease(KubeVersion::new(1, 37, 2)) };
        assert!(far.to_string().contains("nothing of 1.99, and its newest release is 1.37.2"), "{far}");
        let none = NotServed::NoPreRelease { newest_release: KubeVersion::new(1, 37, 2) }.to_string();
        assert!(none.contains("no pre-release of Kubernetes 1.38") && none.contains("newest release, 1.37.2"), "{none}");
        let minor = NotServed::Minor { major: 1, minor: 38, pre_releases: vec!["1.38.0-beta.0".parse().unwrap()] }.to_string();
        assert!(minor.contains("1.38 has no release") && minor.contains("only pre-releases: 1.38.0-beta.0"), "{minor}");
    }
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
