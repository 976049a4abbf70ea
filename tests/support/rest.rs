//! An HTTP/1.1 client for the emulator's REST API: hyper's client connection over plain TCP, or
//! over rustls trusting the emulator's CA. One connection per call, as curl makes them.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use vertex_batch::emulator::Emulator;

/// A REST client of one emulator.
#[derive(Clone)]
pub struct Rest {
    addr: std::net::SocketAddr,
    tls: Option<TlsConnector>,
    token: Option<String>,
}

/// An answer: the HTTP status, and the body as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Json,
    pub content_type: String,
}

impl Answer {
    /// The `error.details[]` BadRequest's violated fields, in order.
    pub fn violated_fields(&self) -> Vec<String> {
        let details = self.json["error"]["details"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let bad_request = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .unwrap_or_else(|| panic!("no BadRequest in {:#}", self.json));
        bad_request["fieldViolations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["field"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// `error.message`.
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }
}

impl Rest {
    /// A client of `emu`, over TLS (HTTP/1.1 by ALPN) when the emulator serves TLS.
    pub fn new(emu: &Emulator) -> Self {
        let tls = emu.ca_pem().map(|ca| {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.expect("CA PEM")).expect("CA certificate");
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            // Only HTTP/1.1, as Google's Rust crate and most REST clients speak it.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            TlsConnector::from(Arc::new(config))
        });
        Rest {
            addr: emu.local_addr(),
            tls,
            token: None,
        }
    }

    /// A client of a plain (no TLS) REST endpoint, `http://ADDR` as a launcher's banner says.
    pub fn plain(rest_uri: &str) -> Self {
        let addr = rest_uri
            .strip_prefix("http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("`{rest_uri}` is not http://IP:PORT"));
        Rest {
            addr,
            tls: None,
            token: None,
        }
    }

    /// Sends `authorization: Bearer <token>` with every call.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None).await
    }

    /// One call: `path` is the path and query, e.g. `/v1/projects/p/...?pageSize=2`.
    pub async fn send(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, tcp).await.expect("TLS handshake");
                let (_, session) = tls.get_ref();
                assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
                self.exchange(TokioIo::new(tls), method, path, body).await
            }
            None => self.exchange(TokioIo::new(tcp), method, path, body).await,
        }
    }

    async fn exchange<IO>(&self, io: IO, method: &str, path: &str, body: Option<&str>) -> Answer
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("localhost:{}", self.addr.port()))
            .header("user-agent", "rest-test/1");
        if body.is_some() {
            // As the docs' curl commands send it.
            request = request.header("content-type", "application/json; charset=utf-8");
        }
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .unwrap();
        let response = sender.send_request(request).await.expect("an answer");
        assert_eq!(response.version(), hyper::Version::HTTP_11);
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Answer {
            status,
            json,
            content_type,
        }
    }
}
