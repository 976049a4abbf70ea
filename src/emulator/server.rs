//! Binding and serving: the gRPC server (JobService and Operations, plain or TLS, answering
//! REST on the same port) and the token endpoint (plain HTTP), both stopped by one shutdown
//! signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::http1::{self, HEADER_READ_TIMEOUT};
use super::lifecycle::Durations;
use super::operations::OperationsService;
use super::rest::{self, Services};
use super::row_faults::RowFaults;
use super::service::JobServiceImpl;
use super::state::EmulatorState;
use super::storage::{self, ObjectStore, StorageApi, StorageFaults};
use super::tls::TlsIdentity;
use super::tls_incoming;
use super::token_endpoint::{self, TokenEndpoint};
use crate::Error;
use crate::proto::google::longrunning::operations_server::OperationsServer;
use crate::v1::job_service_server::JobServiceServer;

/// What one running emulator was configured with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) location: String,
    pub(crate) require_auth: bool,
    /// Whether each call's metadata is kept for [`Emulator::calls`](super::Emulator::calls).
    pub(crate) record_calls: bool,
    pub(crate) durations: Durations,
    pub(crate) operation_duration: Duration,
    /// The objects: the local folder standing in for gs://, or memory.
    pub(crate) store: ObjectStore,
    /// Row failures and expiry for jobs that read the store.
    pub(crate) row_faults: RowFaults,
    /// What the emulator does where the evidence is thin.
    pub(crate) truth: super::truth::Truth,
    /// Storage requests failed and downloads dropped, at rates.
    pub(crate) storage_faults: Arc<StorageFaults>,
    /// Where the storage API listens; `None`: a free port on the gRPC server's interface.
    pub(crate) storage_addr: Option<SocketAddr>,
    /// Where the token endpoint listens; `None`: a free port on the gRPC server's interface.
    pub(crate) token_addr: Option<SocketAddr>,
    /// The BigQuery that jobs over tables read and write (`None`: they read and write nothing).
    #[cfg(feature = "bigquery")]
    pub(crate) bigquery: Option<crate::bigquery::BigQueryBuilder>,
}

/// The running servers.
pub(crate) struct Running {
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) token_addr: SocketAddr,
    /// The Cloud Storage JSON API (plain HTTP).
    pub(crate) storage_addr: SocketAddr,
    pub(crate) storage: Arc<StorageApi>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

/// A port that could not be bound or read: the one kind of emulator start failure that is
/// about the network.
fn transport(endpoint: String, what: &str, error: impl std::fmt::Display) -> Error {
    Error::Transport {
        endpoint,
        message: format!("{what}: {error}"),
        failure: crate::error::TransportFailure::Other,
    }
}

/// Resolves when the `Emulator` asks for shutdown or is dropped.
async fn stopped(mut signal: watch::Receiver<bool>) {
    // An error means the sender is gone: the `Emulator` was dropped, stop too.
    let _ = signal.wait_for(|stop| *stop).await;
}

pub(crate) async fn serve(
    addr: SocketAddr,
    config: Config,
    state: EmulatorState,
    tls: Option<&TlsIdentity>,
    token_lifetime: Duration,
) -> Result<Running, Error> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        transport(
            addr.to_string(),
            "could not bind the emulator's gRPC port",
            e,
        )
    })?;
    let grpc_addr = listener
        .local_addr()
        .map_err(|e| transport(addr.to_string(), "no local address", e))?;
    // The token endpoint listens on the same interface, on a port of its own.
    let token_bind = config
        .token_addr
        .unwrap_or_else(|| SocketAddr::new(addr.ip(), 0));
    let token_listener = TcpListener::bind(token_bind).await.map_err(|e| {
        transport(
            token_bind.to_string(),
            "could not bind the token endpoint",
            e,
        )
    })?;
    let token_addr = token_listener
        .local_addr()
        .map_err(|e| transport(addr.to_string(), "no local address", e))?;

    // The storage API too, plain HTTP as STORAGE_EMULATOR_HOST expects.
    let storage_bind = config
        .storage_addr
        .unwrap_or_else(|| SocketAddr::new(addr.ip(), 0));
    let storage_listener = TcpListener::bind(storage_bind).await.map_err(|e| {
        transport(
            storage_bind.to_string(),
            "could not bind the storage port",
            e,
        )
    })?;
    let storage_addr = storage_listener
        .local_addr()
        .map_err(|e| transport(addr.to_string(), "no local address", e))?;
    let storage_api = Arc::new(StorageApi::new(
        config.store.clone(),
        state.clone(),
        config.require_auth,
        storage_uri(storage_addr),
        config.record_calls,
        config.storage_faults.clone(),
    ));

    // TLS offering h2 and http/1.1 (tls_incoming), since REST clients share the port.
    let acceptor = tls
        .map(tls_incoming::acceptor)
        .transpose()
        .map_err(|e| Error::internal(format!("the emulator's TLS certificate was refused: {e}")))?;
    let config = Arc::new(config);
    let jobs = JobServiceImpl {
        state: state.clone(),
        config: config.clone(),
    };
    let operations = OperationsService {
        state: state.clone(),
        config,
    };
    let grpc_routes = Routes::new(JobServiceServer::new(jobs.clone()))
        .add_service(OperationsServer::new(operations.clone()));
    // REST answers on the same port (rest::one_port), so the server takes HTTP/1.1 as well.
    let router = Server::builder()
        .accept_http1(true)
        .add_routes(rest::one_port(grpc_routes, Services { jobs, operations }));

    let (shutdown, signal) = watch::channel(false);
    let grpc_signal = stopped(signal.clone());
    let grpc = tokio::spawn(async move {
        let served = match acceptor {
            Some(acceptor) => {
                let incoming = tls_incoming::incoming(listener, acceptor);
                router
                    .serve_with_incoming_shutdown(incoming, grpc_signal)
                    .await
            }
            None => {
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                router
                    .serve_with_incoming_shutdown(incoming, grpc_signal)
                    .await
            }
        };
        if let Err(error) = served {
            tracing::error!(%error, "the emulator's gRPC server stopped");
        }
    });

    let endpoint = TokenEndpoint {
        state,
        token_uri: token_uri(token_addr),
        lifetime: token_lifetime,
    };
    let token_signal = stopped(signal);
    let tokens = tokio::spawn(async move {
        let app = token_endpoint::router(endpoint);
        http1::serve(token_listener, app, HEADER_READ_TIMEOUT, token_signal).await;
    });

    let storage_signal = stopped(shutdown.subscribe());
    let storage = storage_api.clone();
    let objects = tokio::spawn(async move {
        let app = storage::router(storage_api);
        http1::serve(storage_listener, app, HEADER_READ_TIMEOUT, storage_signal).await;
    });

    Ok(Running {
        grpc_addr,
        token_addr,
        storage_addr,
        storage,
        shutdown,
        tasks: vec![grpc, tokens, objects],
    })
}

/// An address clients can dial: a server bound to every interface is reached on loopback.
pub(crate) fn dialable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let loopback = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(loopback, addr.port())
    } else {
        addr
    }
}

/// The storage endpoint, as `STORAGE_EMULATOR_HOST` takes it.
pub(crate) fn storage_uri(addr: SocketAddr) -> String {
    format!("http://{}", dialable(addr))
}

pub(crate) fn token_uri(addr: SocketAddr) -> String {
    format!("http://{}/token", dialable(addr))
}
