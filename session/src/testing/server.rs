//! The HTTP server: routes, listener and shutdown.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::state::Shared;
use super::{authorize, token};

/// A running server; dropping it stops it.
pub(crate) struct Server {
    addr: SocketAddr,
    // Dropped with the server, which resolves the graceful-shutdown signal.
    _shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds a random port of `127.0.0.1` and serves there on a spawned task.
    pub(crate) async fn spawn(shared: Arc<Shared>) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // `/authorize/` is not routed, so it gets a 404 as Spotify refuses it.
        let router = Router::new()
            .route("/authorize", get(authorize::authorize))
            .route("/api/token", post(token::token))
            .with_state(shared);
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                // An error means the sender was dropped, which is the signal too.
                let _ = signal.await;
            });
            if let Err(error) = serve.await {
                tracing::debug!(%error, "fake accounts service stopped");
            }
        });
        tracing::debug!(port = addr.port(), "fake accounts service listening");
        Ok(Self {
            addr,
            _shutdown: shutdown,
            task,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closes the listener at once; open connections end through the shutdown signal.
        self.task.abort();
    }
}
