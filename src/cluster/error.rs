//! Why no usable cluster could be had, by kind. Each kind knows its exit code (docs/cli.md):
//! a release that is not even a version, or that the Go module proxy does not have, is bad
//! input (2); everything else is 3. The errors of a local cluster's install and start are kept
//! whole, as they were made (`local::InstallError`, `local::StartError`, …); their messages are
//! their `Display`.

use std::sync::Arc;

use crate::exit_code::ExitCode;

use super::local::node::Unfit;
use super::local::shared::SharedError;
use super::local::versions::NotARelease;
use super::local::{InstallError, StartError};

/// Cloned for every scenario a failed cluster was to run: the local errors are shared, not copied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig cannot be read, or lacks the context.
    #[error("{0}")]
    Kubeconfig(String),
    /// A context kubeproof does not create and delete objects in unless told to.
    #[error("{0}")]
    RefusedContext(String),
    /// The API server did not answer, or refused the connection.
    #[error("{0}")]
    Unreachable(String),
    /// The API server's certificate is not one the kubeconfig's CA vouches for.
    #[error("{0}")]
    Tls(String),
    /// A release that is not a version at all: what `versions::check_request` says.
    #[error(transparent)]
    Release(NotARelease),
    /// The release could not be resolved, built or downloaded.
    #[error(transparent)]
    Install(Arc<InstallError>),
    /// A local control plane did not start.
    #[error(transparent)]
    Start(Arc<StartError>),
    /// A local control plane shared by the processes of a test run could not be had.
    #[error(transparent)]
    Shared(Arc<SharedError>),
    /// A local cluster with a node was asked for, and this machine cannot run one (not root,
    /// containerd or another program missing): the reason says what is missing.
    #[error(transparent)]
    NoNode(Unfit),
    /// A context's cluster did not finish what a fresh cluster does asynchronously in time: what
    /// it still lacked.
    #[error("{0}")]
    NotSettled(String),
    /// The workload image could not be put on a kind cluster's nodes.
    #[error(transparent)]
    Kind(super::kind::KindError),
    /// The install's blocking task panicked or was cancelled: what tokio says.
    #[error("{0}")]
    Unfinished(String),
    /// The scenario cannot run on the clusters this target gives it: why (not a failure).
    #[error("{0}")]
    Unsuited(String),
    /// One of a scenario's other clusters could not be had: which, and why.
    #[error("cluster `{name}`: {error}")]
    Member { name: String, error: Box<ClusterError> },
    /// A lock of this process was poisoned by a panic.
    #[error("poisoned")]
    Poisoned,
}

impl ClusterError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ClusterError::Release(_) => ExitCode::BadInput,
            ClusterError::Install(e) if e.is_bad_input() => ExitCode::BadInput,
            ClusterError::Kubeconfig(_)
            | ClusterError::RefusedContext(_)
            | ClusterError::Unreachable(_)
            | ClusterError::Tls(_)
            | ClusterError::Install(_)
            | ClusterError::Start(_)
            | ClusterError::Shared(_)
            | ClusterError::NoNode(_)
            | ClusterError::NotSettled(_)
            | ClusterError::Kind(_)
            | ClusterError::Unfinished(_)
            | ClusterError::Unsuited(_)
            | ClusterError::Poisoned => ExitCode::Cluster,
            ClusterError::Member { error, .. } => error.exit_code(),
        }
    }
}

impl From<InstallError> for ClusterError {
    fn from(e: InstallError) -> ClusterError {
        ClusterError::Install(Arc::new(e))
    }
}

impl From<StartError> for ClusterError {
    fn from(e: StartError) -> ClusterError {
        ClusterError::Start(Arc::new(e))
    }
}

impl From<SharedError> for ClusterError {
    fn from(e: SharedError) -> ClusterError {
        ClusterError::Shared(Arc::new(e))
    }
}
