//! Every read the server makes, as a method of [`Db`]: the routes, the
//! feeds and the sessions name what they want, never a statement.

use time::OffsetDateTime;

use super::{Db, StoreResult, events, rooms};
use crate::model::{Access, EventRecord, RoomRow, User};

/// A page of a room's history: its events, oldest first, and whether older
/// ones exist.
pub type HistoryPage = (Vec<EventRecord>, bool);

impl Db {
    /// Every room, newest first.
    pub async fn rooms(&self) -> StoreResult<Vec<RoomRow>> {
        self.read(rooms::list).await
    }

    /// The room and what `user_id` may do in it; `None` when there is no
    /// such room.
    pub async fn room_with_access(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<(RoomRow, Access)>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| rooms::with_access(conn, &room_id, &user_id))
            .await
    }

    /// Up to `limit` events of a room visible to `user_id` with id
    /// > `after`, oldest first: one step of a replay.
    pub async fn events_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| events::after(conn, &room_id, &user_id, after, limit))
            .await
    }

    /// The newest `limit` visible events before `before` (the newest of all
    /// when `None`).
    pub async fn history(
        &self,
        room_id: &str,
        user_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<HistoryPage> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| events::page(conn, &room_id, &user_id, before, limit))
            .await
    }

    /// The newest id handed out, and the newest page of a room read after
    /// it: whatever is committed in between is on the page.
    pub async fn newest_id_and_history(
        &self,
        room_id: &str,
        user_id: &str,
        limit: usize,
    ) -> StoreResult<(i64, HistoryPage)> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| {
            let newest = events::newest_id(conn)?;
            let page = events::page(conn, &room_id, &user_id, None, limit)?;
            Ok((newest, page))
        })
        .await
    }

    /// The user as they last appeared in a room's events (sender or
    /// recipient).
    pub async fn last_seen_user(&self, room_id: &str, user_id: &str) -> StoreResult<Option<User>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| events::last_seen_user(conn, &room_id, &user_id))
            .await
    }

    /// The URL of every stored GIF event's file.
    pub async fn gif_urls(&self) -> StoreResult<Vec<String>> {
        self.read(events::gif_urls).await
    }

    /// A session's data and expiry (Unix seconds), unless it has expired.
    pub async fn session(&self, id: &str) -> StoreResult<Option<(String, i64)>> {
        let id = id.to_owned();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        self.read(move |conn| super::sessions::load(conn, &id, now))
            .await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}
