//! Long-polling: the same feed as the SSE stream, cut into answers, for
//! clients where EventSource does not work.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{FromRequestParts, Path, Query, Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    events::{Event, json_array},
    feed::Feed,
    hub::HubError,
    identity::{KnownVisitor, Visitor},
    model::{Kind, Room, RoomEvent, User},
    routes::{
        access::{ENTRY_ATTEMPTS, admitted_room_of, enterable_room},
        lobby::rooms_now,
        many_rooms,
        negotiate::{cursor_param, parse_param},
        openapi::{Conflict, Failed, InRoom, Invalid, LongLived, Malformed},
        poll_answers::PollAnswers,
        rooms::RoomPath,
    },
    state::AppState,
};

const DEFAULT_TIMEOUT_SECS: u64 = 25;
const MAX_TIMEOUT_SECS: u64 = 60;
/// Most events in one answer; the client asks again at once for the rest.
const MAX_EVENTS_PER_ANSWER: usize = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(room_poll, room_poll_head))
        .routes(routes!(lobby_poll, lobby_poll_head))
}

/// HEAD /rooms/{id}/poll: what a poll would answer first (status and
/// headers), without polling: no presence, no waiting.
#[utoipa::path(
    head,
    path = "/rooms/{id}/poll",
    operation_id = "room_poll_head",
    tag = "polls",
    params(RoomPath, RoomPollQuery),
    responses(
        (status = OK, description = "A poll would be answered", content_type = "application/json"),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn room_poll_head(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<RoomPollQuery>,
    visitor: Visitor,
) -> AppResult<Response> {
    query.check()?;
    enterable_room(&state, &room_id, &visitor).await?;
    Ok(json_response(Bytes::new()))
}

/// HEAD /poll: what a poll would answer first (status and headers),
/// without waiting (nor presence in its rooms).
#[utoipa::path(
    head,
    path = "/poll",
    operation_id = "lobby_poll_head",
    tag = "polls",
    params(LobbyPollQuery),
    responses(
        (status = OK, description = "A poll would be answered", content_type = "application/json"),
        InRoom, Malformed, Invalid, Conflict, LongLived, Failed
    )
)]
async fn lobby_poll_head(
    State(state): State<AppState>,
    Query(query): Query<LobbyPollQuery>,
    request: Request,
) -> AppResult<Response> {
    let asked = query.check()?;
    if let Some(asked) = asked {
        let (mut parts, _) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, &state).await?;
        many_rooms::check(&state, &asked.rooms, &visitor).await?;
    }
    Ok(json_response(Bytes::new()))
}

/// The query of `GET /rooms/{id}/poll`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RoomPollQuery {
    /// The id of the last event the caller has (absent: only new events).
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
    /// Seconds to wait for an event before answering with none.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 60, default = 25)]
    timeout: Option<String>,
}

impl RoomPollQuery {
    /// `after` and the timeout: 400 when not numbers, 422 out of bounds.
    fn check(&self) -> AppResult<(Option<i64>, Duration)> {
        let after = cursor_param("after", self.after.as_deref())?;
        Ok((after, poll_timeout(self.timeout.as_deref())?))
    }
}

/// `GET /rooms/{id}/poll`'s answer. Rendered from each event's shared
/// JSON (`render`), not serialized again.
#[derive(ToSchema)]
struct RoomPollAnswer<'a> {
    /// Events after `after`, in order; the stored ones have ids.
    #[schema(value_type = Vec<RoomEvent>)]
    events: &'a [std::sync::Arc<Event>],
    /// The id of the last stored event here, or `after` when there is none.
    #[schema(minimum = 0)]
    last_event_id: i64,
}

impl RoomPollAnswer<'_> {
    /// `{"events": [...], "last_event_id": N}` from the events' JSON, or
    /// the same bytes another poller of `room_id` was just answered with.
    fn render(&self, answers: &PollAnswers, room_id: &str) -> Response {
        let body = answers.body(room_id, self.events, self.last_event_id, || {
            let events = self.events.iter().map(|e| e.json.len() + 1).sum::<usize>();
            let mut body = BytesMut::with_capacity(events + 48);
            body.put_slice(b"{\"events\":");
            body.put(json_array(self.events.iter().map(|e| e.json.clone())));
            body.put_slice(format!(",\"last_event_id\":{}}}", self.last_event_id).as_bytes());
            body.freeze()
        });
        json_response(body)
    }
}

