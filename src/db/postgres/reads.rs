//! The reads on PostgreSQL, each on a pooled connection with its
//! statements prepared once per connection (deadpool's statement cache).
//! They ask what `sqlite/rooms.rs` and `sqlite/events.rs` ask, in
//! PostgreSQL's words.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;

use crate::{
    db::{
        HistoryPage, Reads, StalePresence, StoreError, StoreResult, Unreads,
        record::{ReactionRow, fold_reactions, mentions_of, quote_of},
        writer::{Changed, Logged},
    },
    model::{Access, EventRecord, GifInfo, Kind, Present, ReadMark, RoomRow, Unread, User},
};

const ROOM: &str = "SELECT id, title, max_members, password_hash, owner_id, owner_name, created_at,
                           locked
                    FROM rooms";

/// What `$2` may do in room `$1`: banned, admitted; no row when there is
/// no such room.
const ACCESS: &str = "SELECT EXISTS (SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2),
                             password_hash IS NULL OR owner_id = $2
                             OR EXISTS (SELECT 1 FROM admissions
                                        WHERE room_id = $1 AND user_id = $2)
                      FROM rooms WHERE id = $1";

/// `SELECT` of events (`e`) with the message each replies to (`q`),
/// followed by `$rest`.
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT e.id, e.room_id, e.kind, e.user_id, e.user_name, e.chat, e.gif, e.to_id,
                    e.to_name, e.created_at, e.gif_width, e.gif_height, e.gif_frames,
                    e.client_id, e.target, e.reply_to, e.mentions, e.edited_at, e.deleted_at,
                    q.user_id, q.user_name, q.chat, q.gif, q.deleted_at
             FROM events e LEFT JOIN events q ON q.id = e.reply_to ",
            $rest
        )
    };
}

/// Events of room `$1` visible to `$2` (everything but other people's
/// whispers and the changes to them: the only rows with a recipient),
/// with id after `$3`, oldest first, at most `$4`.
const AFTER: &str = select_events!(
    "WHERE e.room_id = $1 AND (e.to_id IS NULL OR e.user_id = $2 OR e.to_id = $2)
       AND e.id > $3
     ORDER BY e.id LIMIT $4"
);

/// As [`AFTER`], in any of the rooms `$1` (an array).
const AFTER_IN: &str = select_events!(
    "WHERE e.room_id = ANY($1) AND (e.to_id IS NULL OR e.user_id = $2 OR e.to_id = $2)
       AND e.id > $3
     ORDER BY e.id LIMIT $4"
);

/// The same, before `$3`, newest first, without the changes to messages
/// (history shows messages as they are now).
const BEFORE: &str = select_events!(
    "WHERE e.room_id = $1 AND (e.to_id IS NULL OR e.user_id = $2 OR e.to_id = $2)
       AND e.id < $3 AND e.target IS NULL
     ORDER BY e.id DESC LIMIT $4"
);

/// As [`BEFORE`], after `$3`, oldest first.
const NEWER: &str = select_events!(
    "WHERE e.room_id = $1 AND (e.to_id IS NULL OR e.user_id = $2 OR e.to_id = $2)
       AND e.id > $3 AND e.target IS NULL
     ORDER BY e.id LIMIT $4"
);

/// Every room's events with an id in (`$1`, `$2`], oldest first, at most
/// `$3`: the log other writers committed.
const LOG: &str = select_events!("WHERE e.id > $1 AND e.id <= $2 ORDER BY e.id LIMIT $3");

/// Messages of room `$1` visible to `$2` whose words match the query `$3`
/// (`to_tsquery`), newest first, at most `$4`: the expression and the
/// kinds are the index's (`events_words`), so that it is used.
const SEARCH: &str = select_events!(
    "WHERE e.room_id = $1 AND (e.to_id IS NULL OR e.user_id = $2 OR e.to_id = $2)
       AND e.kind IN ('chat', 'whisper') AND e.deleted_at IS NULL
       AND to_tsvector('simple', coalesce(e.chat, '')) @@ to_tsquery('simple', $3)
     ORDER BY e.id DESC LIMIT $4"
);

/// The reactions on the messages `$1` (an array), in the order given.
const REACTIONS: &str = "SELECT event_id, reaction, user_id, user_name FROM reactions
                         WHERE event_id = ANY($1) ORDER BY event_id, added_by";

/// Rows of the log read per query.
const LOG_PAGE: i64 = 1000;

