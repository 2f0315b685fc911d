//! Abuse limits at the edge: how fast one visitor may post, guess room
//! passwords or make new sessions, and how many streams and uploads one
//! address may hold open.
//!
//! - Posts (every state-changing request) draw from two token buckets: one
//!   per session user and one per client address, four times larger, so a
//!   cookie-less client cannot dodge the limit by dropping its cookie. An
//!   empty bucket answers 429 `rate_limited` with `Retry-After`.
//! - Wrong room passwords draw from a bucket per address and one per room
//!   (four times larger, against many addresses guessing together); while
//!   either is empty, guesses are refused before any hashing.
//! - Sessions stored per address are bounded too (`identity.rs` asks).
//! - Ordinary requests get a time limit.
//! - Streams and polls hold a slot per client address for as long as the
//!   response body lives, so one client cannot exhaust file descriptors.
//!   The same body wrapper keeps the open-connection gauges of `/metrics`.
//!   Uploads hold a slot of their own kind while they are received.
//!
//! An IPv6 client is counted by its /64: one host is given a whole /64,
//! so its single addresses are free for it to spend.

mod buckets;
mod slots;

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State},
    http::{Method, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use prometheus::IntGauge;
use tower_sessions::Session;

use crate::{
    client_addr::client_addr,
    config::Config,
    error::AppError,
    identity,
    metrics::Transport,
    routes::{ServedDirectly, bots::bot_key},
    state::AppState,
};
use buckets::Buckets;
pub use slots::Slot;
use slots::Slots;

/// The address buckets are this many times the session's (posts) or the
/// address's (password guesses, per room).
const WIDER: f64 = 4.0;

/// Shared limiter state; a field of `AppState`.
pub struct Limits {
    posts_by_user: Buckets<String>,
    posts_by_addr: Buckets<IpAddr>,
    guesses_by_addr: Buckets<IpAddr>,
    guesses_by_room: Buckets<String>,
    sessions_by_addr: Buckets<IpAddr>,
    streams: Slots,
    uploads: Slots,
}

impl Limits {
    pub fn new(config: &Config) -> Limits {
        let (rate, burst) = (config.post_rate, f64::from(config.post_burst));
        let guesses = f64::from(config.password_guesses);
        let sessions = f64::from(config.new_sessions_per_addr);
        Limits {
            posts_by_user: Buckets::new(rate, burst),
            posts_by_addr: Buckets::new(rate * WIDER, burst * WIDER),
            guesses_by_addr: Buckets::new(guesses / 60.0, guesses),
            guesses_by_room: Buckets::new(guesses * WIDER / 60.0, guesses * WIDER),
            sessions_by_addr: Buckets::new(sessions / 3600.0, sessions),
            streams: Slots::new(config.max_streams_per_addr),
            uploads: Slots::new(config.max_uploads_per_addr),
        }
    }

    /// Takes a post from the user's and the address's buckets, or says how
    /// long to wait. Both are checked before either is charged: a refused
    /// post costs no bucket anything.
    fn post(&self, user: Option<&str>, addr: IpAddr) -> Result<(), Duration> {
        let addr = bucket_of(addr);
        let user = user.map(str::to_owned);
        let wait = self.posts_by_addr.wait(&addr).max(
            user.as_ref()
                .map_or(Duration::ZERO, |u| self.posts_by_user.wait(u)),
        );
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.posts_by_addr.charge(&addr);
        if let Some(user) = &user {
            self.posts_by_user.charge(user);
        }
        Ok(())
    }

    /// How long before `addr` may guess `room`'s password again: zero when
    /// it may now.
    pub fn guess_wait(&self, room_id: &str, addr: IpAddr) -> Duration {
        let by_addr = self.guesses_by_addr.wait(&bucket_of(addr));
        by_addr.max(self.guesses_by_room.wait(&room_id.to_owned()))
    }

    /// `addr` guessed `room`'s password wrong.
    pub fn wrong_guess(&self, room_id: &str, addr: IpAddr) {
        self.guesses_by_addr.charge(&bucket_of(addr));
        self.guesses_by_room.charge(&room_id.to_owned());
    }

    /// `addr` is about to store a new session, or must wait this long.
    pub fn new_session(&self, addr: IpAddr) -> Result<(), Duration> {
        self.sessions_by_addr.take(&bucket_of(addr))
    }

    /// A slot for one more upload from `addr`, or `None` when it has all it
    /// may have at once.
    pub fn open_upload(&self, addr: IpAddr) -> Option<Slot> {
        self.uploads.open(bucket_of(addr))
    }
}

/// The key an address is counted under: itself, or its /64 for IPv6.
fn bucket_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// Extractor: the client's address, through trusted proxies
/// (`--trust-proxy`).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |ConnectInfo(peer)| {
                *peer
            });
        Ok(ClientAddr(client_addr(
            peer,
            &parts.headers,
            &state.config.trust_proxy,
        )))
    }
}

