//! The plain HTTP/1.1 ports (Cloud Storage, the token endpoint): an axum router served by
//! hyper with the header-read timeout the gRPC/REST port has.
//!
//! `axum::serve` sets no timer, and hyper enforces its HTTP/1 header-read timeout only with
//! one, so a client that opens a connection and sends half a request head would hold it (and
//! its task) for ever. tonic's server, which serves REST, sets a timer and so has hyper's
//! default of 30 s; these ports get the same ([`HEADER_READ_TIMEOUT`]). Bodies take as long as
//! they take (an upload's chunk may be large).

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long a client has to send a request's head once its connection is open or its last
/// answer was sent: hyper's default, the REST port's.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then waits for the connections
/// under way to end. `header_read_timeout` is [`HEADER_READ_TIMEOUT`] but in tests.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // Out of file descriptors and the like: the next accept may work.
                    tracing::debug!(%error, "an emulator HTTP port could not accept");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let connection =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that went away or sent no head in time: nothing to report.
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_connection_whose_request_head_never_ends_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            app,
            Duration::from_millis(200),
            async move {
                let _ = stopped.await;
            },
        ));

        // A whole request is answered.
        let mut whole = tokio::net::TcpStream::connect(addr).await.unwrap();
        whole
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        whole.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        // Half a head: the server closes the connection. (The bound only keeps a broken
        // server from hanging the test; the timeout under test is 200 ms.)
        let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(120), half.read_to_end(&mut rest))
            .await
            .expect("the server kept a connection whose head never ended");
        assert!(closed.is_err() || !String::from_utf8_lossy(&rest).contains(" 200 "));

        stop.send(()).unwrap();
        server.await.unwrap();
    }
}