/// The notes of changes with an id in (`$1`, `$2`], with the room's row
/// (when it still exists) for those that bring a room into a node's memory.
const CHANGES: &str = "SELECT c.id, c.kind, c.room_id, c.user_id, c.user_name,
                              r.id, r.title, r.max_members, r.password_hash, r.owner_id,
                              r.owner_name, r.created_at, r.locked, c.node_id, c.mark,
                              c.unread
                       FROM changes c
                       LEFT JOIN rooms r ON c.kind IN ('room_created', 'arrived', 'departed',
                                                       'settings')
                                        AND r.id = c.room_id
                       WHERE c.id > $1 AND c.id <= $2 ORDER BY c.id";

/// Every presence row with its room, longest present first.
const PRESENT: &str = "SELECT r.id, r.title, r.max_members, r.password_hash, r.owner_id,
                              r.owner_name, r.created_at, r.locked, p.user_id, p.user_name,
                              p.node_id
                       FROM presence p JOIN rooms r ON r.id = p.room_id
                       ORDER BY p.since, p.user_id";

/// Who is present through which node, with their rooms.
pub(super) async fn present(client: &impl GenericClient) -> StoreResult<Vec<Present>> {
    query(client, PRESENT, &[])
        .await?
        .iter()
        .map(|row| {
            Ok(Present {
                room: room_at(row, 0)?,
                user: User::new(row.try_get(8)?, row.try_get(9)?),
                node: row.try_get(10)?,
            })
        })
        .collect()
}

/// Everything committed with an id after `after` and up to `through`:
/// events and notes of changes, in id order.
pub(super) async fn log(
    client: &impl GenericClient,
    after: i64,
    through: i64,
) -> StoreResult<Vec<Logged>> {
    let mut events = Vec::new();
    let mut from = after;
    loop {
        let rows = query(client, LOG, &[&from, &through, &LOG_PAGE]).await?;
        for row in &rows {
            events.push(event(row)?);
        }
        match events.last() {
            Some(last) if rows.len() as i64 == LOG_PAGE => from = last.id,
            _ => break,
        }
    }
    let mut changes = Vec::new();
    for row in query(client, CHANGES, &[&after, &through]).await? {
        if let Some(change) = change(&row)? {
            changes.push((row.try_get::<_, i64>(0)?, change));
        }
    }
    // Both in id order: merged, they are the log.
    let mut changes = changes.into_iter().peekable();
    let mut log = Vec::with_capacity(events.len() + changes.len());
    for record in events {
        while let Some((_, change)) = changes.next_if(|(id, _)| *id < record.id) {
            log.push(Logged::Change(change));
        }
        log.push(Logged::Event(record));
    }
    log.extend(changes.map(|(_, change)| Logged::Change(change)));
    Ok(log)
}

/// A note of a change; `None` for a room created and deleted since, or a
/// kind this version does not know.
fn change(row: &Row) -> StoreResult<Option<Changed>> {
    let kind: String = row.try_get(1)?;
    let room_id: Option<String> = row.try_get(2)?;
    let user_id: Option<String> = row.try_get(3)?;
    let user_name: Option<String> = row.try_get(4)?;
    Ok(match (kind.as_str(), room_id, user_id) {
        ("room_created", _, _) => match row.try_get::<_, Option<String>>(5)? {
            Some(_) => Some(Changed::RoomCreated(room_at(row, 5)?)),
            None => None,
        },
        ("room_deleted", Some(room_id), _) => Some(Changed::RoomDeleted { room_id }),
        ("settings", _, _) => match row.try_get::<_, Option<String>>(5)? {
            Some(_) => Some(Changed::RoomChanged(room_at(row, 5)?)),
            None => None,
        },
        ("owner", Some(room_id), Some(user_id)) => Some(Changed::Owner {
            room_id,
            owner: User::new(user_id, user_name),
        }),
        ("banned", Some(room_id), Some(user_id)) => Some(Changed::Banned { room_id, user_id }),
        ("admitted", Some(room_id), Some(user_id)) => Some(Changed::Admitted { room_id, user_id }),
        ("renamed", _, Some(user_id)) => Some(Changed::Renamed(User::new(user_id, user_name))),
        ("read", Some(room_id), Some(user_id)) => Some(Changed::Read(Unread {
            mark: ReadMark {
                user_id,
                room_id,
                last_read: row.try_get::<_, Option<i64>>(14)?.unwrap_or(0),
            },
            unread: row.try_get::<_, Option<i64>>(15)?.unwrap_or(0),
        })),
        (kind @ ("arrived" | "departed"), Some(_), Some(user_id)) => {
            match (row.try_get::<_, Option<String>>(5)?, row.try_get(13)?) {
                (Some(_), Some(node)) => Some(Changed::Presence {
                    room: room_at(row, 5)?,
                    node,
                    user: User::new(user_id, user_name),
                    arrived: kind == "arrived",
                }),
                // The room is gone since: nothing to be present in.
                _ => None,
            }
        }
        _ => {
            tracing::warn!(kind, "a change of a kind this version does not know");
            None
        }
    })
}

