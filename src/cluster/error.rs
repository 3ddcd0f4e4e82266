//! Why no usable cluster could be had, by kind. Each kind knows its exit code (docs/cli.md):
//! a release that is not even a version is bad input (2); everything else is 3.

use std::fmt;

use crate::exit_code::ExitCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// The kubeconfig cannot be read, or lacks the context.
    Kubeconfig(String),
    /// A context kubeproof does not create and delete objects in unless told to.
    RefusedContext(String),
    /// The API server did not answer, or refused the connection.
    Unreachable(String),
    /// The API server's certificate is not one the kubeconfig's CA vouches for.
    Tls(String),
    /// A release that is not a version at all.
    Release(String),
    /// The release could not be resolved, built or downloaded.
    Install(String),
    /// A local control plane did not start.
    Start(String),
    /// A local cluster with a node was asked for, and this machine cannot run one (not root,
    /// containerd or another program missing): the reason says what is missing.
    NoNode(String),
}

impl ClusterError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ClusterError::Release(_) => ExitCode::BadInput,
            _ => ExitCode::Cluster,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ClusterError::Kubeconfig(m)
            | ClusterError::RefusedContext(m)
            | ClusterError::Unreachable(m)
            | ClusterError::Tls(m)
            | ClusterError::Release(m)
            | ClusterError::Install(m)
            | ClusterError::Start(m)
            | ClusterError::NoNode(m) => m,
        }
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ClusterError {}

/// Failures of a local start that say no more than a message.
impl From<String> for ClusterError {
    fn from(message: String) -> ClusterError {
        ClusterError::Start(message)
    }
}
