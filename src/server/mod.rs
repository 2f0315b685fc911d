//! The accept loop: hyper, driven by hand so that slow clients meet
//! timeouts (`axum::serve` sets none), and so that shutdown is graceful;
//! connections that open with a stream request are answered without hyper
//! (`event_streams.rs`).
//!
//! - A client gets [`Timeouts::header`] to send a request's head, on a new
//!   connection and between requests on a kept-alive one (slowloris).
//! - Running out of file descriptors is a pause, not a crash: the loop
//!   waits a moment and accepts again.
//! - At shutdown the listener closes, every connection is asked to finish
//!   its current response, and the loop waits (boundedly) for them.

mod event_streams;

use std::{future::Future, net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{
        conn::auto,
        graceful::{GracefulShutdown, Watcher},
    },
    service::TowerToHyperService,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// Largest request head (and read buffer) per connection.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How long shutdown waits for connections to finish their responses.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Time allowed to send a request's head.
    pub header: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header)
        // hyper's read buffer may otherwise grow to ~400 KiB per
        // connection; 8 KiB request heads are what nginx allows too.
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)));
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let tracker = TaskTracker::new();
    let closing = CancellationToken::new();
    let mut shutdown = pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: connections will close and free
                    // descriptors; back off instead of spinning or dying.
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            stream,
            peer,
            app: app.clone(),
            builder: builder.clone(),
            graceful: graceful.watcher(),
            timeouts,
            closing: closing.clone(),
        };
        tracker.spawn(connection.run());
    }

    drop(listener);
    closing.cancel();
    // hyper's connections finish their current answer; streams answered
    // by `event_streams` end with the shutdown token (see `lib.rs`).
    tracker.close();
    let drained = async {
        graceful.shutdown().await;
        tracker.wait().await;
    };
    tokio::select! {
        () = drained => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("some connections did not finish within {DRAIN:?}");
        }
    }
}

/// One accepted connection, until it closes.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: Watcher,
    timeouts: Timeouts,
    /// Cancelled at shutdown: a connection still waiting for its first
    /// request is closed then, as hyper closes its idle ones.
    closing: CancellationToken,
}

impl Connection {
    async fn run(self) {
        let Connection {
            stream,
            peer,
            app,
            builder,
            graceful,
            timeouts,
            closing,
        } = self;
        // The same allowance hyper gives for a request head; a client that
        // sends nothing in time is dropped, as hyper would.
        let sniffed = tokio::select! {
            sniffed = tokio::time::timeout(timeouts.header, event_streams::sniff(&stream)) => {
                match sniffed {
                    Ok(Ok(sniffed)) => sniffed,
                    Ok(Err(_)) | Err(_) => return,
                }
            }
            () = closing.cancelled() => return,
        };
        match sniffed {
            Some(first) => {
                drop((builder, graceful, closing));
                event_streams::serve(stream, peer, first, app).await;
            }
            // Boxed: hyper's connection is a large future, and every
            // stream's task would otherwise be as large.
            None => Box::pin(serve_http(stream, peer, app, &builder, graceful)).await,
        }
    }
}

async fn serve_http(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: &auto::Builder<TokioExecutor>,
    graceful: Watcher,
) {
    let service = app.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.map(Body::new)
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .into_owned();
    if let Err(e) = graceful.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
