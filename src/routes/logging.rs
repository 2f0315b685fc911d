//! One log line per request: method, path, status, latency, client address
//! (through trusted proxies, see `client_addr.rs`); and the latency
//! histogram by method and route. A request that came over plain HTTP
//! while session cookies are `Secure` is counted and logged: its browser
//! will not send the cookie back, and every page is a new visitor.
//!
//! The histogram's labels come from fixed sets, never from what a client
//! sends: a method outside the standard ones is `other`, and a path that
//! matched no route is `unmatched`. Otherwise every invented method or path
//! would add a series to `/metrics` for good.

use std::{net::SocketAddr, time::Instant};

use prometheus::Histogram;

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};

use crate::{
    client_addr::{client_addr, forwarded_https},
    state::AppState,
};

/// Counts a plain-HTTP request while cookies are Secure; says so in the
/// log on the first and every thousandth.
fn warn_insecure(state: &AppState) {
    let counter = &state.metrics.insecure_requests;
    counter.inc();
    if counter.get() % 1000 == 1 {
        tracing::warn!(
            requests = counter.get(),
            "a request came over plain HTTP while cookies are Secure (--secure-cookies): \
             its browser will not send the cookie back. Serve HTTPS (--tls-cert, \
             --acme-domain), or have the proxy in front send X-Forwarded-Proto: https \
             and trust it with --trust-proxy"
        );
    }
}

pub async fn log_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let trusted = &state.config.trust_proxy;
    let client = peer.map(|peer| client_addr(peer, request.headers(), trusted));
    if state.config.secure_cookies
        && !state.config.serves_tls()
        && !peer.is_some_and(|peer| forwarded_https(peer, request.headers(), trusted))
    {
        warn_insecure(&state);
    }
    let response = next.run(request).await;
    let answered = Answered {
        method: &method,
        path: &path,
        route: &route,
        status: response.status().as_u16(),
        client,
    };
    answered.log(&state, started);
    response
}

/// A request answered: what its log line and the latency histogram say.
pub struct Answered<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The route it matched (`unmatched` for none).
    pub route: &'a str,
    pub status: u16,
    pub client: Option<std::net::IpAddr>,
}

impl Answered<'_> {
    /// Logs the request, and its latency since `started`.
    pub fn log(&self, state: &AppState, started: Instant) {
        self.log_to(&latency_of(state, self.method, self.route), started);
    }

    /// [`Self::log`], into the histogram of its method and route, found
    /// already: what is answered without the middleware
    /// (`routes/steady.rs`) finds it once, not per request.
    pub fn log_to(&self, latency: &Histogram, started: Instant) {
        let elapsed = started.elapsed();
        latency.observe(elapsed.as_secs_f64());
        tracing::info!(
            method = %self.method,
            path = self.path,
            status = self.status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            client = self.client.map(|c| c.to_string()).unwrap_or_default(),
            "request"
        );
    }
}

/// The latency histogram of `method` on `route`.
pub fn latency_of(state: &AppState, method: &Method, route: &str) -> Histogram {
    state
        .metrics
        .http_latency
        .with_label_values(&[method_label(method), route])
}

/// The method as the histogram labels it.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for invented in ["FOO", "GETT", "get", "CONNECT", "TRACE"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }
}
