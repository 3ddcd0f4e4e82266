//! The certificates and keys a local control plane needs, generated fresh for every cluster,
//! and the private file writes they (and kubeconfigs and state) go through.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

/// PEM-encoded material, written to the cluster directory by [`Pki::write`].
pub struct Pki {
    pub ca_cert: String,
    pub ca_key: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    /// RSA, not ECDSA: PKCS#1 v1.5 signatures are deterministic, so re-creating a token
    /// Secret yields the byte-identical token — as on kubeadm and kind clusters.
    pub sa_key: String,
    pub sa_pub: String,
    /// etcd's own CA, as kubeadm makes it: the cluster CA's admin certificate opens nothing
    /// in etcd, and only certificates of this CA do.
    pub etcd_ca_cert: String,
    pub etcd_ca_key: String,
    /// etcd's serving certificate, also used for peer traffic (server and client auth).
    pub etcd_server_cert: String,
    pub etcd_server_key: String,
    /// kube-apiserver's client certificate for etcd.
    pub etcd_client_cert: String,
    pub etcd_client_key: String,
    /// kube-controller-manager's and kube-scheduler's client certificates, with the user names
    /// kubeadm gives them (`system:kube-controller-manager`, `system:kube-scheduler`), which
    /// the API server's bootstrap RBAC policy binds to their roles.
    pub controller_manager_cert: String,
    pub controller_manager_key: String,
    pub scheduler_cert: String,
    pub scheduler_key: String,
    /// kube-apiserver's client certificate for kubelets (`--kubelet-client-certificate`).
    pub kubelet_client_cert: String,
    pub kubelet_client_key: String,
    /// The front-proxy (aggregation layer) CA and kube-apiserver's client certificate of it.
    pub front_proxy_ca_cert: String,
    pub front_proxy_ca_key: String,
    pub front_proxy_client_cert: String,
    pub front_proxy_client_key: String,
    /// The node's identities, for a cluster with a node.
    pub node: Option<NodePki>,
}

/// A node's client certificates, as kubeadm makes them: the kubelet's `system:node:<name>` in
/// group `system:nodes` (the Node authorizer and NodeRestriction apply), kube-proxy's
/// `system:kube-proxy` (bound to `system:node-proxier` by the default policy).
pub struct NodePki {
    pub kubelet_cert: String,
    pub kubelet_key: String,
    pub proxy_cert: String,
    pub proxy_key: String,
}

/// What a cluster with a node adds to its certificates.
pub struct NodeIdentity<'a> {
    /// The node's name (the kubelet's user is `system:node:<name>`).
    pub name: &'a str,
    /// The address the API server is reached at from the node (a SAN of its serving certificate).
    pub apiserver_ip: Ipv4Addr,
}

/// kubeadm's default `--service-cluster-ip-range`.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// Its first address, the `kubernetes` Service.
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

/// Paths under the cluster's `pki/` directory, named as kubeadm names them.
pub mod files {
    pub const ETCD_CA: &str = "etcd/ca.crt";
    pub const ETCD_SERVER_CERT: &str = "etcd/server.crt";
    pub const ETCD_SERVER_KEY: &str = "etcd/server.key";
    pub const ETCD_CLIENT_CERT: &str = "apiserver-etcd-client.crt";
    pub const ETCD_CLIENT_KEY: &str = "apiserver-etcd-client.key";
    pub const CONTROLLER_MANAGER_CERT: &str = "controller-manager.crt";
    pub const CONTROLLER_MANAGER_KEY: &str = "controller-manager.key";
    pub const SCHEDULER_CERT: &str = "scheduler.crt";
    pub const SCHEDULER_KEY: &str = "scheduler.key";
    pub const KUBELET_CLIENT_CERT: &str = "apiserver-kubelet-client.crt";
    pub const KUBELET_CLIENT_KEY: &str = "apiserver-kubelet-client.key";
    pub const FRONT_PROXY_CA: &str = "front-proxy-ca.crt";
    pub const FRONT_PROXY_CLIENT_CERT: &str = "front-proxy-client.crt";
    pub const FRONT_PROXY_CLIENT_KEY: &str = "front-proxy-client.key";
}

/// A CA's certificate, key and issuer.
struct Authority {
    cert: String,
    key: String,
    issuer: Issuer<'static, KeyPair>,
}

/// Why a cluster's certificates or service-account key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused a key or certificate (named by its common name).
    #[error("generating the {what}: {error}")]
    Certificate { what: String, error: rcgen::Error },
    /// A name kubeproof puts in a certificate is not a DNS name.
    #[error("bad DNS name {name}: {error}")]
    DnsName { name: String, error: rcgen::Error },
    /// The service-account signing key.
    #[error("generating the RSA key: {0}")]
    RsaKey(rsa::Error),
    /// The service-account key could not be written as PEM.
    #[error("{0}")]
    Pem(String),
}

