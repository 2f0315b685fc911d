//! Server-Sent Events: the live room stream and the live lobby stream.
//!
//! Frames are written by hand rather than through axum's `Sse`: every event
//! already carries its complete SSE block as shared `Bytes` (see
//! `events.rs`), so a frame costs each subscriber a reference count, not an
//! allocation and a copy. When a subscriber wakes to several ready events
//! (a burst, or a server busy feeding thousands), they are joined into one
//! chunk: one write instead of one per event, which is what keeps a big
//! room's fan-out affordable (see `examples/fanout`).

use std::{convert::Infallible, sync::Arc, time::Duration};

use async_stream::stream;
use axum::{
    body::{Body, Bytes},
    extract::{FromRequestParts, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::{BufMut, BytesMut};
use futures_util::Stream;
use serde::Deserialize;
use tokio::{sync::broadcast::error::RecvError, time::Instant};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    events::Event,
    feed::Feed,
    identity::{KnownVisitor, Visitor},
    model::{Audience, Kind},
    routes::{
        access::{enter_room, enterable_room},
        lobby::rooms_now,
        many_rooms,
        negotiate::cursor_param,
        openapi::{Conflict, Failed, InRoom, Invalid, LongLived},
        rooms::RoomPath,
    },
    state::AppState,
};

/// What a browser waits before reconnecting, in milliseconds.
pub(super) const RETRY: &[u8] = b"retry: 2000\n\n";

/// Where a stream that starts live stands (`start`, the newest stored id),
/// as an event of its own, so that a client that gets nothing else before
/// its first disconnect still resumes from here. A named event with data,
/// not a bare `id:` block: browsers record either, but clients that record
/// only the ids of events they dispatch (npm `eventsource` 4) need one
/// with data. Listeners for other events never see it.
pub(super) fn cursor_event(start: i64) -> Bytes {
    Bytes::from(format!(
        "id: {start}\nevent: cursor\ndata: {{\"type\":\"cursor\",\"last_event_id\":{start}}}\n\n"
    ))
}
pub(super) const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The room stream's route (`#[utoipa::path]` takes a literal: the test
/// below holds the two together).
pub const ROOM_EVENTS: &str = "/rooms/{id}/events";
/// The lobby stream's route.
pub const LOBBY_EVENTS: &str = "/events";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(room_events, room_events_head))
        .routes(routes!(lobby_events, lobby_events_head))
}

/// Marks a stream request that the accept loop answers without hyper
/// (`server/event_streams.rs`), for the `served_by` gauge of streams.
#[derive(Debug, Clone, Copy)]
pub struct ServedDirectly;

/// Whether the stream routes match `path`: how the accept loop knows a
/// request it may answer without hyper (`server/event_streams.rs`), from
/// the very templates the router matches.
pub fn is_stream_path(path: &str) -> bool {
    [ROOM_EVENTS, LOBBY_EVENTS]
        .iter()
        .any(|route| matches_route(route, path))
}

/// The route of a room's poll, as the router and its histogram name it.
pub const ROOM_POLL_ROUTE: &str = "/rooms/{id}/poll";

/// Whether `path` is a room's poll (`GET /rooms/{id}/poll`), whose
/// connection is served by `server/polls.rs`.
pub fn is_room_poll_path(path: &str) -> bool {
    matches_route(ROOM_POLL_ROUTE, path)
}

/// Whether `path` fits `route`, a template whose `{name}` segments match
/// any one segment, as the router's do (an empty one included).
fn matches_route(route: &str, path: &str) -> bool {
    let (mut route, mut path) = (route.split('/'), path.split('/'));
    loop {
        match (route.next(), path.next()) {
            (None, None) => return true,
            (Some(template), Some(_)) if template.starts_with('{') => {}
            (Some(template), Some(segment)) if template == segment => {}
            _ => return false,
        }
    }
}

/// HEAD /rooms/{id}/events: what opening the stream would answer (its
/// status and headers), without opening it: no presence, no join.
#[utoipa::path(
    head,
    path = "/rooms/{id}/events",
    operation_id = "room_events_head",
    tag = "streams",
    params(RoomPath, StreamQuery, LastEventId),
    responses(
        (status = OK, description = "The stream would open", content_type = "text/event-stream"),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn room_events_head(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    visitor: Visitor,
) -> AppResult<Response> {
    resume_cursor(&headers, query.last_event_id.as_deref())?;
    enterable_room(&state, &room_id, &visitor).await?;
    Ok(event_stream(futures_util::stream::empty()))
}

/// HEAD /events: what opening the stream would answer, without the
/// stream (nor presence in its rooms).
#[utoipa::path(
    head,
    path = "/events",
    operation_id = "lobby_events_head",
    tag = "streams",
    params(EventsQuery, LastEventId),
    responses(
        (status = OK, description = "The stream would open", content_type = "text/event-stream"),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn lobby_events_head(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
    request: Request,
) -> AppResult<Response> {
    let (mut parts, _) = request.into_parts();
    resume_cursor(&parts.headers, query.last_event_id.as_deref())?;
    if let Some(rooms) = query.rooms.as_deref() {
        let rooms = many_rooms::parse_rooms(rooms)?;
        let visitor = Visitor::from_request_parts(&mut parts, &state).await?;
        many_rooms::check(&state, &rooms, &visitor).await?;
    }
    Ok(event_stream(futures_util::stream::empty()))
}

/// The query of the lobby stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Rooms to carry too, by id, comma-separated (at most 50): their
    /// events, in id order, on this one stream; the caller is present in
    /// each while it is open.
    #[param(pattern = r"^[^,]*[^,\s][^,]*(,[^,]*){0,49}$")]
    rooms: Option<String>,
    /// With `rooms`: replay every visible stored event of those rooms
    /// after this id first (the `Last-Event-ID` header wins over it).
    #[param(value_type = Option<i64>, minimum = 0)]
    last_event_id: Option<String>,
}

/// The query of a room stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StreamQuery {
    /// Replay every visible stored event after this id first (the
    /// `Last-Event-ID` header wins over it); absent: start live.
    #[param(value_type = Option<i64>, minimum = 0)]
    last_event_id: Option<String>,
}