/// GET /rooms/{id}/poll?after=&timeout=: answers as soon as there is at
/// least one visible event after `after`, or empty after `timeout`. An
/// outstanding poll keeps the caller present, like a stream.
#[utoipa::path(
    get,
    path = "/rooms/{id}/poll",
    operation_id = "room_poll",
    tag = "polls",
    params(RoomPath, RoomPollQuery),
    responses(
        (status = OK, description = "The events after `after` (none after `timeout`)",
            body = RoomPollAnswer),
        InRoom, Invalid, Conflict, LongLived, Failed
    )
)]
async fn room_poll(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<RoomPollQuery>,
    visitor: Visitor,
) -> AppResult<Response> {
    let poller = Poller {
        room_id,
        user: visitor.user,
        addr: visitor.addr,
    };
    let mut answer = poll_as(&state, &poller, &query).await?;
    // The connection's next polls like this one are answered from it
    // (`steady.rs`).
    answer.extensions_mut().insert(poller);
    Ok(answer)
}

/// Who polls which room: all a room poll needs to know of its request
/// besides the query.
#[derive(Debug, Clone)]
pub struct Poller {
    pub room_id: String,
    pub user: User,
    /// The client's address, through trusted proxies.
    pub addr: IpAddr,
}

/// A room poll's answer for `poller`.
pub(super) async fn poll_as(
    state: &AppState,
    poller: &Poller,
    query: &RoomPollQuery,
) -> AppResult<Response> {
    let (after, timeout) = query.check()?;
    let Poller {
        room_id,
        user,
        addr,
    } = poller;
    // Entered (and so subscribed) before anything is read: see feed.rs.
    // As `enter_room`, written out: through that async fn each waiting
    // poll held 0.7-1 KiB more resident memory (measured at 1,000 and
    // 5,000 pollers).
    let mut attempts = 0;
    let entry = loop {
        let mark = state.hub.ban_mark();
        let room = admitted_room_of(state, room_id, user, *addr).await?;
        match state.hub.enter(&room, user, mark) {
            Err(HubError::BannedSince) if attempts < ENTRY_ATTEMPTS => attempts += 1,
            entered => break entered?,
        }
    };
    let mut feed = Feed::open(
        (&state.db, &state.hub, &state.metrics),
        room_id.clone(),
        user.id.clone(),
        (entry.rx, entry.wave, entry.read),
        entry.published,
        after,
    );

    let mut events = Vec::new();
    if let Some(snapshot) = state.hub.unpolled_snapshot(room_id, &user.id) {
        // Answer at once with the snapshot, and whatever history is due.
        events.push(snapshot);
        feed.prefetch().await?;
    } else {
        // Stored events after the cursor are there already: they are read
        // before the wait starts, so that a short `timeout` (even 0) does
        // not answer "nothing" while the database is being read.
        feed.prefetch().await?;
        let wait = match feed.ready() {
            Some(event) => Some(Ok(Some(event))),
            None => tokio::select! {
                biased;
                _ = state.shutdown.cancelled() => None,
                next = tokio::time::timeout(timeout, feed.next_in_wave()) => next.ok(),
            },
        };
        if let Some(next) = wait {
            events.extend(next?);
        }
    }
    gather(state, events.first()).await;
    while events.len() < MAX_EVENTS_PER_ANSWER {
        match feed.ready() {
            Some(event) => events.push(event),
            None => break,
        }
    }
    if events.iter().any(|e| e.kind == Kind::Members) {
        // Whatever snapshot rode along, this user's polls are now current.
        let _ = state.hub.unpolled_snapshot(room_id, &user.id);
    }
    drop(entry.presence);
    state.metrics.events_delivered.inc_by(events.len() as u64);
    let answer = RoomPollAnswer {
        events: &events,
        last_event_id: feed.last_id(),
    };
    Ok(answer.render(&state.poll_answers, room_id))
}

