//! Abuse limits at the edge: how fast one visitor may post, and how many
//! streams one address may hold open.
//!
//! - Posts (every state-changing request) draw from two token buckets: one
//!   per session user and one per client address, four times larger, so a
//!   cookie-less client cannot dodge the limit by dropping its cookie. An
//!   empty bucket answers 429 `rate_limited` with `Retry-After`.
//! - Ordinary requests get a time limit.
//! - Streams and polls hold a slot per client address for as long as the
//!   response body lives, so one client cannot exhaust file descriptors.
//!   The same body wrapper keeps the open-connection gauges of `/metrics`.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tower_sessions::Session;

use prometheus::IntGauge;

use crate::{
    client_addr::client_addr, error::AppError, identity, metrics::Transport, state::AppState,
};

/// The address bucket is this many times the session bucket.
const ADDRESS_FACTOR: f64 = 4.0;
/// Buckets kept before idle (full) ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Shared limiter state; a field of `AppState`.
pub struct Limits {
    /// Posts per second per session (0 disables the limit).
    rate: f64,
    burst: f64,
    max_streams: usize,
    buckets: Mutex<HashMap<Key, Bucket>>,
    streams: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Limits {
    pub fn new(rate: f64, burst: u32, max_streams: usize) -> Limits {
        Limits {
            rate,
            burst: f64::from(burst.max(1)),
            max_streams,
            buckets: Mutex::new(HashMap::new()),
            streams: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a token from the user's and the address's buckets, or says how
    /// long to wait.
    fn take(&self, user: Option<&str>, addr: IpAddr) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            self.prune(&mut buckets, now);
        }
        let mut checks = vec![(
            Key::Addr(addr),
            self.rate * ADDRESS_FACTOR,
            self.burst * ADDRESS_FACTOR,
        )];
        if let Some(user) = user {
            checks.push((Key::User(user.to_owned()), self.rate, self.burst));
        }
        // Refill all, check all, and only then take: a refused post costs
        // no bucket anything.
        let mut wait = Duration::ZERO;
        for (key, rate, burst) in &checks {
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: *burst,
                updated: now,
            });
            let elapsed = now.duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(*burst);
            bucket.updated = now;
            if bucket.tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - bucket.tokens) / rate));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for (key, _, _) in &checks {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Drops buckets that would be full by now: they hold no information.
    fn prune(&self, buckets: &mut HashMap<Key, Bucket>, now: Instant) {
        let refill = self.burst * ADDRESS_FACTOR / self.rate;
        buckets.retain(|_, b| now.duration_since(b.updated).as_secs_f64() < refill);
    }

    fn open_stream(&self, addr: IpAddr) -> Option<StreamSlot> {
        if self.max_streams > 0 {
            let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let open = streams.entry(addr).or_insert(0);
            if *open >= self.max_streams {
                return None;
            }
            *open += 1;
        }
        Some(StreamSlot {
            streams: (self.max_streams > 0).then(|| self.streams.clone()),
            addr,
        })
    }
}

/// Held by a stream's response body; frees its slot when dropped.
struct StreamSlot {
    streams: Option<Arc<Mutex<HashMap<IpAddr, usize>>>>,
    addr: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let Some(streams) = &self.streams else {
            return;
        };
        let mut streams = streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = streams.get_mut(&self.addr) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.addr);
            }
        }
    }
}

fn request_addr(state: &AppState, request: &Request) -> Option<IpAddr> {
    let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()?;
    Some(client_addr(
        *peer,
        request.headers(),
        &state.config.trust_proxy,
    ))
}

/// Middleware: rate-limits state-changing requests.
pub async fn limit_posts(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let (true, Some(addr)) = (changes_state, request_addr(&state, &request)) {
        let user = match request.extensions().get::<Session>() {
            Some(session) => identity::session_user_id(session).await,
            None => None,
        };
        if let Err(wait) = state.limits.take(user.as_deref(), addr) {
            let retry_after_secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            return AppError::RateLimited { retry_after_secs }.into_response();
        }
    }
    next.run(request).await
}

/// Middleware: bounds the time of an ordinary request (not streams, polls
/// or uploads, which have bounds of their own).
pub async fn limit_time(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}

/// Middleware: caps concurrent streams and polls per client address, and
/// counts open ones by transport for `/metrics`.
pub async fn limit_streams(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(addr) = request_addr(&state, &request) else {
        return next.run(request).await;
    };
    let Some(slot) = state.limits.open_stream(addr) else {
        return AppError::RateLimited {
            retry_after_secs: 5,
        }
        .into_response();
    };
    let transport = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| transport_of(path.as_str()));
    let open = transport.map(|t| {
        let gauge = state.metrics.connections.with_label_values(&[t.label()]);
        gauge.inc();
        OpenGauge(gauge)
    });
    next.run(request).await.map(|body| {
        Body::new(SlotBody {
            body,
            _slot: slot,
            _open: open,
        })
    })
}

fn transport_of(route: &str) -> Transport {
    match route {
        "/events" => Transport::LobbySse,
        "/poll" => Transport::LobbyPoll,
        r if r.ends_with("/poll") => Transport::Poll,
        _ => Transport::Sse,
    }
}

/// Decrements its connection gauge when the response body goes.
struct OpenGauge(IntGauge);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A response body that holds a stream slot until it is dropped.
struct SlotBody {
    body: Body,
    _slot: StreamSlot,
    _open: Option<OpenGauge>,
}

impl HttpBody for SlotBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate_holds() {
        let limits = Limits::new(1.0, 3, 0);
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.take(Some("u"), addr).is_ok());
        }
        let wait = limits.take(Some("u"), addr).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        // Another user at the same address still has their own bucket.
        assert!(limits.take(Some("v"), addr).is_ok());
    }

    #[test]
    fn the_address_bucket_catches_cookie_less_clients() {
        let limits = Limits::new(1.0, 2, 0);
        let addr: IpAddr = "10.0.0.2".parse().unwrap();
        let allowed = (0..20).filter(|_| limits.take(None, addr).is_ok()).count();
        assert_eq!(allowed, 8, "four times the session burst");
    }

    #[test]
    fn stream_slots_are_counted_per_address_and_freed_on_drop() {
        let limits = Limits::new(0.0, 1, 2);
        let addr: IpAddr = "10.0.0.3".parse().unwrap();
        let a = limits.open_stream(addr).unwrap();
        let _b = limits.open_stream(addr).unwrap();
        assert!(limits.open_stream(addr).is_none());
        assert!(limits.open_stream("10.0.0.4".parse().unwrap()).is_some());
        drop(a);
        assert!(limits.open_stream(addr).is_some());
    }
}