/// The 429 answer for a wait.
pub fn rate_limited(wait: Duration) -> AppError {
    AppError::RateLimited {
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
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
        // A bot's posts count against its key, as a user's against them.
        let user = match (
            bot_key(request.uri().path()),
            request.extensions().get::<Session>(),
        ) {
            (Some(key), _) => Some(format!("bot:{key}")),
            (None, Some(session)) => identity::session_user_id(session).await,
            (None, None) => None,
        };
        if let Err(wait) = state.limits.post(user.as_deref(), addr) {
            return rate_limited(wait).into_response();
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
    let Some(slot) = state.limits.streams.open(bucket_of(addr)) else {
        return AppError::RateLimited {
            retry_after_secs: 5,
        }
        .into_response();
    };
    let transport = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| transport_of(path.as_str()));
    let served_by = match request.extensions().get::<ServedDirectly>() {
        Some(_) => "direct",
        None => "hyper",
    };
    // No allocation: a poll does this on every request.
    let (connections, streams) = match transport {
        Some(transport) => {
            let metrics = &state.metrics;
            let label = transport.label();
            let is_stream = matches!(transport, Transport::Sse | Transport::LobbySse);
            (
                Some(OpenGauge::new(
                    metrics.connections.with_label_values(&[label]),
                )),
                is_stream.then(|| OpenGauge::new(metrics.streams.with_label_values(&[served_by]))),
            )
        }
        None => (None, None),
    };
    next.run(request).await.map(|body| {
        Body::new(SlotBody {
            body,
            _slot: slot,
            _open: [connections, streams],
        })
    })
}

/// What a poll answered without the middleware (`routes/steady.rs`)
/// holds while it is answered, as [`limit_streams`] would give it: the
/// address's slot (`None` when it has none left: the router then answers
/// 429) and its place in `open_polls`, the open-polls gauge.
pub fn poll_slot(state: &AppState, addr: IpAddr, open_polls: &IntGauge) -> Option<PollSlot> {
    let slot = state.limits.streams.open(bucket_of(addr))?;
    Some(PollSlot {
        _slot: slot,
        _open: OpenGauge::new(open_polls.clone()),
    })
}

/// See [`poll_slot`].
pub struct PollSlot {
    _slot: Slot,
    _open: OpenGauge,
}

fn transport_of(route: &str) -> Transport {
    match route {
        "/events" => Transport::LobbySse,
        "/poll" => Transport::LobbyPoll,
        r if r.ends_with("/poll") => Transport::Poll,
        _ => Transport::Sse,
    }
}

/// Counts one open connection in a gauge until the response body goes.
struct OpenGauge(IntGauge);

impl OpenGauge {
    fn new(gauge: IntGauge) -> OpenGauge {
        gauge.inc();
        OpenGauge(gauge)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A response body that holds a stream slot until it is dropped.
struct SlotBody {
    body: Body,
    _slot: Slot,
    _open: [Option<OpenGauge>; 2],
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

    fn limits(tune: impl FnOnce(&mut Config)) -> Limits {
        let mut config = Config::for_dir(std::path::Path::new("."));
        tune(&mut config);
        Limits::new(&config)
    }

    #[test]
    fn the_address_bucket_catches_cookie_less_clients() {
        let limits = limits(|c| {
            c.post_rate = 1.0;
            c.post_burst = 2;
        });
        let addr: IpAddr = "10.0.0.2".parse().unwrap();
        let allowed = (0..20).filter(|_| limits.post(None, addr).is_ok()).count();
        assert_eq!(allowed, 8, "four times the session burst");
        // A refused post charged nothing: the user still has a burst,
        // but the address has none left.
        assert!(limits.post(Some("u"), addr).is_err());
    }

    #[test]
    fn wrong_guesses_are_counted_per_address_and_per_room() {
        let limits = limits(|c| c.password_guesses = 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        limits.wrong_guess("room", a);
        assert_eq!(limits.guess_wait("room", a), Duration::ZERO);
        limits.wrong_guess("room", a);
        assert!(limits.guess_wait("room", a) > Duration::ZERO);
        assert!(
            limits.guess_wait("other", a) > Duration::ZERO,
            "per address"
        );
        assert_eq!(limits.guess_wait("room", b), Duration::ZERO);
        for n in 0..100u8 {
            limits.wrong_guess("room", IpAddr::from([10, 1, 0, n]));
        }
        assert!(
            limits.guess_wait("room", "10.9.9.9".parse().unwrap()) > Duration::ZERO,
            "and per room, whatever the address"
        );
        assert_eq!(limits.guess_wait("another", b), Duration::ZERO);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_of(one), bucket_of(same));
        assert_ne!(bucket_of(one), bucket_of(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(bucket_of(v4), v4);
    }
}
