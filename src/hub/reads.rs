//! What each user has been delivered of each room: the read position that
//! their unread counts start from. A stream or poll moves its user's cell
//! with every stored event it delivers (an atomic: no lock per event);
//! once a second the positions that moved are taken ([`Hub::take_reads`])
//! and stored by the writer, which says the new counts to the lobby.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use serde::Serialize;
use utoipa::ToSchema;

use super::Hub;
use crate::{
    events::Event,
    model::{Audience, EventRecord, Kind, ReadMark, Unread},
};

/// A lobby event: a message was posted in a room. Unread counts go up by
/// one for whoever may see it, unless they posted it or the lobby's
/// `rooms` counted it already (`last_event_id` up to its `unread_through`).
#[derive(Serialize, ToSchema)]
pub struct RoomActivity {
    /// Always `room-activity`.
    #[serde(rename = "type")]
    #[schema(schema_with = activity_kind)]
    pub kind: Kind,
    pub room: String,
    /// The message's id.
    pub last_event_id: i64,
    /// Who posted it.
    #[schema(required = true)]
    pub user: Option<String>,
}

fn activity_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::RoomActivity])
}

/// A lobby event to one user: their read position in a room moved, and
/// this is what they have left unread there now.
#[derive(Serialize, ToSchema)]
pub struct ReadEvent {
    /// Always `read`.
    #[serde(rename = "type")]
    #[schema(schema_with = read_kind)]
    pub kind: Kind,
    pub room: String,
    pub last_event_id: i64,
    pub unread: i64,
}

fn read_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::Read])
}

/// A user's read position in a room, shared by their feeds there.
#[derive(Clone, Debug, Default)]
pub struct ReadPosition(Arc<AtomicI64>);

impl ReadPosition {
    /// Everything up to `id` was delivered.
    pub fn reached(&self, id: i64) {
        self.0.fetch_max(id, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Cell {
    position: ReadPosition,
    /// What was last taken to be stored.
    taken: i64,
}

/// Every user's position in every room, while a feed holds it or it has
/// not been taken since it moved.
#[derive(Default)]
pub(super) struct ReadCells {
    rooms: HashMap<String, HashMap<String, Cell>>,
}

impl ReadCells {
    pub(super) fn position(&mut self, room_id: &str, user_id: &str) -> ReadPosition {
        let users = match self.rooms.get_mut(room_id) {
            Some(users) => users,
            None => self.rooms.entry(room_id.to_owned()).or_default(),
        };
        if let Some(cell) = users.get(user_id) {
            return cell.position.clone();
        }
        let position = ReadPosition::default();
        let cell = Cell {
            position: position.clone(),
            taken: 0,
        };
        users.insert(user_id.to_owned(), cell);
        position
    }

    /// The positions that moved since last taken; cells nobody holds any
    /// more are forgotten once taken.
    fn take(&mut self) -> Vec<ReadMark> {
        let mut marks = Vec::new();
        for (room_id, users) in &mut self.rooms {
            users.retain(|user_id, cell| {
                let now = cell.position.get();
                if now > cell.taken {
                    cell.taken = now;
                    marks.push(ReadMark {
                        user_id: user_id.clone(),
                        room_id: room_id.clone(),
                        last_read: now,
                    });
                }
                Arc::strong_count(&cell.position.0) > 1
            });
        }
        self.rooms.retain(|_, users| !users.is_empty());
        marks
    }
}

impl Hub {
    /// `user_id`'s read position in the room, for a feed to move.
    pub fn read_position(&self, room_id: &str, user_id: &str) -> ReadPosition {
        self.state().reads.position(room_id, user_id)
    }

    /// The read positions that moved since the last call, to be stored.
    pub fn take_reads(&self) -> Vec<ReadMark> {
        self.state().reads.take()
    }

    /// Read positions were stored: each user's lobby hears what is left.
    pub fn read(&self, moved: &[Unread]) {
        for Unread { mark, unread } in moved {
            let body = ReadEvent {
                kind: Kind::Read,
                room: mark.room_id.clone(),
                last_event_id: mark.last_read,
                unread: *unread,
            };
            let audience = Audience::User(mark.user_id.clone());
            self.lobby()
                .notify(Event::transient(Kind::Read, audience, &body));
        }
    }

    /// A message was stored: the lobby hears of it, as its message's
    /// audience may (unread counts).
    pub(super) fn room_activity(&self, record: &EventRecord) {
        let body = RoomActivity {
            kind: Kind::RoomActivity,
            room: record.room.clone(),
            last_event_id: record.id,
            user: record.user.as_ref().map(|u| u.id.clone()),
        };
        let event = Event::transient(Kind::RoomActivity, record.audience(), &body);
        self.lobby().send_activity(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_taken_once_per_move_and_forgotten_when_let_go() {
        let mut cells = ReadCells::default();
        let held = cells.position("r", "alice");
        held.reached(5);
        held.reached(3);
        cells.position("r", "bob").reached(7);
        let mut taken = cells.take();
        taken.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        let taken: Vec<(&str, i64)> = taken
            .iter()
            .map(|m| (m.user_id.as_str(), m.last_read))
            .collect();
        assert_eq!(taken, [("alice", 5), ("bob", 7)]);
        assert!(cells.take().is_empty(), "nothing moved since");
        held.reached(9);
        assert_eq!(cells.take()[0].last_read, 9);
        drop(held);
        assert!(cells.take().is_empty());
        assert!(
            cells.rooms.is_empty(),
            "bob's and alice's cells were let go"
        );
    }
}
