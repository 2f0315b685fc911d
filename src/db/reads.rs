//! Every read the server makes, as one interface both backends implement:
//! the routes, the feeds and the sessions name what they want, never a
//! statement. [`Db`] is the cheap handle they hold.

use std::{ops::Deref, sync::Arc, time::Duration};

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{Access, EventRecord, RoomRow, User};

/// A page of a room's history: its events, oldest first, and whether more
/// exist beyond it (older ones, or newer ones for a page forward).
pub type HistoryPage = (Vec<EventRecord>, bool);

/// The reads, on whichever database `--database` names.
#[async_trait]
pub trait Reads: Send + Sync + 'static {
    /// Every room, newest first.
    async fn rooms(&self) -> StoreResult<Vec<RoomRow>>;

    /// The room and what `user_id`, coming from `addr`, may do in it
    /// (banned also when their address is); `None` when there is no such
    /// room.
    async fn room_with_access(
        &self,
        room_id: &str,
        user_id: &str,
        addr: Option<&str>,
    ) -> StoreResult<Option<(RoomRow, Access)>>;

    /// Up to `limit` events of a room visible to `user_id` with id
    /// > `after`, oldest first: one step of a replay.
    async fn events_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>>;

    /// As [`Reads::events_after`], over several rooms at once, in id
    /// order: one step of the replay of a stream of many rooms.
    async fn events_after_in(
        &self,
        room_ids: &[String],
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>>;

    /// The newest `limit` visible messages and notices before `before`
    /// (the newest of all when `None`), as they are now: edited text,
    /// deleted ones blank, reactions folded in; the changes themselves
    /// (`reaction`, `edit`...) are not listed.
    async fn history(
        &self,
        room_id: &str,
        user_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<HistoryPage>;

    /// As [`Reads::history`], forward: the oldest `limit` after `after`,
    /// and whether newer ones exist.
    async fn history_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<HistoryPage>;

    /// Up to `limit` messages of the room visible to `user_id` whose text
    /// as it is now has every one of `words` (letters and digits only) as
    /// a word or the start of one, newest first, as they are now.
    async fn search(
        &self,
        room_id: &str,
        user_id: &str,
        words: &[String],
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>>;

    /// What `user_id` has left unread in each room that has any (visible
    /// messages by others, not deleted, after their read position), and
    /// the newest id handed out when it was counted: every event up to it
    /// is counted or was not unread.
    async fn unread(&self, user_id: &str) -> StoreResult<Unreads>;

    /// The bot that the key hashed as `key_hash` names in the room.
    async fn bot(&self, room_id: &str, key_hash: &str) -> StoreResult<Option<User>>;

    /// The newest id handed out: every lower one is committed or will never
    /// be used.
    async fn newest_id(&self) -> StoreResult<i64>;

    /// The newest id committed, and the newest page of a room read after
    /// it: whatever is committed in between is on the page.
    async fn newest_id_and_history(
        &self,
        room_id: &str,
        user_id: &str,
        limit: usize,
    ) -> StoreResult<(i64, HistoryPage)>;

    /// The user as they last appeared in a room's events (sender or
    /// recipient), for acting on someone who is not present any more.
    async fn last_seen_user(&self, room_id: &str, user_id: &str) -> StoreResult<Option<User>>;

    /// The URL of every stored GIF event's file.
    async fn gif_urls(&self) -> StoreResult<Vec<String>>;

    /// A session's data and expiry (Unix seconds), unless it expired
    /// before `now`.
    async fn session(&self, id: &str, now: i64) -> StoreResult<Option<(String, i64)>>;

    /// Presence through nodes whose lease has run out, by node and room:
    /// theirs to remove (`presence.rs`). Empty on a database with one node.
    async fn stale_presence(&self) -> StoreResult<Vec<StalePresence>>;

    /// Rooms nobody has been in for `ttl`: to be deleted.
    async fn vacant_rooms(&self, ttl: Duration) -> StoreResult<Vec<String>>;

    /// Tells the other nodes sharing the database that `user` is typing in
    /// the room (never stored; nothing to tell on a database of one node).
    async fn announce_typing(&self, _room_id: &str, _user: &User) -> StoreResult<()> {
        Ok(())
    }

    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// A user's unread counts by room, as of an id.
#[derive(Debug, Default)]
pub struct Unreads {
    pub through: i64,
    pub counts: std::collections::HashMap<String, i64>,
}

/// The users a dead node still holds present in a room.
#[derive(Debug)]
pub struct StalePresence {
    pub node: String,
    pub room_id: String,
    pub users: Vec<User>,
}

/// A cheap handle on the reads: `db.rooms().await`.
#[derive(Clone)]
pub struct Db(Arc<dyn Reads>);

impl Db {
    pub fn new(reads: impl Reads) -> Self {
        Self(Arc::new(reads))
    }
}

impl Deref for Db {
    type Target = dyn Reads;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
