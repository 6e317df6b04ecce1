//! A throwaway PKI per control plane: a CA, the apiserver's serving cert, an
//! admin client cert and the service-account signing key; in node mode also the
//! client certs of the kubelet, controller-manager, scheduler and kube-proxy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::error::{Error, Result};

/// The first address of the service range: the `kubernetes` Service that pods reach the
/// API server through.
pub(crate) const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// Files for the apiserver's flags and PEM data for kubeconfigs.
pub(crate) struct Pki {
    pub(crate) ca_cert: PathBuf,
    pub(crate) serving_cert: PathBuf,
    pub(crate) serving_key: PathBuf,
    pub(crate) service_account_public: PathBuf,
    pub(crate) service_account_private: PathBuf,
    pub(crate) ca_pem: String,
    pub(crate) admin_cert_pem: String,
    pub(crate) admin_key_pem: String,
    /// Signs further certificates (node mode).
    pub(crate) authority: Authority,
}

/// The CA, kept to issue the certificates of the node mode's components.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

/// A certificate and its key, PEM-encoded.
pub(crate) struct Issued {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl Authority {
    /// A client certificate: the apiserver maps CN to the user and O to groups.
    pub(crate) fn client(&self, user: &str, groups: &[&str]) -> Result<Issued> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        for group in groups {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *group);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A serving certificate for `name` valid for `ips` and `dns` names.
    pub(crate) fn server(&self, name: &str, ips: &[IpAddr], dns: &[&str]) -> Result<Issued> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        let mut sans: Vec<SanType> = ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
        for name in dns {
            sans.push(SanType::DnsName((*name).try_into()?));
        }
        params.subject_alt_names = sans;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Generates everything into `dir` (which must exist). The serving cert is valid for
/// loopback, `extra_ips`, and the names and address pods use for the `kubernetes` Service.
pub(crate) fn generate(dir: &Path, extra_ips: &[IpAddr]) -> Result<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kvs-testenv-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let authority = Authority {
        issuer: Issuer::new(ca_params, ca_key),
    };

    // Clients connect by IP (the kubeconfig, the Service) or by name; all must verify.
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(KUBERNETES_SERVICE_IP),
    ];
    ips.extend_from_slice(extra_ips);
    let serving = authority.server(
        "kube-apiserver",
        &ips,
        &[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
    )?;
    // system:masters is cluster-admin.
    let admin = authority.client("admin", &["system:masters"])?;
    let service_account = KeyPair::generate()?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        service_account_public: dir.join("sa.pub"),
        service_account_private: dir.join("sa.key"),
        ca_pem: ca_cert.pem(),
        admin_cert_pem: admin.cert_pem,
        admin_key_pem: admin.key_pem,
        authority,
    };
    write(&pki.ca_cert, &pki.ca_pem)?;
    write(&pki.serving_cert, &serving.cert_pem)?;
    write(&pki.serving_key, &serving.key_pem)?;
    write(
        &pki.service_account_public,
        &service_account.public_key_pem(),
    )?;
    write(
        &pki.service_account_private,
        &service_account.serialize_pem(),
    )?;
    Ok(pki)
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
