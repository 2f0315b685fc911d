//! One connection for many rooms: `GET /events?rooms=a,b,...` carries the
//! lobby and every listed room in one stream (`feed/rooms.rs` keeps the
//! rooms' events in id order), so that a browser with many rooms open holds
//! one stream, not one per tab.
//!
//! Opening it checks every listed room first and answers the first failing
//! one's error (404, 403, 409) before anything is streamed; then the caller
//! is present in all of them while the stream is open.

use std::{convert::Infallible, sync::Arc};

use async_stream::stream;
use axum::{body::Bytes, response::Response};

use super::{
    access::enterable_room,
    stream::{KEEP_ALIVE, RETRY, event_stream, keep_alive, rooms_snapshot},
};
use crate::{
    error::{AppError, AppResult},
    feed::RoomsFeed,
    identity::Visitor,
    model::User,
    state::AppState,
};

/// Most rooms one stream may carry.
pub const MAX_ROOMS: usize = 50;

/// The rooms of `?rooms=`: ids separated by commas, each once, in order.
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
pub async fn check(state: &AppState, rooms: &[String], user: &User) -> AppResult<()> {
    for room_id in rooms {
        enterable_room(state, room_id, user).await?;
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
    // Every room checked before any is entered: a refused stream leaves
    // no presence (nor join and leave notices) behind.
    let mut checked = Vec::with_capacity(rooms.len());
    for room_id in &rooms {
        checked.push(enterable_room(&state, room_id, &visitor.user).await?);
    }
    // Entered (and so subscribed) before anything is read: see feed.rs.
    let mut entries = Vec::with_capacity(checked.len());
    let mut snapshots = Vec::with_capacity(checked.len());
    for room in checked {
        let entry = state.hub.enter(&room, &visitor.user)?;
        snapshots.push(entry.snapshot.sse.clone());
        entries.push((room.id, entry));
    }
    let lobby_first = rooms_snapshot(&state).await?;
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
            // So a browser that gets nothing before its first disconnect
            // still resumes from here.
            yield Ok(Bytes::from(format!("id: {start}\n\n")));
        }
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut ticks = keep_alive(every);
        loop {
            let frame = tokio::select! {
                biased;
                _ = &mut cancelled => break,
                event = feed.next() => match event {
                    Ok(event) => {
                        delivered.inc();
                        event.sse.clone()
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a stream of rooms ended by an error");
                        break;
                    }
                },
                event = lobby.recv() => match lobby_event(&state, event).await {
                    Some(event) => event.sse.clone(),
                    None => break,
                },
                _ = ticks.tick() => Bytes::from_static(KEEP_ALIVE),
            };
            yield Ok(frame);
        }
    };
    Ok(event_stream(body))
}

/// A lobby event as the stream sends it: a lag re-sends the whole list
/// (lobby events are not stored); `None` ends the stream.
async fn lobby_event(
    state: &AppState,
    received: Result<Arc<crate::events::Event>, tokio::sync::broadcast::error::RecvError>,
) -> Option<Arc<crate::events::Event>> {
    use tokio::sync::broadcast::error::RecvError;
    match received {
        Ok(event) => Some(event),
        Err(RecvError::Lagged(_)) => rooms_snapshot(state).await.ok(),
        Err(RecvError::Closed) => None,
    }
}