fn err(what: &str) -> impl Fn(rcgen::Error) -> PkiError + '_ {
    move |error| PkiError::Certificate { what: what.to_string(), error }
}

fn authority(common: &str) -> Result<Authority, PkiError> {
    let key = KeyPair::generate().map_err(err(common))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).map_err(err(common))?;
    Ok(Authority { cert: cert.pem(), key: key.serialize_pem(), issuer: Issuer::new(params, key) })
}

/// A leaf certificate and its key, signed by `ca`.
fn leaf(
    ca: &Authority,
    common: &str,
    org: Option<&str>,
    sans: Vec<SanType>,
    usages: Vec<ExtendedKeyUsagePurpose>,
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate().map_err(err(common))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common, org);
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = usages;
    let cert = params.signed_by(&key, &ca.issuer).map_err(err(common))?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Pki {
    pub fn generate() -> Result<Pki, PkiError> {
        Self::generate_for(None)
    }

    /// The certificates of a cluster, with a node's identities and address when it has one.
    pub fn generate_for(node: Option<NodeIdentity>) -> Result<Pki, PkiError> {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let loopback = SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let node_san = node.as_ref().map(|n| SanType::IpAddress(IpAddr::V4(n.apiserver_ip)));

        let ca = authority("kubeproof-ca")?;
        let (serving_cert, serving_key) = leaf(
            &ca,
            "kube-apiserver",
            None,
            vec![
                dns("localhost")?,
                dns("kubernetes")?,
                dns("kubernetes.default")?,
                dns("kubernetes.default.svc")?,
                dns("kubernetes.default.svc.cluster.local")?,
                loopback.clone(),
                SanType::IpAddress(IpAddr::V4(SERVICE_IP)),
            ]
            .into_iter()
            .chain(node_san)
            .collect(),
            vec![ServerAuth],
        )?;
        let (admin_cert, admin_key) = leaf(&ca, "kubeproof-admin", Some("system:masters"), Vec::new(), vec![ClientAuth])?;

        let etcd_ca = authority("kubeproof-etcd-ca")?;
        let (etcd_server_cert, etcd_server_key) =
            leaf(&etcd_ca, "kubeproof-etcd", None, vec![dns("localhost")?, loopback], vec![ServerAuth, ClientAuth])?;
        let (etcd_client_cert, etcd_client_key) = leaf(&etcd_ca, "kube-apiserver-etcd-client", None, Vec::new(), vec![ClientAuth])?;

        let (controller_manager_cert, controller_manager_key) =
            leaf(&ca, "system:kube-controller-manager", None, Vec::new(), vec![ClientAuth])?;
        let (scheduler_cert, scheduler_key) = leaf(&ca, "system:kube-scheduler", None, Vec::new(), vec![ClientAuth])?;
        // kubeadm's organisation up to 1.28; from 1.29 it is kubeadm:cluster-admins, a group only
        // kubeadm binds. A node's kubelet authorizes either (logs, exec) as cluster-admin.
        let (kubelet_client_cert, kubelet_client_key) =
            leaf(&ca, "kube-apiserver-kubelet-client", Some("system:masters"), Vec::new(), vec![ClientAuth])?;
        let front_proxy_ca = authority("front-proxy-ca")?;
        let (front_proxy_client_cert, front_proxy_client_key) =
            leaf(&front_proxy_ca, "front-proxy-client", None, Vec::new(), vec![ClientAuth])?;

        let node = match node {
            Some(n) => {
                let (kubelet_cert, kubelet_key) =
                    leaf(&ca, &format!("system:node:{}", n.name), Some("system:nodes"), Vec::new(), vec![ClientAuth])?;
                let (proxy_cert, proxy_key) = leaf(&ca, "system:kube-proxy", None, Vec::new(), vec![ClientAuth])?;
                Some(NodePki { kubelet_cert, kubelet_key, proxy_cert, proxy_key })
            }
            None => None,
        };
        let (sa_key, sa_pub) = rsa_key()?;
        Ok(Pki {
            node,
            ca_cert: ca.cert,
            ca_key: ca.key,
            serving_cert,
            serving_key,
            admin_cert,
            admin_key,
            sa_key,
            sa_pub,
            etcd_ca_cert: etcd_ca.cert,
            etcd_ca_key: etcd_ca.key,
            etcd_server_cert,
            etcd_server_key,
            etcd_client_cert,
            etcd_client_key,
            controller_manager_cert,
            controller_manager_key,
            scheduler_cert,
            scheduler_key,
            kubelet_client_cert,
            kubelet_client_key,
            front_proxy_ca_cert: front_proxy_ca.cert,
            front_proxy_ca_key: front_proxy_ca.key,
            front_proxy_client_cert,
            front_proxy_client_key,
        })
    }

    /// Writes every file into `dir` (created 0700), each 0600 from its creation.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        private_dir(dir)?;
        private_dir(&dir.join("etcd"))?;
        for (file, pem) in [
            ("ca.crt", &self.ca_cert),
            ("ca.key", &self.ca_key),
            ("apiserver.crt", &self.serving_cert),
            ("apiserver.key", &self.serving_key),
            ("admin.crt", &self.admin_cert),
            ("admin.key", &self.admin_key),
            ("sa.key", &self.sa_key),
            ("sa.pub", &self.sa_pub),
            (files::ETCD_CA, &self.etcd_ca_cert),
            ("etcd/ca.key", &self.etcd_ca_key),
            (files::ETCD_SERVER_CERT, &self.etcd_server_cert),
            (files::ETCD_SERVER_KEY, &self.etcd_server_key),
            (files::ETCD_CLIENT_CERT, &self.etcd_client_cert),
            (files::ETCD_CLIENT_KEY, &self.etcd_client_key),
            (files::CONTROLLER_MANAGER_CERT, &self.controller_manager_cert),
            (files::CONTROLLER_MANAGER_KEY, &self.controller_manager_key),
            (files::SCHEDULER_CERT, &self.scheduler_cert),
            (files::SCHEDULER_KEY, &self.scheduler_key),
            (files::KUBELET_CLIENT_CERT, &self.kubelet_client_cert),
            (files::KUBELET_CLIENT_KEY, &self.kubelet_client_key),
            (files::FRONT_PROXY_CA, &self.front_proxy_ca_cert),
            ("front-proxy-ca.key", &self.front_proxy_ca_key),
            (files::FRONT_PROXY_CLIENT_CERT, &self.front_proxy_client_cert),
            (files::FRONT_PROXY_CLIENT_KEY, &self.front_proxy_client_key),
        ] {
            write_private(&dir.join(file), pem.as_bytes())?;
        }
        Ok(())
    }
}

