//! The reads on SQLite: each runs on a pooled connection on the blocking
//! thread pool, never on the async executor.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Semaphore;

use super::{Pool, events, rooms, sessions};
use crate::{
    db::{HistoryPage, Reads, StalePresence, StoreResult, Unreads, changes::ago},
    model::{Access, EventRecord, RoomRow, User},
};

/// The read pool of a SQLite database.
#[derive(Clone)]
pub struct SqliteReads {
    pool: Pool,
    /// One per pooled connection: a read waits for one here, as a
    /// future, before it takes a blocking thread. Without it a burst of
    /// reads (a thousand clients connecting) started a blocking thread
    /// each, to wait on the pool there: up to 55 threads where 20 do,
    /// each keeping its stack and the allocator's cache for that thread
    /// (about 1 KiB per waiting poll at 1,000 pollers).
    gate: Arc<Semaphore>,
}

impl SqliteReads {
    pub(super) fn new(pool: Pool, connections: usize) -> SqliteReads {
        SqliteReads {
            pool,
            gate: Arc::new(Semaphore::new(connections)),
        }
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        // Never closed: only dropped with the pool.
        let turn = self.gate.clone().acquire_owned().await;
        tokio::task::spawn_blocking(move || -> StoreResult<T> {
            let _turn = turn;
            let conn = pool.get()?;
            Ok(work(&conn)?)
        })
        .await?
    }
}

#[async_trait]
impl Reads for SqliteReads {
    async fn rooms(&self) -> StoreResult<Vec<RoomRow>> {
        self.read(rooms::list).await
    }

    async fn room_with_access(
        &self,
        room_id: &str,
        user_id: &str,
        addr: Option<&str>,
    ) -> StoreResult<Option<(RoomRow, Access)>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        let addr = addr.map(str::to_owned);
        self.read(move |conn| rooms::with_access(conn, &room_id, &user_id, addr.as_deref()))
            .await
    }

    async fn events_after(
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

    async fn events_after_in(
        &self,
        room_ids: &[String],
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        let (room_ids, user_id) = (room_ids.to_vec(), user_id.to_owned());
        self.read(move |conn| events::after_in(conn, &room_ids, &user_id, after, limit))
            .await
    }

    async fn history(
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

    async fn history_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<HistoryPage> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| events::page_after(conn, &room_id, &user_id, after, limit))
            .await
    }

    async fn search(
        &self,
        room_id: &str,
        user_id: &str,
        words: &[String],
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        let (room_id, user_id, words) = (room_id.to_owned(), user_id.to_owned(), words.to_vec());
        self.read(move |conn| events::search(conn, &room_id, &user_id, &words, limit))
            .await
    }

    async fn unread(&self, user_id: &str) -> StoreResult<Unreads> {
        let user_id = user_id.to_owned();
        let (through, counts) = self
            .read(move |conn| events::unread(conn, &user_id))
            .await?;
        Ok(Unreads {
            through,
            counts: counts.into_iter().collect(),
        })
    }

    async fn bot(&self, room_id: &str, key_hash: &str) -> StoreResult<Option<User>> {
        let (room_id, key_hash) = (room_id.to_owned(), key_hash.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT user_id, name FROM bots WHERE key_hash = ?1 AND room_id = ?2",
            )?
            .query_row([key_hash, room_id], |row| {
                Ok(User::new(row.get(0)?, Some(row.get(1)?)))
            })
            .optional()
        })
        .await
    }

    async fn newest_id(&self) -> StoreResult<i64> {
        self.read(events::newest_id).await
    }

    async fn newest_id_and_history(
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

    async fn last_seen_user(&self, room_id: &str, user_id: &str) -> StoreResult<Option<User>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.read(move |conn| events::last_seen_user(conn, &room_id, &user_id))
            .await
    }

    async fn gif_urls(&self) -> StoreResult<Vec<String>> {
        self.read(events::gif_urls).await
    }

    async fn session(&self, id: &str, now: i64) -> StoreResult<Option<(String, i64)>> {
        let id = id.to_owned();
        self.read(move |conn| sessions::load(conn, &id, now)).await
    }

    /// One node, which is this process: none of its presence is stale.
    async fn stale_presence(&self) -> StoreResult<Vec<StalePresence>> {
        Ok(Vec::new())
    }

    async fn vacant_rooms(&self, ttl: std::time::Duration) -> StoreResult<Vec<String>> {
        let before = ago(ttl);
        self.read(move |conn| {
            conn.prepare_cached("SELECT id FROM rooms WHERE vacant_since < ?1")?
                .query_map([before], |row| row.get(0))?
                .collect()
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}
