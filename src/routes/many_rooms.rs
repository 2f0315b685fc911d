//! One connection for many rooms: `GET /events?rooms=a,b,...` carries the
//! lobby and every listed room in one stream (`feed/rooms.rs` keeps the
//! rooms' events in id order), so that a browser with many rooms open holds
//! one stream, not one per tab.
//!
//! Opening it checks every listed room first and answers the first failing
//! one's error (404, 403, 409) before anything is streamed; then the caller
//! is present in all of them while the stream is open. `GET /poll?rooms=`
//! is the same cut into answers, for clients without EventSource.

use std::{convert::Infallible, sync::Arc};

use async_stream::stream;
use axum::{body::Bytes, response::Response};

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    access::{enter_rooms, enterable_room},
    poll::{gather, json_response},
    stream::{
        KEEP_ALIVE, RETRY, cursor_event, event_stream, keep_alive, lobby_admits, rooms_snapshot,
    },
};
use crate::{
    error::{AppError, AppResult},
    events::{Event, json_array},
    feed::RoomsFeed,
    hub::Changes,
    identity::Visitor,
    model::{Audience, Kind, Room, RoomEvent},
    routes::lobby::rooms_now,
    state::AppState,
};

/// Most rooms one stream may carry.
pub const MAX_ROOMS: usize = 50;

/// The rooms of `?rooms=`: ids separated by commas, each once, in order.
/// (The documents' pattern for `rooms`, `^[^,]*[^,\s][^,]*(,[^,]*){0,49}$`,
/// admits only lists this accepts: a first id, at most 50 in all.)
pub fn parse_rooms(list: &str) -> AppResult<Vec<String>> {
    let mut rooms: Vec<String> = Vec::new();
    for id in list.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if !rooms.iter().any(|known| known == id) {
            rooms.push(id.to_owned());
        }
    }
    if rooms.is_empty() {
        return Err(AppError::bad_request("rooms names no room"));
    }
    if rooms.len() > MAX_ROOMS {
        return Err(AppError::invalid(format!(
            "a stream carries at most {MAX_ROOMS} rooms"
        )));
    }
    Ok(rooms)
}

/// What opening the stream would answer, without opening it (HEAD).
pub async fn check(state: &AppState, rooms: &[String], visitor: &Visitor) -> AppResult<()> {
    for room_id in rooms {
        enterable_room(state, room_id, visitor).await?;
    }
    Ok(())
}

/// The stream of the lobby and `rooms`, from `cursor` (a global id).
pub async fn stream(
    state: AppState,
    rooms: Vec<String>,
    cursor: Option<i64>,
    visitor: Visitor,
) -> AppResult<Response> {
    let mut lobby = state.hub.lobby().subscribe();
    // Every room checked before any is entered, so that a refused stream
    // leaves no presence (nor join and leave notices) behind; entered (and
    // so subscribed) before anything is read: see feed.rs.
    let entries = enter_rooms(&state, &rooms, &visitor.user, visitor.addr).await?;
    let snapshots: Vec<_> = (entries.iter())
        .map(|(_, entry)| entry.snapshot.sse.clone())
        .collect();
    let user_id = visitor.user.id.clone();
    let lobby_first = rooms_snapshot(&state, Some(&user_id)).await?;
    let lags = state.metrics.lag_recoveries.clone();
    let mut feed = RoomsFeed::open(
        (&state.db, &state.hub, lags),
        visitor.user.id,
        entries,
        cursor,
    );
    let start = feed.last_id();
    let delivered = state.metrics.events_delivered.clone();
    let shutdown = state.shutdown.clone();
    let every = state.config.keep_alive;

    let body = stream! {
        yield Ok::<_, Infallible>(Bytes::from_static(RETRY));
        yield Ok(lobby_first.sse.clone());
        drop(lobby_first);
        for snapshot in snapshots {
            yield Ok(snapshot);
        }
        if cursor.is_none() {
            yield Ok(cursor_event(start));
        }
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut ticks = keep_alive(every);
        loop {
            let frame = tokio::select! {
                biased;
                _ = &mut cancelled => break,
                event = feed.next() => match event {
                    Ok((_, event)) => {
                        delivered.inc();
                        event.sse.clone()
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a stream of rooms ended by an error");
                        break;
                    }
                },
                event = lobby.recv() => match lobby_event(&state, &user_id, event).await {
                    Some(event) if lobby_admits(&event, Some(&user_id)) => event.sse.clone(),
                    Some(_) => continue,
                    None => break,
                },
                _ = ticks.tick() => Bytes::from_static(KEEP_ALIVE),
            };
            yield Ok(frame);
        }
    };
    Ok(event_stream(body))
}

