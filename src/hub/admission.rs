//! Who may be in a room, remembered while the room is in memory, so that
//! polls and reconnecting streams (a poll every few seconds per viewer) do
//! not read the room, its bans and its admissions from the database every time.
//!
//! The database stays the authority. An entry is what a read found; the writer's
//! publishing step, which runs after a change commits and before it is
//! answered, drops the entries the change makes stale: a ban (`kicked`),
//! a password given (`admitted`), a new owner (`owner_changed`). A read
//! that raced such a change is not remembered: each room counts its
//! invalidations, and a read stores its answer only if the count did not
//! move while it ran. Posts do not rely on this at all: the writer checks
//! them in the transaction that stores them.

use std::collections::HashMap;

use std::sync::atomic::Ordering;

use super::Hub;
use crate::model::{Access, RoomRow};

#[derive(Default)]
pub(super) struct Admissions {
    /// Bumped by every invalidation.
    epoch: u64,
    by_user: HashMap<String, Access>,
}

impl Admissions {
    /// A ban or an admission (one user) or a new owner (everyone) was
    /// committed.
    pub(super) fn forget(&mut self, user_id: Option<&str>) {
        self.epoch += 1;
        match user_id {
            Some(user_id) => {
                self.by_user.remove(user_id);
            }
            None => self.by_user.clear(),
        }
    }
}

/// How many bans the hub had published when an admission check began.
/// Entering with it fails ([`super::HubError::BannedSince`]) when a ban
/// came in since: a check and the entry it allows are two steps, and a ban
/// between them would otherwise find the user not yet subscribed (no
/// `kicked` for them) and then see them entered, a member again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanMark(pub(super) u64);

/// What the hub knows of a user's access to a room.
pub enum Known {
    /// Remembered: the room as it is now, and the access.
    Access(RoomRow, Access),
    /// Not remembered: read it, then hand it to [`Hub::remember_access`]
    /// with this ticket (`None`: the room is not in memory; nothing to
    /// remember it in).
    Unknown(Option<u64>),
}

impl Hub {
    /// Taken before checking admission, handed to `enter`.
    pub fn ban_mark(&self) -> BanMark {
        BanMark(self.shared.bans.load(Ordering::Acquire))
    }

    /// A ban is being published (under the state's lock, so that an entry
    /// made after it sees it).
    pub(super) fn count_ban(&self) {
        self.shared.bans.fetch_add(1, Ordering::Release);
    }

    /// Whether a ban was published since `mark` (under the state's lock).
    pub(super) fn banned_since(&self, mark: BanMark) -> bool {
        self.shared.bans.load(Ordering::Acquire) != mark.0
    }

    pub fn known_access(&self, room_id: &str, user_id: &str) -> Known {
        let state = self.state();
        let Some(room) = state.rooms.get(room_id) else {
            return Known::Unknown(None);
        };
        match room.admissions.by_user.get(user_id) {
            Some(access) => Known::Access(room.room.clone(), *access),
            None => Known::Unknown(Some(room.admissions.epoch)),
        }
    }

    /// Remembers what a read found, unless something changed meanwhile.
    pub fn remember_access(&self, room_id: &str, user_id: &str, ticket: u64, access: Access) {
        let mut state = self.state();
        if let Some(room) = state.rooms.get_mut(room_id)
            && room.admissions.epoch == ticket
        {
            room.admissions.by_user.insert(user_id.to_owned(), access);
        }
    }

    /// A user gave a private room's password (committed).
    pub fn admitted(&self, room_id: &str, user_id: &str) {
        if let Some(room) = self.state().rooms.get_mut(room_id) {
            room.admissions.forget(Some(user_id));
        }
    }
}
