//! The accept loop: hyper, driven by hand so that slow clients meet
//! timeouts (`axum::serve` sets none), and so that shutdown is graceful;
//! connections that open with a stream request are answered without hyper
//! (`event_streams.rs`).
//!
//! - A client gets [`Timeouts::header`] to send a request's head, on a new
//!   connection and between requests on a kept-alive one (slowloris).
//! - A request refused before its body was read does not break the next
//!   one on the connection (`unread_body.rs`).
//! - A connection with no request in flight for [`Timeouts::idle`] is
//!   closed (gracefully: HTTP/2 says GOAWAY), whatever its protocol; an
//!   HTTP/2 peer that stops answering pings is dropped.
//! - Running out of file descriptors is a pause, not a crash: the loop
//!   waits a moment and accepts again.
//! - At shutdown the listener closes, every connection is asked to finish
//!   its current response, and the loop waits (boundedly) for them.
//! - With `--tls-cert` or `--acme-domain`, every connection is HTTPS
//!   (`tls.rs`, `acme.rs`), HTTP/2 when the client offers it, tuned for
//!   many long-lived streams on one connection; all of it goes through
//!   hyper.

mod acme;
mod event_streams;
mod polls;
mod tls;
mod unread_body;

pub use acme::Acme;
pub use tls::{Source as CertificateSource, TlsAcceptor, acceptor as tls_acceptor};

use event_streams::Sniffed;
pub use event_streams::{StreamRequest, parse as parse_stream_request};

use crate::routes::SteadyPolls;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request, response::Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    time::Instant,
};
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
    /// Time a connection may stay open with no request in flight.
    pub idle: Duration,
}

/// How often an HTTP/2 connection is pinged, and how long an answer may
/// take before the connection is given up.
const H2_PING_EVERY: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Streams one HTTP/2 connection may have open at once: a browser's tabs
/// share one connection per site, each with a stream or a poll, plus its
/// page loads.
const H2_MAX_STREAMS: u32 = 256;
/// What a client may send before we read it, per stream and per
/// connection: a GIF upload of a few MiB goes through without waiting on
/// window updates, and one slow upload cannot hold the others back.
const H2_STREAM_WINDOW: u32 = 1024 * 1024;
const H2_CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
/// What hyper buffers per stream for a slow reader before the stream
/// waits: a stalled viewer's events wait in its feed, not here.
const H2_SEND_BUFFER: usize = 64 * 1024;

/// Serves `app` on `listener` until `shutdown` resolves, then drains;
/// with `tls`, every connection is HTTPS. With `steady`, connections that
/// open with a room poll are served by `polls.rs`.
pub async fn serve(
    listener: TcpListener,
    (app, steady): (Router, Option<SteadyPolls>),
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
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
        .keep_alive_interval(Some(H2_PING_EVERY))
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .max_send_buf_size(H2_SEND_BUFFER)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let builder = Arc::new(builder);
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
            steady: steady.clone(),
            builder: builder.clone(),
            timeouts,
            tls: tls.clone(),
            closing: closing.clone(),
            tracker: tracker.clone(),
        };
        tracker.spawn(connection.run());
    }

    drop(listener);
    // hyper's connections finish their current answer; streams end with
    // the shutdown token (see `lib.rs`).
    closing.cancel();
    tracker.close();
    tokio::select! {
        () = tracker.wait() => {}
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
    steady: Option<SteadyPolls>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
    /// Cancelled at shutdown: every connection is asked to finish its
    /// current answer and close.
    closing: CancellationToken,
    /// The server's connection tasks, which shutdown waits for.
    tracker: TaskTracker,
}

impl Connection {
    async fn run(mut self) {
        match self.tls.take() {
            // Boxed: a TLS handshake's state is large, and this task is
            // every connection's, as long as it lasts.
            Some(tls) => Box::pin(self.serve_tls(tls)).await,
            None => self.serve_plain().await,
        }
    }

