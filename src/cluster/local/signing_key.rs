//! Rotating the ServiceAccount signing key of a running local cluster, as the Kubernetes docs
//! describe it: a new key signs, the previous public keys stay in the verification set until they
//! are dropped. kube-apiserver reads its keys (and renders `/openid/v1/jwks`) only at start, so
//! each change restarts it; kube-controller-manager signs legacy token Secrets with the same key.

use std::path::PathBuf;

use super::{LocalCluster, StartError, pki};
use crate::profile::Component;

/// The file of public keys kube-apiserver verifies with (one file may hold several keys).
const VERIFYING: &str = "sa-verifying.pub";

impl LocalCluster {
    /// A new signing key signs from now on; with `keep_previous`, the public keys that verified
    /// until now keep verifying beside it, else only the new one does.
    pub async fn rotate_signing_key(&self, keep_previous: bool) -> Result<(), StartError> {
        let dir = self.dir.join("pki");
        let (private, public) = tokio::task::spawn_blocking(pki::rsa_key).await??;
        let n = (2..).find(|n| !dir.join(format!("sa-{n}.key")).exists()).unwrap_or(2);
        let key = dir.join(format!("sa-{n}.key"));
        pki::write_private(&key, private.as_bytes()).map_err(StartError::Certificates)?;
        pki::write_private(&dir.join(format!("sa-{n}.pub")), public.as_bytes()).map_err(StartError::Certificates)?;
        let verifying = if keep_previous { format!("{public}{}", self.verifying_keys()?) } else { public };
        self.trust_and_sign(&verifying, Some(key)).await
    }

    /// Only the current signing key verifies: tokens signed by earlier keys are refused.
    pub async fn drop_previous_keys(&self) -> Result<(), StartError> {
        let key = self.signing_key();
        let public = key.with_extension("pub");
        let public = std::fs::read_to_string(&public).map_err(StartError::Certificates)?;
        self.trust_and_sign(&public, None).await
    }

    /// Writes the verification set, then restarts kube-apiserver with it (and `key` signing),
    /// and kube-controller-manager with `key`.
    async fn trust_and_sign(&self, verifying: &str, key: Option<PathBuf>) -> Result<(), StartError> {
        let file = self.dir.join("pki").join(VERIFYING);
        pki::write_private(&file, verifying.as_bytes()).map_err(StartError::Certificates)?;
        let mut apiserver = vec![format!("--service-account-key-file={}", file.display())];
        apiserver.extend(key.iter().map(|k| format!("--service-account-signing-key-file={}", k.display())));
        self.restart(Component::ApiServer.binary(), &apiserver).await?;
        if let Some(key) = key {
            let kcm = [format!("--service-account-private-key-file={}", key.display())];
            self.restart(Component::ControllerManager.binary(), &kcm).await?;
        }
        Ok(())
    }

    /// The key that signs now: the last rotated one, else the cluster's first (`sa.key`).
    fn signing_key(&self) -> PathBuf {
        let flag = "--service-account-signing-key-file=";
        let named = self.user_flags(Component::ApiServer).iter().rev().find_map(|f| f.strip_prefix(flag).map(PathBuf::from));
        named.unwrap_or_else(|| self.dir.join("pki/sa.key"))
    }

    /// The public keys that verify now.
    fn verifying_keys(&self) -> Result<String, StartError> {
        let set = self.dir.join("pki").join(VERIFYING);
        let file = if set.exists() { set } else { self.dir.join("pki/sa.pub") };
        std::fs::read_to_string(file).map_err(StartError::Certificates)
    }
}
