//! Why a release request (`latest`, `1.24`, `1.24.17`) gave no release: apart from
//! `versions.rs`, which resolves, so that `install.rs` can carry it without the two importing
//! each other.

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

/// A request that is not even the form of a release (`latest`, `1.24`, `1.24.17`): bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotARelease {
    /// The request, trimmed.
    pub request: String,
}

impl std::fmt::Display for NotARelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a Kubernetes release: write latest, a minor such as 1.24, or a release such as 1.24.17", self.request)
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
    #[error("Kubernetes {major}.{minor} is not on the Go module proxy")]
    Minor { major: u32, minor: u32 },
    #[error("Kubernetes {0} is not on the Go module proxy (k8s.io/kubernetes@{tag})", tag = .0.tag())]
    Release(KubeVersion),
    #[error(transparent)]
    Unreadable(crate::version::VersionError),
    #[error("`{0}` is not a version (write latest, 1.24 or 1.24.17)")]
    NotAVersion(String),
}