/// The event with id `id`, if there is one.
pub(super) async fn event_by_id(
    client: &impl GenericClient,
    id: i64,
) -> StoreResult<Option<EventRecord>> {
    query(client, LOG, &[&(id - 1), &id, &1_i64])
        .await?
        .first()
        .map(event)
        .transpose()
}

/// The reads' pool on a PostgreSQL database.
#[derive(Clone)]
pub struct PgReads {
    pub(super) pool: Pool,
}

impl PgReads {
    /// Runs one cached statement on a pooled connection.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        let client = self.pool.get().await?;
        query(&client, sql, params).await
    }
}

async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// What `user_id` may do in the room; `None` when there is no such room.
pub(super) async fn access_of(
    client: &impl GenericClient,
    room_id: &str,
    user_id: &str,
) -> StoreResult<Option<Access>> {
    let rows = query(client, ACCESS, &[&room_id, &user_id]).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let (banned, admitted): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
    Ok(Some(if banned {
        Access::Banned
    } else if admitted {
        Access::Admitted
    } else {
        Access::NeedsPassword
    }))
}

fn room(row: &Row) -> StoreResult<RoomRow> {
    room_at(row, 0)
}

/// A room row whose columns start at `at`.
pub(super) fn room_at(row: &Row, at: usize) -> StoreResult<RoomRow> {
    let max: i64 = row.try_get(at + 2)?;
    Ok(RoomRow {
        id: row.try_get(at)?,
        title: row.try_get(at + 1)?,
        max: u32::try_from(max).map_err(StoreError::database)?,
        password_hash: row.try_get(at + 3)?,
        owner: User::new(row.try_get(at + 4)?, row.try_get(at + 5)?),
        created_at: row.try_get(at + 6)?,
        locked: row.try_get::<_, i64>(at + 7)? != 0,
    })
}

