//! TLS for the emulator's one port, which serves gRPC and REST alike.
//!
//! tonic's own server TLS offers only `h2` in ALPN, and a REST client that speaks only
//! HTTP/1.1 (reqwest without its `http2` feature, `curl --http1.1`) is then refused during the
//! handshake. Here ALPN offers `h2` first (gRPC clients, and REST clients that can) and
//! `http/1.1`; the connection is then served by tonic's server, which is set to accept both.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use super::tls::TlsIdentity;

/// A client that opens a connection and never finishes its handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many finished handshakes may wait for the server to take them.
const READY_QUEUE: usize = 64;

/// The server side of TLS for `identity`, offering `h2` and `http/1.1`.
pub(crate) fn acceptor(identity: &TlsIdentity) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| format!("the server key: {e}"))?;
    // The provider is named rather than taken from the process default: a program that links
    // both ring and aws-lc-rs has no default, and the emulator must not depend on which.
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the server certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The connections of `listener`, each through a TLS handshake done on a task of its own, so a
/// slow or silent client holds up no one else. A failed handshake drops that connection only.
pub(crate) fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
    let (ready, mut taken) = mpsc::channel(READY_QUEUE);
    // The accept loop ends when the server drops the stream (the receiver) at shutdown.
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: back off a little rather than spin.
                        tracing::debug!(%error, "the emulator could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                () = ready.closed() => return,
            };
            // Small unary calls: no Nagle delay, as tonic sets for plain TCP.
            let _ = tcp.set_nodelay(true);
            let (acceptor, ready) = (acceptor.clone(), ready.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = ready.send(Ok(tls)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "a TLS handshake failed"),
                    Err(_) => tracing::debug!("a TLS handshake timed out"),
                }
            });
        }
    });
    futures_util::stream::poll_fn(move |cx| taken.poll_recv(cx))
}
