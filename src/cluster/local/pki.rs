//! The certificates and keys a local control plane needs, generated fresh for every cluster.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
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
}

/// The first address of `--service-cluster-ip-range=10.0.0.0/24`, the `kubernetes` Service.
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

impl Pki {
    pub fn generate() -> Result<Pki, String> {
        let err = |what: &str, e: rcgen::Error| format!("generating the {what}: {e}");

        let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("kubeproof-ca", None);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).map_err(|e| err("CA certificate", e))?;
        let issuer = Issuer::new(ca, &ca_key);

        let serving_key = KeyPair::generate().map_err(|e| err("serving key", e))?;
        let mut serving = CertificateParams::default();
        serving.distinguished_name = name("kube-apiserver", None);
        serving.subject_alt_names = vec![
            dns("localhost")?,
            dns("kubernetes")?,
            dns("kubernetes.default")?,
            dns("kubernetes.default.svc")?,
            dns("kubernetes.default.svc.cluster.local")?,
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V4(SERVICE_IP)),
        ];
        serving.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving.signed_by(&serving_key, &issuer).map_err(|e| err("serving certificate", e))?;

        let admin_key = KeyPair::generate().map_err(|e| err("admin key", e))?;
        let mut admin = CertificateParams::default();
        admin.distinguished_name = name("kubeproof-admin", Some("system:masters"));
        admin.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin.signed_by(&admin_key, &issuer).map_err(|e| err("admin certificate", e))?;

        let (sa_key, sa_pub) = rsa_key()?;
        Ok(Pki {
            ca_cert: ca_cert.pem(),
            ca_key: ca_key.serialize_pem(),
            serving_cert: serving_cert.pem(),
            serving_key: serving_key.serialize_pem(),
            admin_cert: admin_cert.pem(),
            admin_key: admin_key.serialize_pem(),
            sa_key,
            sa_pub,
        })
    }

    /// Writes every file into `dir` (private keys mode 0600).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)?;
        for (file, pem, private) in [
            ("ca.crt", &self.ca_cert, false),
            ("ca.key", &self.ca_key, true),
            ("apiserver.crt", &self.serving_cert, false),
            ("apiserver.key", &self.serving_key, true),
            ("admin.crt", &self.admin_cert, false),
            ("admin.key", &self.admin_key, true),
            ("sa.key", &self.sa_key, true),
            ("sa.pub", &self.sa_pub, false),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, pem)?;
            if private {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(())
    }
}

fn name(common: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn dns(s: &str) -> Result<SanType, String> {
    Ok(SanType::DnsName(s.try_into().map_err(|e| format!("bad DNS name {s}: {e}"))?))
}

fn rsa_key() -> Result<(String, String), String> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::pkcs8::EncodePublicKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| format!("generating the RSA key: {e}"))?;
    let private = key.to_pkcs1_pem(LineEnding::LF).map_err(|e| e.to_string())?.to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
    Ok((private, public))
}
