//! Why a release request (`latest`, `next`, `1.24`, `1.24.17`, `1.38.0-beta.0`) gave no release:
//! apart from `versions.rs`, which resolves, so that `install.rs` can carry it without the two
//! importing each other.

use super::go::GoError;
use crate::version::KubeVersion;

/// Why a release could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Not even a release (bad input): what `versions::check_request` says.
    #[error(transparent)]
    NotARelease(NotARelease),
    /// An exact release not installed, and no Go toolchain to ask the proxy about it.
    #[error(transparent)]
    Go(#[from] GoError),
    /// The Go module proxy does not serve it (or could not be asked, and none is installed).
    #[error(
        "{why}. See the releases the Go module proxy has with `kubeproof cluster versions` (or `go list -m -versions k8s.io/kubernetes`)."
    )]
    NotServed { why: NotServed },
}

impl ResolveError {
    /// The request names nothing there is — bad input (exit 2), said before anything is built —
    /// as opposed to a proxy or a Go that could not be asked.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ResolveError::NotARelease(_) => true,
            ResolveError::Go(_) => false,
            ResolveError::NotServed { why } => why.is_bad_input(),
        }
    }
}

/// A request that is not even the form of a release: bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotARelease {
    /// The request, trimmed.
    pub request: String,
}

impl std::fmt::Display for NotARelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not a Kubernetes release: write latest, next (the newest pre-release), a minor such as 1.24, a release \
             such as 1.24.17, or a pre-release such as 1.38.0-beta.0 (alpha, beta or rc)",
            self.request
        )
    }
}

impl std::error::Error for NotARelease {}

/// Why the Go module proxy gave no release for a request.
#[derive(Debug, thiserror::Error)]
pub enum NotServed {
    /// `go` is missing or failed, and no release of the request is installed.
    #[error(transparent)]
    Go(GoError),
    #[error("the module proxy lists no k8s.io/kubernetes release")]
    NoneListed,
    /// No release of a minor; `pre_releases`: the ones of it the proxy lists.
    #[error("Kubernetes {major}.{minor} has no release on the Go module proxy{}", only_pre_releases(.pre_releases))]
    Minor { major: u32, minor: u32, pre_releases: Vec<KubeVersion> },
    /// Not this exact release; `listed`: what the proxy lists of its minor, else its newest release.
    #[error("Kubernetes {release} is not on the Go module proxy (k8s.io/kubernetes@{tag}){}", what_is_listed(.release, .listed), tag = .release.tag())]
    Release { release: KubeVersion, listed: Listed },
    /// `next`, and the minor after the newest release has no pre-release.
    #[error(
        "`next` found no pre-release of Kubernetes {}.{} on the Go module proxy: it names the newest pre-release of the \
         minor after the newest release, {newest_release}",
        .newest_release.major,
        .newest_release.minor + 1
    )]
    NoPreRelease { newest_release: KubeVersion },
}

impl NotServed {
    fn is_bad_input(&self) -> bool {
        match self {
            NotServed::Go(_) | NotServed::NoneListed => false,
            NotServed::Minor { .. } | NotServed::Release { .. } | NotServed::NoPreRelease { .. } => true,
        }
    }
}

/// What the proxy lists near a release it does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// Releases and pre-releases of the same minor, oldest first.
    OfTheMinor(Vec<KubeVersion>),
    /// None of the minor: the newest release there is.
    NewestRelease(KubeVersion),
    /// The list could not be had, or is empty.
    Unknown,
}

fn only_pre_releases(pre_releases: &[KubeVersion]) -> String {
    if pre_releases.is_empty() {
        return String::new();
    }
    format!(", only pre-releases: {} (name one, or ask for `next`)", shown(pre_releases))
}

fn what_is_listed(release: &KubeVersion, listed: &Listed) -> String {
    match listed {
        Listed::OfTheMinor(versions) => format!("; of {}.{} it lists {}", release.major, release.minor, shown(versions)),
        Listed::NewestRelease(newest) => {
            format!("; it lists nothing of {}.{}, and its newest release is {newest}", release.major, release.minor)
        }
        Listed::Unknown => String::new(),
    }
}

/// The last few versions of a list, oldest first.
fn shown(versions: &[KubeVersion]) -> String {
    const SHOWN: usize = 6;
    let skipped = versions.len().saturating_sub(SHOWN);
    let names: Vec<String> = versions[skipped..].iter().map(ToString::to_string).collect();
    if skipped > 0 { format!("… {}", names.join(", ")) } else { names.join(", ") }
}