/// The room list as an element of a poll answer: `type` says what it is,
/// as every element's does.
#[derive(Serialize, ToSchema)]
pub struct RoomsEvent {
    #[serde(rename = "type")]
    #[schema(schema_with = rooms_kind)]
    kind: Kind,
    /// Every room, newest first, with the caller's unread counts.
    rooms: Vec<Room>,
    /// As the lobby's (`RoomList`).
    #[serde(skip_serializing_if = "Option::is_none")]
    unread_through: Option<i64>,
}

fn rooms_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::Rooms])
}

/// An element of a poll of many rooms: a room's event, or the room list.
/// (Elements travel as JSON rendered once; this names their shapes for
/// the schema.)
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ManyRoomsEvent {
    Room(Box<RoomEvent>),
    Rooms(RoomsEvent),
    Unread(UnreadEvent),
}

/// `GET /poll?rooms=`'s answer: a room poll's, with the lobby's version.
/// Rendered from each event's shared JSON, not serialized again.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RoomsPollAnswer {
    /// Events in order; the stored ones have ids, increasing across rooms.
    events: Vec<ManyRoomsEvent>,
    /// The id of the last stored event here, or `after` when there is none.
    #[schema(minimum = 0)]
    last_event_id: i64,
    /// Opaque: send it back as `version`; the room list comes again only
    /// when the lobby changed.
    version: String,
}

async fn rooms_event(state: &AppState, user_id: &str) -> AppResult<Arc<Event>> {
    let list = rooms_now(state, Some(user_id)).await?;
    let body = RoomsEvent {
        kind: Kind::Rooms,
        rooms: list.rooms,
        unread_through: list.unread_through,
    };
    Ok(Arc::new(Event::transient(
        Kind::Rooms,
        Audience::Room,
        &body,
    )))
}

/// A poll's element for a lobby that changed since the caller's version:
/// the whole list, or only the caller's unread counts.
async fn lobby_news(
    state: &AppState,
    user_id: &str,
    changes: Changes,
) -> AppResult<Option<Arc<Event>>> {
    match changes {
        Changes::None => Ok(None),
        Changes::List => rooms_event(state, user_id).await.map(Some),
        Changes::Activity => {
            let unread = state.db.unread(user_id).await?;
            let body = UnreadEvent {
                kind: Kind::Unread,
                rooms: unread.counts,
                unread_through: unread.through,
            };
            let event = Event::transient(Kind::Unread, Audience::Room, &body);
            Ok(Some(Arc::new(event)))
        }
    }
}

/// A poll's element when messages were posted but the list did not
/// change: the caller's unread counts by room (rooms not named have none).
#[derive(Serialize, ToSchema)]
pub struct UnreadEvent {
    #[serde(rename = "type")]
    #[schema(schema_with = unread_kind)]
    kind: Kind,
    rooms: std::collections::HashMap<String, i64>,
    /// As the lobby's (`RoomList`).
    unread_through: i64,
}

fn unread_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::Unread])
}

/// How one poll of many rooms is asked.
pub struct PollOf {
    pub rooms: Vec<String>,
    /// The last stored id the caller has; absent: only what comes.
    pub after: Option<i64>,
    pub timeout: std::time::Duration,
    /// The lobby `version` of the caller's last answer.
    pub version: Option<String>,
}

/// Most events in one answer; the client asks again at once for the rest.
const MAX_EVENTS_PER_ANSWER: usize = 500;

