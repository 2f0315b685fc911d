//! Server-Sent Events: the live room stream and the live lobby stream.
//!
//! Frames are written by hand rather than through axum's `Sse`: every event
//! already carries its complete SSE block as shared `Bytes` (see
//! `events.rs`), so a frame costs each subscriber a reference count, not an
//! allocation and a copy.

use std::{convert::Infallible, sync::Arc, time::Duration};

use async_stream::stream;
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::Stream;
use serde::Deserialize;
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use crate::{
    db,
    error::{AppError, AppResult},
    events::{Audience, Event, Kind},
    feed::Feed,
    identity::Visitor,
    routes::{access::admitted_room, lobby::rooms_now, negotiate::parse_param},
    state::AppState,
};

/// What a browser waits before reconnecting, in milliseconds.
const RETRY: &[u8] = b"retry: 2000\n\n";
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/events", get(room_events))
        .route("/events", get(lobby_events))
}

#[derive(Deserialize)]
struct StreamQuery {
    last_event_id: Option<String>,
}

/// GET /rooms/{id}/events: the room as a stream. Opening it makes the
/// caller present; a `Last-Event-ID` header (or `?last_event_id=`) replays
/// what was missed first.
async fn room_events(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    visitor: Visitor,
) -> AppResult<Response> {
    let cursor = resume_cursor(&headers, query.last_event_id.as_deref())?;
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    // Enter (and so subscribe) before reading anything: see feed.rs.
    let entry = state.hub.enter(&room, &visitor.user)?;
    let (start, replay) = match cursor {
        Some(cursor) => (cursor, true),
        None => (state.db.read(db::events::newest_id).await?, false),
    };
    let mut feed = Feed::new(
        state.db.clone(),
        state.hub.clone(),
        room.id,
        visitor.user.id,
        entry.rx,
        start,
        replay,
    );
    let presence = entry.presence;
    let snapshot = entry.snapshot;
    let shutdown = state.shutdown.clone();
    let every = state.config.keep_alive;

    let body = stream! {
        let _presence = presence;
        yield Ok::<_, Infallible>(Bytes::from_static(RETRY));
        yield Ok(snapshot.sse.clone());
        if !replay {
            // So a browser that gets nothing before its first disconnect
            // still resumes from here.
            yield Ok(Bytes::from(format!("id: {start}\n\n")));
        }
        let mut ticks = keep_alive(every);
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => Next::KeepAlive,
                event = feed.next() => match event {
                    Ok(Some(event)) => Next::Event(event),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "room stream ended by an error");
                        break;
                    }
                },
            };
            match next {
                Next::KeepAlive => yield Ok(Bytes::from_static(KEEP_ALIVE)),
                Next::Event(event) => yield Ok(event.sse.clone()),
            }
        }
    };
    Ok(event_stream(body))
}

/// GET /events: the lobby as a stream: a `rooms` snapshot first, then
/// room-created / room-updated / room-deleted.
async fn lobby_events(State(state): State<AppState>) -> AppResult<Response> {
    let mut rx = state.hub.lobby().subscribe();
    let first = rooms_snapshot(&state).await?;
    let shutdown = state.shutdown.clone();
    let every = state.config.keep_alive;

    let body = stream! {
        yield Ok::<_, Infallible>(Bytes::from_static(RETRY));
        yield Ok(first.sse.clone());
        let mut ticks = keep_alive(every);
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => Next::KeepAlive,
                event = rx.recv() => match event {
                    Ok(event) => Next::Event(event),
                    // Lobby events are not stored: a lagging lobby stream
                    // re-syncs with the whole list instead.
                    Err(RecvError::Lagged(_)) => match rooms_snapshot(&state).await {
                        Ok(snapshot) => Next::Event(snapshot),
                        Err(_) => break,
                    },
                    Err(RecvError::Closed) => break,
                },
            };
            match next {
                Next::KeepAlive => yield Ok(Bytes::from_static(KEEP_ALIVE)),
                Next::Event(event) => yield Ok(event.sse.clone()),
            }
        }
    };
    Ok(event_stream(body))
}

enum Next {
    KeepAlive,
    Event(Arc<Event>),
}

async fn rooms_snapshot(state: &AppState) -> AppResult<Arc<Event>> {
    let rooms = rooms_now(state).await?;
    let body = serde_json::json!({ "rooms": rooms });
    Ok(Arc::new(Event::transient(
        Kind::Rooms,
        Audience::Room,
        &body,
    )))
}

fn keep_alive(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// The response around an SSE body, with the headers that keep proxies
/// from caching or buffering it.
fn event_stream(body: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static) -> Response {
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The resume point: the `Last-Event-ID` header wins over the query (a
/// browser reconnecting keeps the query it started with); neither means
/// "start live".
fn resume_cursor(headers: &HeaderMap, query: Option<&str>) -> AppResult<Option<i64>> {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let raw = header.filter(|v| !v.trim().is_empty()).or(query);
    let cursor = parse_param::<i64>("last_event_id", raw)?;
    if cursor.is_some_and(|c| c < 0) {
        return Err(AppError::invalid("last_event_id must not be negative"));
    }
    Ok(cursor)
}
