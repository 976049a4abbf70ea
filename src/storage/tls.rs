//! The HTTP client under gcloud-storage: reqwest over rustls with ring (the provider tonic's
//! TLS uses too, so no second crypto library is built), trusting Mozilla's roots and any extra
//! CA given (the emulator's, a proxy's).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{Error, Field, Result};

/// A reqwest client trusting the webpki roots and `extra_ca_pems`, giving up on a connection
/// not made within `connect_timeout`.
pub(crate) fn http_client(
    extra_ca_pems: &[String],
    connect_timeout: Option<std::time::Duration>,
) -> Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for (i, pem) in extra_ca_pems.iter().enumerate() {
        let number = i + 1;
        let mut found = false;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| {
                Error::invalid(
                    Field::CaPem,
                    format!(
                        "CA certificate #{number} is not a PEM certificate ({e}): expected \
                         -----BEGIN CERTIFICATE-----"
                    ),
                )
            })?;
            roots.add(cert).map_err(|e| {
                Error::invalid(
                    Field::CaPem,
                    format!("CA certificate #{number} cannot be trusted as a CA: {e}"),
                )
            })?;
            found = true;
        }
        if !found {
            return Err(Error::invalid(
                Field::CaPem,
                format!(
                    "CA certificate #{number} holds no certificate: expected a PEM block \
                     -----BEGIN CERTIFICATE-----"
                ),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("could not set up TLS for Cloud Storage: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder().tls_backend_preconfigured(config);
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    builder.build().map_err(|e| {
        Error::internal(format!(
            "could not make the Cloud Storage HTTP client: {}",
            crate::error::flatten(&e)
        ))
    })
}