/// Folds the reactions the messages among `events` have now onto them.
async fn with_reactions(
    client: &impl GenericClient,
    events: &mut [EventRecord],
) -> StoreResult<()> {
    let ids: Vec<i64> = events
        .iter()
        .filter(|e| e.kind.is_message())
        .map(|e| e.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = query(client, REACTIONS, &[&ids])
        .await?
        .iter()
        .map(|row| {
            Ok(ReactionRow {
                event_id: row.try_get(0)?,
                reaction: row.try_get(1)?,
                user: User::new(row.try_get(2)?, row.try_get(3)?),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    fold_reactions(events, rows);
    Ok(())
}

fn event(row: &Row) -> StoreResult<EventRecord> {
    let kind: String = row.try_get(2)?;
    let kind = Kind::from_stored(&kind)
        .ok_or_else(|| StoreError::Database(format!("unknown event kind {kind}").into()))?;
    let user_id: Option<String> = row.try_get(3)?;
    let to_id: Option<String> = row.try_get(7)?;
    let dimension = |index| -> StoreResult<Option<u32>> {
        let value: Option<i64> = row.try_get(index)?;
        value
            .map(u32::try_from)
            .transpose()
            .map_err(StoreError::database)
    };
    let gif_info = match (dimension(10)?, dimension(11)?, dimension(12)?) {
        (Some(width), Some(height), Some(frames)) => Some(GifInfo {
            width,
            height,
            frames,
        }),
        _ => None,
    };
    let reply_to: Option<i64> = row.try_get(15)?;
    let edited_at: Option<String> = row.try_get(17)?;
    let deleted_at: Option<String> = row.try_get(18)?;
    let quoted_deleted: Option<String> = row.try_get(23)?;
    Ok(EventRecord {
        id: row.try_get(0)?,
        room: row.try_get(1)?,
        kind,
        user: user_id.map(|id| User::new(id, row.try_get(4).ok().flatten())),
        chat: row.try_get(5)?,
        gif: row.try_get(6)?,
        gif_info,
        to: to_id.map(|id| User::new(id, row.try_get(8).ok().flatten())),
        created_at: row.try_get(9)?,
        client_id: row.try_get(13)?,
        target: row.try_get(14)?,
        reply_to,
        reply: quote_of(
            reply_to,
            (row.try_get(19)?, row.try_get(20)?),
            (row.try_get(21)?, row.try_get(22)?),
            quoted_deleted.is_some(),
        ),
        mentions: mentions_of(row.try_get(16)?),
        edited: edited_at.is_some(),
        deleted: deleted_at.is_some(),
        reactions: Vec::new(),
    })
}

impl PgReads {
    /// A page of history by `sql` (`BEFORE` or `NEWER`) from `from`, in
    /// history's order, as it is now, and whether more exist beyond it.
    async fn page(
        &self,
        sql: &str,
        room_id: &str,
        user_id: &str,
        from: i64,
        limit: usize,
    ) -> StoreResult<HistoryPage> {
        let client = self.pool.get().await?;
        let rows = query(
            &client,
            sql,
            &[&room_id, &user_id, &from, &(limit as i64 + 1)],
        )
        .await?;
        let mut events = rows.iter().map(event).collect::<StoreResult<Vec<_>>>()?;
        let has_more = events.len() > limit;
        events.truncate(limit);
        if sql == BEFORE {
            events.reverse();
        }
        with_reactions(&client, &mut events).await?;
        Ok((events, has_more))
    }
}

#[async_trait]
impl Reads for PgReads {
    async fn search(
        &self,
        room_id: &str,
        user_id: &str,
        words: &[String],
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        // Each word a prefix (`cat:*` finds "cats"), all of them: words
        // hold letters and digits only, nothing to escape.
        let tsquery: Vec<String> = words.iter().map(|w| format!("{w}:*")).collect();
        let client = self.pool.get().await?;
        let rows = query(
            &client,
            SEARCH,
            &[&room_id, &user_id, &tsquery.join(" & "), &(limit as i64)],
        )
        .await?;
        let mut found = rows.iter().map(event).collect::<StoreResult<Vec<_>>>()?;
        with_reactions(&client, &mut found).await?;
        Ok(found)
    }

    /// One statement: the counts and the newest id from one snapshot.
    async fn unread(&self, user_id: &str) -> StoreResult<Unreads> {
        let rows = self
            .query(
                "SELECT (SELECT last FROM event_ids), u.room_id, u.unread FROM
                 (SELECT 1) AS one LEFT JOIN (
                     SELECT e.room_id, count(*) AS unread FROM events e
                     LEFT JOIN reads r ON r.user_id = $1 AND r.room_id = e.room_id
                     WHERE e.id > COALESCE(r.last_read, 0)
                       AND e.kind IN ('chat', 'gif', 'whisper') AND e.deleted_at IS NULL
                       AND (e.to_id IS NULL OR e.user_id = $1 OR e.to_id = $1)
                       AND e.user_id <> $1
                     GROUP BY e.room_id
                 ) AS u ON TRUE",
                &[&user_id],
            )
            .await?;
        let mut unreads = Unreads::default();
        for row in &rows {
            unreads.through = row.try_get(0)?;
            if let Some(room_id) = row.try_get::<_, Option<String>>(1)? {
                unreads.counts.insert(room_id, row.try_get(2)?);
            }
        }
        Ok(unreads)
    }

    async fn bot(&self, room_id: &str, key_hash: &str) -> StoreResult<Option<User>> {
        let rows = self
            .query(
                "SELECT user_id, name FROM bots WHERE key_hash = $1 AND room_id = $2",
                &[&key_hash, &room_id],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(Some(User::new(row.try_get(0)?, Some(row.try_get(1)?)))),
            None => Ok(None),
        }
    }

    async fn newest_id(&self) -> StoreResult<i64> {
        let rows = self.query("SELECT last FROM event_ids", &[]).await?;
        match rows.first() {
            Some(row) => Ok(row.try_get(0)?),
            None => Err(StoreError::Database("event_ids has no row".into())),
        }
    }

    async fn rooms(&self) -> StoreResult<Vec<RoomRow>> {
        let rows = self
            .query(&format!("{ROOM} ORDER BY created_at DESC, id"), &[])
            .await?;
        rows.iter().map(room).collect()
    }

    async fn room_with_access(
        &self,
        room_id: &str,
        user_id: &str,
        addr: Option<&str>,
    ) -> StoreResult<Option<(RoomRow, Access)>> {
        let client = self.pool.get().await?;
        let rows = query(&client, &format!("{ROOM} WHERE id = $1"), &[&room_id]).await?;
        let Some(found) = rows.first() else {
            return Ok(None);
        };
        let access = access_of(&client, room_id, user_id).await?;
        let kept_out = match addr {
            Some(addr) => !query(
                &client,
                "SELECT 1 FROM address_bans WHERE room_id = $1 AND addr = $2",
                &[&room_id, &addr],
            )
            .await?
            .is_empty(),
            None => false,
        };
        let room = room(found)?;
        // The owner is never kept out of their own room.
        let access = match kept_out && room.owner.id != user_id {
            true => Access::Banned,
            false => access.unwrap_or(Access::NeedsPassword),
        };
        Ok(Some((room, access)))
    }

    async fn events_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        let rows = self
            .query(AFTER, &[&room_id, &user_id, &after, &(limit as i64)])
            .await?;
        rows.iter().map(event).collect()
    }

    async fn events_after_in(
        &self,
        room_ids: &[String],
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<EventRecord>> {
        let rows = self
            .query(AFTER_IN, &[&room_ids, &user_id, &after, &(limit as i64)])
            .await?;
        rows.iter().map(event).collect()
    }

    async fn history(
        &self,
        room_id: &str,
        user_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<HistoryPage> {
        let before = before.unwrap_or(i64::MAX);
        self.page(BEFORE, room_id, user_id, before, limit).await
    }

    async fn history_after(
        &self,
        room_id: &str,
        user_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<HistoryPage> {
        self.page(NEWER, room_id, user_id, after, limit).await
    }

    async fn newest_id_and_history(
        &self,
        room_id: &str,
        user_id: &str,
        limit: usize,
    ) -> StoreResult<(i64, HistoryPage)> {
        // In this order: the page is read after the id, so it holds
        // everything up to that id (and maybe more, which the feed drops).
        let newest = self.newest_id().await?;
        let page = self.history(room_id, user_id, None, limit).await?;
        Ok((newest, page))
    }

    async fn last_seen_user(&self, room_id: &str, user_id: &str) -> StoreResult<Option<User>> {
        let rows = self
            .query(
                "SELECT CASE WHEN user_id = $2 THEN user_name ELSE to_name END FROM events
                 WHERE room_id = $1 AND (user_id = $2 OR to_id = $2)
                 ORDER BY id DESC LIMIT 1",
                &[&room_id, &user_id],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(Some(User::new(user_id.to_owned(), row.try_get(0)?))),
            None => Ok(None),
        }
    }

    async fn gif_urls(&self) -> StoreResult<Vec<String>> {
        let rows = self
            .query("SELECT gif FROM events WHERE gif IS NOT NULL", &[])
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect::<StoreResult<_>>()
    }

    async fn session(&self, id: &str, now: i64) -> StoreResult<Option<(String, i64)>> {
        let rows = self
            .query(
                "SELECT data, expiry FROM sessions WHERE id = $1 AND expiry >= $2",
                &[&id, &now],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
            None => Ok(None),
        }
    }

    async fn stale_presence(&self) -> StoreResult<Vec<StalePresence>> {
        let rows = self
            .query(
                "SELECT p.node_id, p.room_id, p.user_id, p.user_name FROM presence p
                 WHERE NOT EXISTS (SELECT 1 FROM nodes n
                                   WHERE n.id = p.node_id AND n.lease_until > now())
                 ORDER BY p.node_id, p.room_id, p.since",
                &[],
            )
            .await?;
        let mut stale: Vec<StalePresence> = Vec::new();
        for row in &rows {
            let (node, room_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let user = User::new(row.try_get(2)?, row.try_get(3)?);
            match stale.last_mut() {
                Some(last) if last.node == node && last.room_id == room_id => last.users.push(user),
                _ => stale.push(StalePresence {
                    node,
                    room_id,
                    users: vec![user],
                }),
            }
        }
        Ok(stale)
    }

    async fn vacant_rooms(&self, ttl: std::time::Duration) -> StoreResult<Vec<String>> {
        let rows = self
            .query(
                "SELECT id FROM rooms WHERE vacant_since < now() - make_interval(secs => $1)",
                &[&ttl.as_secs_f64()],
            )
            .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    async fn announce_typing(&self, room_id: &str, user: &User) -> StoreResult<()> {
        let client = self.pool.get().await?;
        Ok(super::listen::announce_typing(&client, room_id, user).await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.query("SELECT 1", &[]).await.map(|_| ())
    }
}
