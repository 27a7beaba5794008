//! The simulator's accept loop. Like the daemon's (`crate::http::serve`) it serves hyper's
//! HTTP/1 per connection, but each connection task also holds a duplicate of its socket and a
//! [`ConnControl`] that handlers reach through a request extension, so a fault can end the
//! connection the way a broken network does: a real RST (SO_LINGER 0, then close) or a plain
//! close in the middle of a response.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight responses get to finish once the simulator stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// How a handler wants its connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kill {
    /// SO_LINGER 0 and close: the peer gets a TCP RST (ECONNRESET).
    Reset,
    /// Drop the connection: FIN, whatever was written so far stays written.
    Close,
}

/// The handle a handler uses to end its own connection. One per connection, in every
/// request's extensions.
#[derive(Clone)]
pub(super) struct ConnControl {
    tx: Arc<Mutex<Option<oneshot::Sender<Kill>>>>,
}

impl ConnControl {
    fn new() -> (ConnControl, oneshot::Receiver<Kill>) {
        let (tx, rx) = oneshot::channel();
        (ConnControl { tx: Arc::new(Mutex::new(Some(tx))) }, rx)
    }

    /// Ends the connection. The handler's future is dropped with it, so a handler calls this
    /// and then waits forever.
    pub(super) fn kill(&self, how: Kill) {
        let sender = self.tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(tx) = sender {
            let _ = tx.send(how);
        }
    }
}

/// A second file descriptor on the connection's socket: setting SO_LINGER 0 through it and
/// closing both makes the kernel send RST. (Socket options belong to the socket, not the fd.)
fn duplicate(stream: &TcpStream) -> Option<socket2::Socket> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        match stream.as_fd().try_clone_to_owned() {
            Ok(fd) => Some(socket2::Socket::from(fd)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot duplicate the socket; resets become plain closes");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = stream;
        None
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then gives in-flight responses
/// [`DRAIN_TIMEOUT`] and closes everything (hanging requests end at once).
pub(super) async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    let mut connections = JoinSet::new();

    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let dup = duplicate(&stream);
        let (control, kill) = ConnControl::new();
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(control.clone());
                req.map(axum::body::Body::new)
            })
            .map_err(|e: Infallible| match e {});
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut conn = Box::pin(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "simulator connection ended with an error");
                    }
                }
                Ok(how) = kill => {
                    if how == Kill::Reset
                        && let Some(socket) = &dup
                        && let Err(e) = socket.set_linger(Some(Duration::ZERO))
                    {
                        tracing::warn!(error = %e, "cannot set SO_LINGER 0; the reset becomes a close");
                    }
                    tracing::debug!(%peer, ?how, "simulator ended the connection");
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn.as_mut()).await;
                }
            }
            // `conn` (and with it the original fd) drops here, then `dup`: the last close sends
            // the RST when linger is 0.
            drop(conn);
            drop(dup);
        });
    }

    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN_TIMEOUT * 2, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        connections.abort_all();
    }
}
