//! Running the service: bind, accept within the connection limits, serve HTTP/1.1 with a
//! header deadline, shut down gracefully.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use usagedesk_domain::Clock;

use crate::http::{canonical_addr, router, AppState};
use crate::limits::Limits;
use crate::storage::Store;

/// A service running on a background task. Dropping it does not stop it; call [`stop`](Self::stop).
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A handle that can stop the server from elsewhere (e.g. a progress callback).
    pub fn stopper(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown().await
    }

    /// [`stop`](Self::stop) through a borrow, for owners that start another server later.
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

/// Starts the service on `addr` (use `127.0.0.1:0` for a free port) with the default
/// [`Limits`].
pub async fn spawn(
    storage: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    addr: SocketAddr,
) -> std::io::Result<RunningServer> {
    spawn_with(storage, clock, addr, Limits::default()).await
}

/// [`spawn`] with the given limits.
pub async fn spawn_with(
    storage: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    addr: SocketAddr,
    limits: Limits,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let limits = Arc::new(limits);
    let app = router(AppState::new(storage, clock, limits.clone()));
    let task = tokio::spawn(accept(listener, app, limits, rx));
    Ok(RunningServer {
        addr,
        shutdown: Some(tx),
        task,
    })
}

/// Open connections per client address, for the per-address connection limit.
struct Addresses {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an address; gives its place back when dropped.
struct AddressSlot {
    addresses: Arc<Addresses>,
    ip: IpAddr,
}

impl Addresses {
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            addresses: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .addresses
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Errors of one incoming connection, not of the listener: go on accepting.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn accept(
    listener: TcpListener,
    app: Router,
    limits: Arc<Limits>,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let addresses = Arc::new(Addresses {
        max: limits.max_connections_per_address.max(1),
        open: Mutex::new(HashMap::new()),
    });
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        // At the connection limit, stop accepting: further clients wait in the OS's queue.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close.
                    tracing::error!("cannot accept connections: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let ip = canonical_addr(peer.ip());
        let slot = if limits.trusted_proxies.contains(&ip) {
            None
        } else {
            match addresses.take(ip) {
                Some(s) => Some(s),
                None => {
                    tracing::debug!("closed a connection of {ip}: too many open from it");
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection of {ip} ended: {e}");
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    // Requests in flight may finish, within the request deadline.
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.request_timeout) => {
            tracing::warn!("stopped with requests still running after {} s", limits.request_timeout.as_secs());
        }
    }
    Ok(())
}