/// Before answering with `first`: in a busy room, waits for the room's
/// next events to come along (`hub/pace.rs`), unless the server is
/// shutting down.
pub(super) async fn gather(state: &AppState, first: Option<&Arc<Event>>) {
    let Some(until) = first.and_then(|event| event.gather_until) else {
        return;
    };
    if until > tokio::time::Instant::now() {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

pub(super) fn json_response(body: impl Into<Bytes>) -> Response {
    let mut response = Body::from(body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The query of `GET /poll`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LobbyPollQuery {
    /// The `version` of the caller's last answer (absent, or from before a
    /// restart: answered at once).
    version: Option<String>,
    /// Seconds to wait for a change before answering with none.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 60, default = 25)]
    timeout: Option<String>,
    /// Rooms to poll too, by id, comma-separated (at most 50): the answer
    /// is then shaped as a room poll's, with the events of every listed
    /// room in id order, the room list as a `rooms` event when the lobby
    /// changed since `version`, and the `version`.
    #[param(pattern = r"^[^,]*[^,\s][^,]*(,[^,]*){0,49}$")]
    rooms: Option<String>,
    /// With `rooms`: the id of the last stored event the caller has
    /// (absent: only new events).
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
}

impl LobbyPollQuery {
    /// The poll of many rooms this asks for, if it names rooms; 400 or 422
    /// for what cannot be read.
    fn check(&self) -> AppResult<Option<many_rooms::PollOf>> {
        let timeout = poll_timeout(self.timeout.as_deref())?;
        let after = cursor_param("after", self.after.as_deref())?;
        let Some(rooms) = self.rooms.as_deref() else {
            return Ok(None);
        };
        Ok(Some(many_rooms::PollOf {
            rooms: many_rooms::parse_rooms(rooms)?,
            after,
            timeout,
            version: self.version.clone(),
        }))
    }
}

/// `GET /poll`'s answer.
#[derive(Serialize, ToSchema)]
struct LobbyPollAnswer {
    /// Opaque: send it back as `version` to wait for the next change.
    version: String,
    /// Every room, newest first (with the caller's unread counts).
    rooms: Vec<Room>,
    /// As the lobby's (`RoomList`).
    #[serde(skip_serializing_if = "Option::is_none")]
    unread_through: Option<i64>,
}

/// What `GET /poll` answers: the lobby's, or with `rooms`, the poll of
/// many rooms'.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PollAnswer {
    Lobby(LobbyPollAnswer),
    Rooms(many_rooms::RoomsPollAnswer),
}

/// GET /poll?version=&timeout=: the room list, at once when it changed
/// since `version`, else when it next changes or after `timeout`; with
/// `rooms`, the poll of many rooms (`many_rooms.rs`).
#[utoipa::path(
    get,
    path = "/poll",
    operation_id = "lobby_poll",
    tag = "polls",
    params(LobbyPollQuery),
    responses(
        (status = OK, description = "The rooms, once they changed (or after `timeout`); with \
            `rooms`, `{events, last_event_id, version}`: the events of those rooms after \
            `after` in id order, `rooms` (the list) among them when the lobby changed",
            body = PollAnswer),
        InRoom, Malformed, Invalid, Conflict, LongLived, Failed
    )
)]
async fn lobby_poll(
    State(state): State<AppState>,
    Query(query): Query<LobbyPollQuery>,
    request: Request,
) -> AppResult<Response> {
    if let Some(asked) = query.check()? {
        let (mut parts, _) = request.into_parts();
        // Only a poll of rooms needs to know who asks.
        let visitor = Visitor::from_request_parts(&mut parts, &state).await?;
        return many_rooms::poll(state, asked, visitor).await;
    }
    let timeout = poll_timeout(query.timeout.as_deref())?;
    let (mut parts, _) = request.into_parts();
    let KnownVisitor(user_id) = KnownVisitor::from_request_parts(&mut parts, &state).await?;
    let mut watch = state.hub.lobby().watch();
    let version = tokio::select! {
        _ = state.shutdown.cancelled() => watch.current(),
        version = watch.wait_for_change(query.version.as_deref(), timeout) => version,
    };
    let list = rooms_now(&state, user_id.as_deref()).await?;
    let answer = LobbyPollAnswer {
        version,
        rooms: list.rooms,
        unread_through: list.unread_through,
    };
    let body = serde_json::to_vec(&answer).map_err(AppError::internal)?;
    Ok(json_response(body))
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
