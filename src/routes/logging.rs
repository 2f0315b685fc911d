//! One log line per request: method, path, status, latency, client address
//! (through trusted proxies, see `client_addr.rs`).

use std::{net::SocketAddr, time::Instant};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};

use crate::{client_addr::client_addr, state::AppState};

pub async fn log_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| client_addr(*peer, request.headers(), &state.config.trust_proxy));
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        client = client.map(|c| c.to_string()).unwrap_or_default(),
        "request"
    );
    response
}
