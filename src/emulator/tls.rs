//! The emulator's TLS identity: a throwaway CA made at start, and a server certificate it signs
//! for `localhost` and `127.0.0.1`. Clients trust the CA's PEM.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A server certificate and key, and the CA that clients must trust.
#[derive(Clone)]
pub(crate) struct TlsIdentity {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    /// The CA only: the server's private key never goes to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

/// Makes a fresh CA and a server certificate for loopback names. A separate CA (rather than one
/// self-signed leaf) is what webpki-based clients accept as a trust anchor.
pub(crate) fn loopback_identity() -> Result<TlsIdentity, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vertex-batch emulator CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &ca)?;
    Ok(TlsIdentity {
        ca_pem: ca.pem(),
        cert_pem: server_cert.pem(),
        key_pem: server_key.serialize_pem(),
    })
}
