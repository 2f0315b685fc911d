//! Folding: the changes of a room's last second become one round of news.
//!
//! The first change schedules a flush, at most one per [`FLUSH_INTERVAL`]
//! per room, which stores this node's arrivals and departures of that
//! second as one round (the store decides from every node's presence who
//! really joined or left, with one notice each, whether the owner left
//! everywhere and who inherits, whether the room is now empty and goes:
//! `db/presence.rs`), then sends one `members` snapshot and one lobby
//! `room-updated`. A room of thousands thus costs its viewers a handful of
//! events per second, however many arrive.

use std::time::{Duration, Instant};

use super::{Hub, presence::RoomState};
use crate::{
    events::Event,
    model::{Audience, Kind},
};

/// At most one folded flush per room per this interval.
pub(super) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

impl Hub {
    /// Records a change and makes sure a flush is scheduled, at most one per
    /// [`FLUSH_INTERVAL`].
    pub(super) fn changed(&self, room_id: &str, room: &mut RoomState) {
        room.snapshot = None;
        if room.flush_scheduled {
            return;
        }
        room.flush_scheduled = true;
        let delay = room
            .last_flush
            .map(|last| (last + FLUSH_INTERVAL).saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        let hub = self.clone();
        let room_id = room_id.to_owned();
        self.shared.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            hub.flush(&room_id).await;
        });
    }

    /// Stores this node's round, then tells viewers and the lobby. The
    /// flush stays scheduled while its round is being stored, so a room's
    /// rounds are stored one at a time, in order; what changed meanwhile
    /// makes the next.
    async fn flush(&self, room_id: &str) {
        let (arrived, departed) = {
            let mut state = self.state();
            let Some(room) = state.rooms.get_mut(room_id) else {
                return;
            };
            room.last_flush = Some(Instant::now());
            let arrived = std::mem::take(&mut room.arrived);
            let departed = std::mem::take(&mut room.departed);
            // Nobody may come in while the store may be deleting the room.
            room.closing = !departed.is_empty() && room.members.is_empty();
            (arrived, departed)
        };
        let stored = match arrived.is_empty() && departed.is_empty() {
            true => Ok(()),
            false => self.store(room_id, arrived.clone(), departed.clone()).await,
        };
        let (tx, snapshot) = {
            let mut state = self.state();
            // Deleted (the store reported it before answering): gone here.
            let Some(room) = state.rooms.get_mut(room_id) else {
                return;
            };
            room.closing = false;
            room.flush_scheduled = false;
            if let Err(e) = stored {
                // Kept for the next round, so that the stored presence
                // does not drift from this node's.
                tracing::warn!(room = room_id, error = %e, "storing presence failed");
                room.arrived.splice(0..0, arrived);
                room.departed.splice(0..0, departed);
            }
            if !room.arrived.is_empty() || !room.departed.is_empty() {
                self.changed(room_id, room);
            }
            room.snapshot_version += 1;
            (room.tx.clone(), room.snapshot())
        };
        // Outside the lock: waking a big room's viewers must not stall
        // arrivals.
        tx.send(snapshot);
        self.announce_room(room_id);
    }

    /// Sends the lobby the room as it is now.
    fn announce_room(&self, room_id: &str) {
        let state = self.state();
        if let Some(room) = state.rooms.get(room_id) {
            let body = room.room.public(room.members.len());
            drop(state);
            self.shared
                .lobby
                .send(Event::transient(Kind::RoomUpdated, Audience::Room, &body));
        }
    }
}