/// One poll of the lobby and `rooms`: answered at once with what the
/// caller lacks (the room list when the lobby changed since `version`, a
/// room's members when they changed since this user's last poll, stored
/// events after `after`), else with the first event to come, or empty
/// after `timeout`. `{"events", "last_event_id", "version"}`.
pub async fn poll(state: AppState, asked: PollOf, visitor: Visitor) -> AppResult<Response> {
    let mut watch = state.hub.lobby().watch();
    let entries = enter_rooms(&state, &asked.rooms, &visitor.user, visitor.addr).await?;
    let lags = state.metrics.lag_recoveries.clone();
    let user_id = visitor.user.id;
    let mut feed = RoomsFeed::open(
        (&state.db, &state.hub, lags),
        user_id.clone(),
        entries,
        asked.after,
    );
    let mut answer = Answer::default();
    // The version reported is the one whose news this answer carries.
    let (mut reported, changes) = watch.changes(asked.version.as_deref());
    if let Some(news) = lobby_news(&state, &user_id, changes).await? {
        answer.push(None, news);
    }
    for room_id in &asked.rooms {
        if let Some(snapshot) = state.hub.unpolled_snapshot(room_id, &user_id) {
            answer.push(Some(room_id.as_str().into()), snapshot);
        }
    }
    // Stored events after the cursor are read before any wait, so that a
    // short `timeout` (even 0) does not answer "nothing" while the
    // database is being read.
    feed.prefetch().await?;
    if answer.events.is_empty() {
        match feed.ready() {
            Some((room, event)) => answer.push(Some(room), event),
            None => {
                let seen = asked.version.clone();
                tokio::select! {
                    _ = state.shutdown.cancelled() => {}
                    next = tokio::time::timeout(asked.timeout, feed.next()) => {
                        if let Ok(next) = next {
                            let (room, event) = next?;
                            answer.push(Some(room), event);
                        }
                    }
                    _ = watch.wait_for_change(seen.as_deref(), asked.timeout) => {
                        let (now, changes) = watch.changes(seen.as_deref());
                        reported = now;
                        if let Some(news) = lobby_news(&state, &user_id, changes).await? {
                            answer.push(None, news);
                        }
                    }
                }
            }
        }
    }
    gather(&state, answer.events.first()).await;
    while answer.events.len() < MAX_EVENTS_PER_ANSWER {
        match feed.ready() {
            Some((room, event)) => answer.push(Some(room), event),
            None => break,
        }
    }
    for room_id in &asked.rooms {
        // Whatever snapshot rode along, this user's polls are now current.
        let _ = state.hub.unpolled_snapshot(room_id, &user_id);
    }
    let events = answer.events;
    state.metrics.events_delivered.inc_by(events.len() as u64);
    let mut body = BytesMut::new();
    body.put_slice(b"{\"events\":");
    body.put(json_array(events.iter().map(|e| e.json.clone())));
    body.put_slice(format!(",\"last_event_id\":{},\"version\":", feed.last_id()).as_bytes());
    body.put_slice(&crate::events::to_json(&reported));
    body.put_u8(b'}');
    drop(feed);
    Ok(json_response(body))
}

/// A poll answer's events, each with its room (none for the room list).
#[derive(Default)]
struct Answer {
    events: Vec<Arc<Event>>,
    rooms: Vec<Option<Arc<str>>>,
}

impl Answer {
    /// Adds `event`; a room's `members` replaces an older one of the same
    /// room in this answer (only the newest snapshot says anything).
    fn push(&mut self, room: Option<Arc<str>>, event: Arc<Event>) {
        if event.kind == Kind::Members
            && let Some(older) = (self.events.iter().zip(&self.rooms))
                .position(|(e, r)| e.kind == Kind::Members && *r == room)
        {
            self.events.remove(older);
            self.rooms.remove(older);
        }
        self.events.push(event);
        self.rooms.push(room);
    }
}

/// A lobby event as the stream sends it: a lag re-sends the whole list
/// (lobby events are not stored); `None` ends the stream.
async fn lobby_event(
    state: &AppState,
    user_id: &str,
    received: Result<Arc<Event>, tokio::sync::broadcast::error::RecvError>,
) -> Option<Arc<Event>> {
    use tokio::sync::broadcast::error::RecvError;
    match received {
        Ok(event) => Some(event),
        Err(RecvError::Lagged(_)) => rooms_snapshot(state, Some(user_id)).await.ok(),
        Err(RecvError::Closed) => None,
    }
}
