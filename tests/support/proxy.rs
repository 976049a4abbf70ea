//! A loopback TCP forwarder that counts the connections a client opens: evidence of how many
//! channels a client really uses, and of its attempts to reach a server that is down. It
//! forwards bytes only (TLS passes through untouched), so the client talks to the real server.
#![allow(dead_code)] // each test file uses its own subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running forwarder. Dropping it stops accepting (connections already made go on).
pub struct CountingProxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    refused_upstream: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (refused, refused_upstream) = watch::channel(0);
        let refused = Arc::new(refused);
        let task = tokio::spawn({
            let accepted = accepted.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let refused = refused.clone();
                    tokio::spawn(async move {
                        match TcpStream::connect(upstream).await {
                            Ok(mut server) => {
                                let _ = server.set_nodelay(true);
                                let _ = client.set_nodelay(true);
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                            // The server is down: the client sees its connection closed.
                            Err(_) => refused.send_modify(|n| *n += 1),
                        }
                    });
                }
            }
        });
        CountingProxy {
            addr,
            accepted,
            refused_upstream,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://` with `tls`): the URI clients dial.
    pub fn uri(&self, tls: bool) -> String {
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Connections the client opened so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections opened while the server did not accept them.
    pub fn refused_upstream(&self) -> usize {
        *self.refused_upstream.borrow()
    }

    /// Resolves once `count` connections have met a server that was down.
    pub async fn refused_at_least(&self, count: usize) {
        let mut refused = self.refused_upstream.clone();
        refused
            .wait_for(|n| *n >= count)
            .await
            .expect("the proxy runs as long as it is not dropped");
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
