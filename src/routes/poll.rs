//! Long-polling: the same feed as the SSE stream, cut into answers, for
//! clients where EventSource does not work.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::{BufMut, BytesMut};
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::{AppError, AppResult},
    events::{Event, Kind, json_array},
    feed::Feed,
    identity::Visitor,
    routes::{
        access::admitted_room,
        lobby::rooms_now,
        negotiate::{cursor_param, parse_param},
    },
    state::AppState,
};

const DEFAULT_TIMEOUT_SECS: u64 = 25;
const MAX_TIMEOUT_SECS: u64 = 60;
/// Most events in one answer; the client asks again at once for the rest.
const MAX_EVENTS_PER_ANSWER: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/poll", get(room_poll).head(room_poll_head))
        .route("/poll", get(lobby_poll).head(lobby_poll_head))
}

/// HEAD /rooms/{id}/poll: what a poll would answer first (status and
/// headers), without polling: no presence, no waiting.
async fn room_poll_head(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    visitor: Visitor,
) -> AppResult<Response> {
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    if state.hub.is_full_for(&room, &visitor.user) {
        return Err(AppError::RoomFull);
    }
    Ok(json_response(BytesMut::new()))
}

/// HEAD /poll: the lobby poll's headers, without waiting.
async fn lobby_poll_head() -> Response {
    json_response(BytesMut::new())
}

#[derive(Deserialize)]
struct RoomPollQuery {
    after: Option<String>,
    timeout: Option<String>,
}

/// GET /rooms/{id}/poll?after=&timeout=: answers as soon as there is at
/// least one visible event after `after`, or empty after `timeout`. An
/// outstanding poll keeps the caller present, like a stream.
async fn room_poll(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<RoomPollQuery>,
    visitor: Visitor,
) -> AppResult<Response> {
    let after = cursor_param("after", query.after.as_deref())?;
    let timeout = poll_timeout(query.timeout.as_deref())?;
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    // Enter (and so subscribe) before reading anything: see feed.rs.
    let entry = state.hub.enter(&room, &visitor.user)?;
    let mut feed = Feed::open(
        &state,
        room.id.clone(),
        visitor.user.id.clone(),
        entry.rx,
        entry.published,
        after,
    );

    let mut events = Vec::new();
    if let Some(snapshot) = state.hub.unpolled_snapshot(&room.id, &visitor.user.id) {
        // Answer at once with the snapshot, and whatever history is due.
        events.push(snapshot);
        feed.prefetch().await?;
    } else {
        let wait = tokio::select! {
            _ = state.shutdown.cancelled() => None,
            next = tokio::time::timeout(timeout, feed.next()) => next.ok(),
        };
        if let Some(next) = wait {
            events.extend(next?);
        }
    }
    while events.len() < MAX_EVENTS_PER_ANSWER {
        match feed.ready() {
            Some(event) => events.push(event),
            None => break,
        }
    }
    if events.iter().any(|e| e.kind == Kind::Members) {
        // Whatever snapshot rode along, this user's polls are now current.
        let _ = state.hub.unpolled_snapshot(&room.id, &visitor.user.id);
    }
    drop(entry.presence);
    state.metrics.events_delivered.inc_by(events.len() as u64);
    Ok(answer(&events, feed.last_id()))
}

/// `{"events": [...], "last_event_id": N}` from the events' shared JSON.
fn answer(events: &[std::sync::Arc<Event>], last_event_id: i64) -> Response {
    let mut body = BytesMut::new();
    body.put_slice(b"{\"events\":");
    body.put(json_array(events.iter().map(|e| e.json.clone())));
    body.put_slice(format!(",\"last_event_id\":{last_event_id}}}").as_bytes());
    json_response(body)
}

fn json_response(body: BytesMut) -> Response {
    let mut response = Body::from(body.freeze()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct LobbyPollQuery {
    version: Option<String>,
    timeout: Option<String>,
}

/// GET /poll?version=&timeout=: the room list, at once when it changed
/// since `version`, else when it next changes or after `timeout`.
async fn lobby_poll(
    State(state): State<AppState>,
    Query(query): Query<LobbyPollQuery>,
) -> AppResult<Response> {
    let timeout = poll_timeout(query.timeout.as_deref())?;
    let mut watch = state.hub.lobby().watch();
    let version = tokio::select! {
        _ = state.shutdown.cancelled() => watch.current(),
        version = watch.wait_for_change(query.version.as_deref(), timeout) => version,
    };
    let rooms = rooms_now(&state).await?;
    let body = serde_json::to_vec(&json!({ "version": version, "rooms": rooms }))
        .map_err(AppError::internal)?;
    Ok(json_response(BytesMut::from(&body[..])))
}

fn poll_timeout(raw: Option<&str>) -> AppResult<Duration> {
    let secs = parse_param::<u64>("timeout", raw)?.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if secs > MAX_TIMEOUT_SECS {
        return Err(AppError::invalid(format!(
            "timeout must be at most {MAX_TIMEOUT_SECS} seconds"
        )));
    }
    Ok(Duration::from_secs(secs))
}