    async fn serve_tls(self, tls: TlsAcceptor) {
        let Connection {
            stream,
            peer,
            app,
            builder,
            timeouts,
            closing,
            ..
        } = self;
        // The handshake gets the allowance of a request head.
        let accepted = tokio::select! {
            accepted = tokio::time::timeout(timeouts.header, tls.accept(stream)) => accepted,
            () = closing.cancelled() => return,
        };
        match accepted {
            Ok(Ok(stream)) if tls::is_challenge(stream.get_ref().1) => {}
            Ok(Ok(stream)) => {
                Box::pin(serve_http(stream, peer, app, &builder, timeouts, closing)).await;
            }
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake too slow"),
        }
    }

    async fn serve_plain(self) {
        let Connection {
            stream,
            peer,
            app,
            steady,
            builder,
            timeouts,
            closing,
            tracker,
            ..
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
        // Each kind on a task of its own, and this one ends: a connection
        // that waits (a stream, a poll) then holds its kind's state only,
        // not also this task's (1.5 KiB of 12 per waiting poll).
        match (sniffed, steady) {
            (Sniffed::Stream(first), _) => {
                drop(builder);
                tracker.spawn(async move {
                    let _ = event_streams::serve(stream, peer, *first, app, closing).await;
                });
            }
            (Sniffed::RoomPoll, Some(steady)) => {
                let connection = polls::PollConnection {
                    stream,
                    peer,
                    app,
                    steady,
                    builder,
                    timeouts,
                    closing,
                };
                tracker.spawn(connection.serve());
            }
            _ => {
                tracker.spawn(async move {
                    serve_http(stream, peer, app, &builder, timeouts, closing).await;
                });
            }
        }
    }
}

async fn serve_http(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    app: Router,
    builder: &auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    closing: CancellationToken,
) {
    let activity = Arc::new(Activity::default());
    let in_flight = activity.clone();
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let (request, held) = unread_body::hold(request);
        // In flight from the request until its answer's body is gone.
        let busy = Busy::start(&in_flight);
        let answer = app.clone().oneshot(request);
        async move {
            let mut answer: Response = answer.await?;
            if let Some(held) = held {
                held.finish(&mut answer).await;
            }
            Ok::<_, Infallible>(answer.map(|body| Body::new(BusyBody { body, _busy: busy })))
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .into_owned();
    let mut connection = pin!(connection);
    let mut closing_down = false;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = closing.cancelled(), if !closing_down => {}
            () = activity.idle_for(timeouts.idle), if !closing_down => {}
        }
        connection.as_mut().graceful_shutdown();
        closing_down = true;
    }
}

/// Requests in flight on one connection, and when the last one ended:
/// plain atomics, so a request costs neither a lock nor a wake-up of the
/// connection; the idle clock looks at them only when its timer fires.
struct Activity {
    in_flight: AtomicUsize,
    /// When the last request in flight ended, in milliseconds since `born`.
    ended: AtomicU64,
    born: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            ended: AtomicU64::new(0),
            born: Instant::now(),
        }
    }
}

impl Activity {
    /// Resolves once the connection has had nothing in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let now = Instant::now();
            let idle_since = match self.in_flight.load(Ordering::Acquire) {
                0 => self.born + Duration::from_millis(self.ended.load(Ordering::Acquire)),
                _ => now,
            };
            let deadline = idle_since + idle;
            if now >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// One request in flight; dropped with its answer's body.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Busy {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let ended = activity.born.elapsed().as_millis() as u64;
        // Before the count drops, so the clock never sees an idle
        // connection with an older end than this one.
        activity.ended.fetch_max(ended, Ordering::AcqRel);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request in flight while it lives.
struct BusyBody {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_with_nothing_in_flight() {
        let activity = Arc::new(Activity::default());
        let idle = Duration::from_secs(60);
        let busy = Busy::start(&activity);
        let waited = tokio::time::timeout(Duration::from_secs(600), activity.idle_for(idle)).await;
        assert!(waited.is_err(), "a request in flight for ten minutes");
        drop(busy);
        let started = Instant::now();
        activity.idle_for(idle).await;
        assert_eq!(started.elapsed(), idle, "then idle after the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_request_restarts_the_idle_clock() {
        let activity = Arc::new(Activity::default());
        let idle = Duration::from_secs(60);
        tokio::time::sleep(Duration::from_secs(50)).await;
        drop(Busy::start(&activity));
        let started = Instant::now();
        activity.idle_for(idle).await;
        assert_eq!(started.elapsed(), idle);
    }
}