/// The header a browser's EventSource resumes with (for the document:
/// [`resume_cursor`] reads it from the headers).
#[derive(IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Header)]
struct LastEventId {
    /// As `last_event_id`, and before it.
    #[param(rename = "Last-Event-ID", value_type = i64, required = false, minimum = 0)]
    last_event_id: Option<String>,
}

/// GET /rooms/{id}/events: the room as a stream. Opening it makes the
/// caller present; a `Last-Event-ID` header (or `?last_event_id=`) replays
/// what was missed first.
#[utoipa::path(
    get,
    path = "/rooms/{id}/events",
    operation_id = "room_events",
    tag = "streams",
    params(RoomPath, StreamQuery, LastEventId),
    responses(
        (status = OK, description = "Server-Sent Events: a `members` snapshot first, then \
            the room's events as they happen (each event's `data:` is a room event's JSON), \
            until the server stops or the caller is kicked or the room deleted",
            content_type = "text/event-stream", body = String),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn room_events(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    visitor: Visitor,
) -> AppResult<Response> {
    let cursor = resume_cursor(&headers, query.last_event_id.as_deref())?;
    // Entered (and so subscribed) before anything is read: see feed.rs.
    let entry = enter_room(&state, &room_id, &visitor.user, visitor.addr).await?;
    let mut feed = Feed::open(
        (&state.db, &state.hub, &state.metrics),
        room_id,
        visitor.user.id,
        (entry.rx, entry.wave, entry.read),
        entry.published,
        cursor,
    );
    let start = feed.last_id();
    let presence = entry.presence;
    // Only the frame is kept: the snapshot of a big room is tens of KiB,
    // and every arrival renders a new one, so holding the whole event for
    // the life of the stream would cost that much per subscriber.
    let snapshot = entry.snapshot.sse.clone();
    drop(entry.snapshot);
    let delivered = state.metrics.events_delivered.clone();
    let shutdown = state.shutdown.clone();
    let every = state.config.keep_alive;

    let body = stream! {
        let _presence = presence;
        yield Ok::<_, Infallible>(Bytes::from_static(RETRY));
        yield Ok(snapshot);
        if cursor.is_none() {
            yield Ok(cursor_event(start));
        }
        // Made once, not per event: a fresh `cancelled()` per wake-up would
        // lock the token's waiter list twice per event per subscriber.
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut ticks = keep_alive(every);
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut cancelled => break,
                event = feed.next() => match event {
                    Ok(Some(event)) => Next::Event(event),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "room stream ended by an error");
                        break;
                    }
                },
                _ = ticks.tick() => Next::KeepAlive,
            };
            match next {
                Next::KeepAlive => yield Ok(Bytes::from_static(KEEP_ALIVE)),
                Next::Event(event) => {
                    let (chunk, events) = coalesce(&event, &mut feed);
                    delivered.inc_by(events);
                    yield Ok(chunk);
                }
            }
        }
    };
    Ok(event_stream(body))
}

/// Most bytes joined into one chunk when several events are ready at once.
const COALESCE_LIMIT: usize = 64 * 1024;

/// The frame of `first`, joined with those of the events that are ready
/// right now: when a subscriber wakes late (a burst, a busy server), it
/// writes them in one chunk and one system call instead of one each. The
/// copy is paid only then; a lone event goes out as its shared bytes.
/// Returns the chunk and how many events it holds.
fn coalesce(first: &Event, feed: &mut Feed) -> (Bytes, u64) {
    let Some(second) = feed.ready() else {
        return (first.sse.clone(), 1);
    };
    let mut chunk = BytesMut::with_capacity(2 * (first.sse.len() + second.sse.len()));
    chunk.put_slice(&first.sse);
    chunk.put_slice(&second.sse);
    let mut events = 2;
    while chunk.len() < COALESCE_LIMIT {
        match feed.ready() {
            Some(event) => chunk.put_slice(&event.sse),
            None => break,
        }
        events += 1;
    }
    (chunk.freeze(), events)
}