/// Creates a directory readable by its owner only (mode 0700 from creation).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

/// Writes `contents` to `path` readable by its owner only: a temporary file created 0600,
/// then renamed over `path`, so that no reader ever sees it half-written or wider open.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        f.write_all(contents)?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn name(common: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn dns(s: &str) -> Result<SanType, PkiError> {
    Ok(SanType::DnsName(s.try_into().map_err(|error| PkiError::DnsName { name: s.to_string(), error })?))
}

/// A ServiceAccount signing key pair: the private key (PKCS#1 PEM) and its public key (PKIX PEM).
pub(super) fn rsa_key() -> Result<(String, String), PkiError> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::pkcs8::EncodePublicKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(PkiError::RsaKey)?;
    let private = key.to_pkcs1_pem(LineEnding::LF).map_err(|e| PkiError::Pem(e.to_string()))?.to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| PkiError::Pem(e.to_string()))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn every_file_is_private_from_creation() {
        let root = std::env::temp_dir().join(format!("kubeproof-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        private_dir(&root).expect("root");
        let pki = Pki::generate().expect("pki");
        pki.write(&root.join("pki")).expect("write");
        let mut seen = 0;
        let mut dirs = vec![root.join("pki")];
        while let Some(dir) = dirs.pop() {
            assert_eq!(std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777, 0o700, "{}", dir.display());
            for entry in std::fs::read_dir(&dir).expect("read").flatten() {
                let meta = entry.metadata().expect("meta");
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else {
                    seen += 1;
                    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", entry.path().display());
                }
            }
        }
        // Rewriting keeps the mode and leaves no temporary file.
        write_private(&root.join("pki/ca.crt"), b"again").expect("rewrite");
        assert_eq!(std::fs::read(root.join("pki/ca.crt")).expect("read"), b"again");
        let count =
            std::fs::read_dir(root.join("pki")).expect("read").count() + std::fs::read_dir(root.join("pki/etcd")).expect("read").count();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(seen, 24, "every certificate and key was written");
        assert_eq!(count, 25, "24 files and the etcd directory, no temporary file");
        assert!(pki.etcd_ca_cert != pki.ca_cert, "etcd has its own CA");
        assert!(pki.front_proxy_ca_cert != pki.ca_cert, "the front proxy has its own CA");
    }
}
