//! Folding: the changes of a room's last second become one round of news.
//!
//! The first change schedules a flush, at most one per [`FLUSH_INTERVAL`]
//! per room, which stores one join notice and one leave notice naming up to
//! three users, passes ownership on if the owner left, sends one `members`
//! snapshot and one lobby `room-updated`, or deletes the room when its last
//! member has gone. A room of thousands thus costs its viewers a handful of
//! events per second, however many arrive.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::broadcast;

use super::{Hub, Note, presence::RoomState};
use crate::{
    events::Event,
    model::{Audience, Kind, NewEvent, User},
};

/// At most one folded flush per room per this interval.
pub(super) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Notices name at most this many users and count the rest.
const NAMED_IN_NOTICE: usize = 3;

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

    /// Stores the folded notices and tells viewers and the lobby.
    async fn flush(&self, room_id: &str) {
        let plan = {
            let mut state = self.state();
            let Some(room) = state.rooms.get_mut(room_id) else {
                return;
            };
            room.flush_scheduled = false;
            room.last_flush = Some(Instant::now());
            let joins = std::mem::take(&mut room.joins);
            let leaves = std::mem::take(&mut room.leaves);
            let owner_left = leaves.iter().any(|u| u.id == room.room.owner.id)
                && !room.members.contains(&room.room.owner.id);
            let heir = owner_left
                .then(|| room.members.by_arrival().next().map(|m| m.user.clone()))
                .flatten();
            let empty = room.members.is_empty() && room.entered;
            room.closing = empty;
            room.snapshot_version += 1;
            FlushPlan {
                joins,
                leaves,
                heir,
                empty,
                snapshot: room.snapshot(),
                tx: room.tx.clone(),
            }
        };
        if let Err(e) = self.store_flush(room_id, &plan).await {
            tracing::warn!(room = room_id, error = %e, "storing presence notices failed");
        }
        if !plan.empty {
            let _ = plan.tx.send(plan.snapshot);
            self.announce_room(room_id);
        }
    }

    async fn store_flush(&self, room_id: &str, plan: &FlushPlan) -> Result<(), String> {
        let mut notes = Vec::new();
        if !plan.joins.is_empty() {
            let text = notice(&plan.joins, "joined");
            notes.push(Note::Notice(NewEvent::system(room_id, text)));
        }
        if !plan.leaves.is_empty() {
            let text = notice(&plan.leaves, "left");
            notes.push(Note::Notice(NewEvent::system(room_id, text)));
        }
        if let Some(heir) = &plan.heir {
            let text = format!("{} is now the owner", heir.label());
            notes.push(Note::NewOwner {
                owner: heir.clone(),
                notice: NewEvent::system(room_id, text),
            });
        }
        if plan.empty {
            notes.push(Note::DeleteRoom(room_id.to_owned()));
        }
        if notes.is_empty() {
            return Ok(());
        }
        self.store(notes).await
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

struct FlushPlan {
    joins: Vec<User>,
    leaves: Vec<User>,
    heir: Option<User>,
    empty: bool,
    snapshot: Arc<Event>,
    tx: broadcast::Sender<Arc<Event>>,
}

/// "alice joined", "alice and bob left", "alice, bob, carol and 12 others
/// joined".
fn notice(users: &[User], verb: &str) -> String {
    let names: Vec<&str> = users
        .iter()
        .take(NAMED_IN_NOTICE)
        .map(User::label)
        .collect();
    let rest = users.len() - names.len();
    let listed = match (names.as_slice(), rest) {
        ([], _) => String::new(),
        ([one], 0) => (*one).to_owned(),
        ([first @ .., last], 0) => format!("{} and {last}", first.join(", ")),
        (all, 1) => format!("{} and 1 other", all.join(", ")),
        (all, n) => format!("{} and {n} others", all.join(", ")),
    };
    format!("{listed} {verb}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Vec<User> {
        (0..n)
            .map(|i| User::new(format!("u{i}"), Some(format!("user{i}"))))
            .collect()
    }

    #[test]
    fn notices_name_up_to_three_users_and_count_the_rest() {
        assert_eq!(notice(&users(1), "joined"), "user0 joined");
        assert_eq!(notice(&users(2), "left"), "user0 and user1 left");
        assert_eq!(notice(&users(3), "joined"), "user0, user1 and user2 joined");
        assert_eq!(
            notice(&users(4), "joined"),
            "user0, user1, user2 and 1 other joined"
        );
        assert_eq!(
            notice(&users(15), "joined"),
            "user0, user1, user2 and 12 others joined"
        );
    }
}