/// GET /events: the lobby as a stream: a `rooms` snapshot first, then
/// room-created / room-updated / room-deleted; with `?rooms=`, the events
/// of those rooms too (`many_rooms.rs`).
#[utoipa::path(
    get,
    path = "/events",
    operation_id = "lobby_events",
    tag = "streams",
    params(EventsQuery, LastEventId),
    responses(
        (status = OK, description = "Server-Sent Events: `rooms` (the list) first, then \
            `room-created`, `room-updated` and `room-deleted` as they happen. With `rooms`: \
            after the list, each room's `members` snapshot, then the rooms' events as \
            their own streams carry them, stored events in id order across rooms (each \
            event's JSON names its `room`)",
            content_type = "text/event-stream", body = String),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn lobby_events(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
    request: Request,
) -> AppResult<Response> {
    let (mut parts, _) = request.into_parts();
    let cursor = resume_cursor(&parts.headers, query.last_event_id.as_deref())?;
    if let Some(rooms) = query.rooms.as_deref() {
        let rooms = many_rooms::parse_rooms(rooms)?;
        // Only a stream of rooms needs to know who asks: the lobby's is
        // the same for everyone, and makes no session.
        let visitor = Visitor::from_request_parts(&mut parts, &state).await?;
        return many_rooms::stream(state, rooms, cursor, visitor).await;
    }
    let KnownVisitor(user_id) = KnownVisitor::from_request_parts(&mut parts, &state).await?;
    lobby_only(state, user_id).await
}

async fn lobby_only(state: AppState, user_id: Option<String>) -> AppResult<Response> {
    let mut rx = state.hub.lobby().subscribe();
    let first = rooms_snapshot(&state, user_id.as_deref()).await?;
    let shutdown = state.shutdown.clone();
    let every = state.config.keep_alive;

    let body = stream! {
        yield Ok::<_, Infallible>(Bytes::from_static(RETRY));
        yield Ok(first.sse.clone());
        drop(first);
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut ticks = keep_alive(every);
        loop {
            let next = tokio::select! {
                _ = &mut cancelled => break,
                _ = ticks.tick() => Next::KeepAlive,
                event = rx.recv() => match event {
                    Ok(event) if lobby_admits(&event, user_id.as_deref()) => Next::Event(event),
                    Ok(_) => continue,
                    // Lobby events are not stored: a lagging lobby stream
                    // re-syncs with the whole list instead.
                    Err(RecvError::Lagged(_)) => match rooms_snapshot(&state, user_id.as_deref()).await {
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

pub(super) async fn rooms_snapshot(
    state: &AppState,
    user_id: Option<&str>,
) -> AppResult<Arc<Event>> {
    let body = rooms_now(state, user_id).await?;
    Ok(Arc::new(Event::transient(
        Kind::Rooms,
        Audience::Room,
        &body,
    )))
}

/// Whether a lobby event is for the stream's user (`None`: someone
/// without a session, who gets what everyone gets).
pub(super) fn lobby_admits(event: &Event, user_id: Option<&str>) -> bool {
    match user_id {
        Some(user_id) => event.audience.admits(user_id),
        None => event.audience == Audience::Room,
    }
}

pub(super) fn keep_alive(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// The response around an SSE body, with the headers that keep proxies
/// from caching or buffering it.
pub(super) fn event_stream(
    body: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
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
/// "start live". Both are checked: a malformed value is refused (400, 422)
/// even where the other would win.
fn resume_cursor(headers: &HeaderMap, query: Option<&str>) -> AppResult<Option<i64>> {
    let query = cursor_param("last_event_id", query)?;
    let header = match headers.get("last-event-id") {
        None => None,
        Some(value) => {
            // EventSource sends none while it has no id: an empty one is
            // no number either.
            let text = value
                .to_str()
                .map_err(|_| AppError::bad_request("Last-Event-ID must be a number"))?;
            cursor_param("Last-Event-ID", Some(text.trim()))?
        }
    };
    Ok(header.or(query))
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn the_documented_stream_paths_are_the_routed_ones() {
        use utoipa::Path;
        assert_eq!(__path_room_events::path(), ROOM_EVENTS);
        assert_eq!(__path_room_events_head::path(), ROOM_EVENTS);
        assert_eq!(__path_lobby_events::path(), LOBBY_EVENTS);
        assert_eq!(__path_lobby_events_head::path(), LOBBY_EVENTS);
    }

    #[tokio::test]
    async fn the_stream_predicate_agrees_with_the_router() {
        let router = Router::new()
            .route(ROOM_EVENTS, get(|| async { "stream" }))
            .route(LOBBY_EVENTS, get(|| async { "stream" }));
        for path in [
            "/events",
            "/events/",
            "/rooms/abc/events",
            "/rooms/a%2Fb/events",
            "/rooms//events",
            "/rooms/a/b/events",
            "/rooms/abc/events/",
            "/rooms/abc/poll",
            "/rooms/abc",
            "/",
            "/eventsx",
            "//events",
        ] {
            let request = Request::get(path).body(Body::empty()).unwrap();
            let routed = router.clone().oneshot(request).await.unwrap().status() == 200;
            assert_eq!(is_stream_path(path), routed, "{path}");
        }
    }
}
