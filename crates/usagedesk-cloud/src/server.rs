//! Running the service: bind, serve, shut down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use usagedesk_domain::Clock;

use crate::http::{router, AppState};
use crate::storage::Storage;

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

/// Starts the service on `addr` (use `127.0.0.1:0` for a free port).
pub async fn spawn(
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    addr: SocketAddr,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(AppState { storage, clock });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        shutdown: Some(tx),
        task,
    })
}
