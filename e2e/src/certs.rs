//! The test cluster's PKI, made fresh for every cluster with rcgen: a CA, the
//! API server's serving certificate, an admin client certificate and the
//! service-account signing key. Made in Rust rather than by openssl in a script
//! so that every test gets its own keys with no extra tool to install.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// Paths of the PEM files that the control plane and its clients use.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate every component trusts.
    pub ca_cert: PathBuf,
    /// The CA key (kube-controller-manager signs CSRs with it).
    pub ca_key: PathBuf,
    /// kube-apiserver's serving certificate.
    pub server_cert: PathBuf,
    /// kube-apiserver's serving key.
    pub server_key: PathBuf,
    /// Client certificate of `admin` in group `system:masters`.
    pub admin_cert: PathBuf,
    /// Client key of `admin`.
    pub admin_key: PathBuf,
    /// Signing key of service-account tokens.
    pub service_account_key: PathBuf,
    /// Its public half, which verifies them.
    pub service_account_pub: PathBuf,
}

fn rcgen_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |source| Error::Certificate { what, source }
}

impl Pki {
    /// Makes a CA and the certificates under `dir`; the serving certificate
    /// is valid for `server_ips` and Kubernetes' in-cluster names.
    pub fn create(dir: &Path, server_ips: &[IpAddr]) -> Result<Pki> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let ca_key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "skylark-e2e-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key_pem = ca_key.serialize_pem();
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(rcgen_err("CA"))?;

        let mut names: Vec<String> = vec![
            "localhost".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "kubernetes.default.svc.cluster.local".into(),
        ];
        names.extend(server_ips.iter().map(ToString::to_string));
        let server_key = KeyPair::generate().map_err(rcgen_err("server key"))?;
        let mut server_params = CertificateParams::new(names).map_err(rcgen_err("server names"))?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server_params
            .signed_by(&server_key, &ca)
            .map_err(rcgen_err("server certificate"))?;

        let admin_key = KeyPair::generate().map_err(rcgen_err("admin key"))?;
        let mut admin_params = CertificateParams::default();
        admin_params.distinguished_name = rcgen::DistinguishedName::new();
        admin_params
            .distinguished_name
            .push(DnType::CommonName, "admin");
        admin_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin = admin_params
            .signed_by(&admin_key, &ca)
            .map_err(rcgen_err("admin certificate"))?;

        let sa_key = KeyPair::generate().map_err(rcgen_err("service-account key"))?;

        let pki = Pki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("apiserver.crt"),
            server_key: dir.join("apiserver.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            service_account_key: dir.join("sa.key"),
            service_account_pub: dir.join("sa.pub"),
        };
        for (path, pem) in [
            (&pki.ca_cert, ca.pem()),
            (&pki.ca_key, ca_key_pem),
            (&pki.server_cert, server.pem()),
            (&pki.server_key, server_key.serialize_pem()),
            (&pki.admin_cert, admin.pem()),
            (&pki.admin_key, admin_key.serialize_pem()),
            (&pki.service_account_key, sa_key.serialize_pem()),
            (&pki.service_account_pub, sa_key.public_key_pem()),
        ] {
            std::fs::write(path, pem).map_err(Error::io(path))?;
        }
        Ok(pki)
    }
}
