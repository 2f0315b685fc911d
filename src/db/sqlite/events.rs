//! Reads of stored events: replay after a cursor, history pages, the newest id.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{
    db::record::{ReactionRow, fold_reactions, mentions_of, quote_of},
    model::User,
    model::{EventRecord, GifInfo, Kind, ReadMark},
};

/// An event's columns, and those of the message it replies to (`q`).
const COLUMNS: &str = "e.id, e.room_id, e.kind, e.user_id, e.user_name, e.chat, e.gif, e.to_id, \
                       e.to_name, e.created_at, e.gif_width, e.gif_height, e.gif_frames, \
                       e.client_id, e.target, e.reply_to, e.mentions, e.edited_at, e.deleted_at, \
                       q.user_id, q.user_name, q.chat, q.gif, q.deleted_at";

/// Where [`COLUMNS`] come from.
const FROM: &str = "events e LEFT JOIN events q ON q.id = e.reply_to";

/// Rows visible to `?2`: everything but other people's whispers and the
/// changes to them (the only rows with a recipient).
const VISIBLE: &str = "(e.to_id IS NULL OR e.user_id = ?2 OR e.to_id = ?2)";

/// `LIMIT ?4`, written so that SQLite's planner does not read the bound
/// value: when it does (a bare `LIMIT ?4`), binding the parameter again
/// marks the statement stale, and every run re-parses and re-plans the
/// query, cached statement or not: most of a long-poll's CPU time once.
const LIMIT_PARAM: &str = "LIMIT ?4 + 0";

pub fn from_row(row: &Row) -> rusqlite::Result<EventRecord> {
    let kind: String = row.get(2)?;
    let user_id: Option<String> = row.get(3)?;
    let to_id: Option<String> = row.get(7)?;
    let gif_info = match (row.get(10)?, row.get(11)?, row.get(12)?) {
        (Some(width), Some(height), Some(frames)) => Some(GifInfo {
            width,
            height,
            frames,
        }),
        _ => None,
    };
    let reply_to: Option<i64> = row.get(15)?;
    let edited_at: Option<String> = row.get(17)?;
    let deleted_at: Option<String> = row.get(18)?;
    let quoted_deleted: Option<String> = row.get(23)?;
    Ok(EventRecord {
        id: row.get(0)?,
        room: row.get(1)?,
        kind: Kind::from_stored(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown event kind {kind}").into(),
            )
        })?,
        user: user_id.map(|id| User::new(id, row.get(4).ok().flatten())),
        chat: row.get(5)?,
        gif: row.get(6)?,
        gif_info,
        to: to_id.map(|id| User::new(id, row.get(8).ok().flatten())),
        created_at: row.get(9)?,
        client_id: row.get(13)?,
        target: row.get(14)?,
        reply_to,
        reply: quote_of(
            reply_to,
            (row.get(19)?, row.get(20)?),
            (row.get(21)?, row.get(22)?),
            quoted_deleted.is_some(),
        ),
        mentions: mentions_of(row.get(16)?),
        edited: edited_at.is_some(),
        deleted: deleted_at.is_some(),
        reactions: Vec::new(),
    })
}

fn after_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE e.room_id = ?1 AND {VISIBLE} AND e.id > ?3
         ORDER BY e.id {LIMIT_PARAM}"
    )
}

/// As [`after_sql`], in every room of the JSON array `?1`.
fn after_in_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE e.room_id IN (SELECT value FROM json_each(?1)) AND {VISIBLE} AND e.id > ?3
         ORDER BY e.id {LIMIT_PARAM}"
    )
}

/// History shows messages as they are now: the changes to them (rows with
/// a `target`) are folded in, not listed.
fn page_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE e.room_id = ?1 AND {VISIBLE} AND e.id < ?3 AND e.target IS NULL
         ORDER BY e.id DESC {LIMIT_PARAM}"
    )
}

/// Up to `limit` events of a room visible to `user_id` with id > `after`,
/// oldest first: one step of a replay.
pub fn after(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EventRecord>> {
    conn.prepare_cached(&after_sql())?
        .query_map(params![room_id, user_id, after, limit as i64], from_row)?
        .collect()
}

/// Up to `limit` events of any of `room_ids` visible to `user_id` with id
/// > `after`, in id order: one step of a many-room replay.
pub fn after_in(
    conn: &Connection,
    room_ids: &[String],
    user_id: &str,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EventRecord>> {
    let rooms = serde_json::to_string(room_ids)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    conn.prepare_cached(&after_in_sql())?
        .query_map(params![rooms, user_id, after, limit as i64], from_row)?
        .collect()
}

/// The newest `limit` visible events before `before` (all when `None`),
/// returned oldest first, as they are now (with their reactions), and
/// whether older ones exist.
pub fn page(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    before: Option<i64>,
    limit: usize,
) -> rusqlite::Result<(Vec<EventRecord>, bool)> {
    let mut rows: Vec<EventRecord> = conn
        .prepare_cached(&page_sql())?
        .query_map(
            params![
                room_id,
                user_id,
                before.unwrap_or(i64::MAX),
                limit as i64 + 1
            ],
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    rows.reverse();
    with_reactions(conn, &mut rows)?;
    Ok((rows, has_more))
}

/// As [`page_sql`], the oldest after `?3`, oldest first.
fn newer_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE e.room_id = ?1 AND {VISIBLE} AND e.id > ?3 AND e.target IS NULL
         ORDER BY e.id {LIMIT_PARAM}"
    )
}

/// The oldest `limit` visible events after `after`, oldest first, as they
/// are now, and whether newer ones exist.
pub fn page_after(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    after: i64,
    limit: usize,
) -> rusqlite::Result<(Vec<EventRecord>, bool)> {
    let mut rows: Vec<EventRecord> = conn
        .prepare_cached(&newer_sql())?
        .query_map(params![room_id, user_id, after, limit as i64 + 1], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    with_reactions(conn, &mut rows)?;
    Ok((rows, has_more))
}

/// Folds the reactions the messages among `events` have now onto them.
pub fn with_reactions(conn: &Connection, events: &mut [EventRecord]) -> rusqlite::Result<()> {
    let ids: Vec<i64> = events
        .iter()
        .filter(|e| e.kind.is_message())
        .map(|e| e.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(&ids)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    let rows = conn
        .prepare_cached(
            "SELECT event_id, reaction, user_id, user_name FROM reactions
             WHERE event_id IN (SELECT value FROM json_each(?1))
             ORDER BY event_id, added_by",
        )?
        .query_map([ids], |row| {
            Ok(ReactionRow {
                event_id: row.get(0)?,
                reaction: row.get(1)?,
                user: User::new(row.get(2)?, row.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    fold_reactions(events, rows);
    Ok(())
}

/// Up to `limit` visible messages of the room whose current text has
/// every one of `words` (as a word or the start of one), newest first.
pub fn search(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    words: &[String],
    limit: usize,
) -> rusqlite::Result<Vec<EventRecord>> {
    // Each word a quoted prefix ("cat"* finds "cats"); all of them must be
    // there. Words hold letters and digits only: nothing to escape.
    let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    let mut found: Vec<EventRecord> = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events_fts f
             JOIN events e ON e.id = f.rowid LEFT JOIN events q ON q.id = e.reply_to
             WHERE events_fts MATCH ?3 AND e.room_id = ?1 AND {VISIBLE}
               AND e.deleted_at IS NULL
             ORDER BY e.id DESC {LIMIT_PARAM}"
        ))?
        .query_map(
            params![room_id, user_id, query.join(" "), limit as i64],
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    with_reactions(conn, &mut found)?;
    Ok(found)
}

/// What a user has left unread: visible messages by others, not deleted.
const UNREAD: &str = "e.kind IN ('chat', 'gif', 'whisper') AND e.deleted_at IS NULL
                      AND (e.to_id IS NULL OR e.user_id = ?1 OR e.to_id = ?1)
                      AND e.user_id <> ?1";

/// What `mark`'s user has left unread in its room after it.
pub fn unread_after(conn: &Connection, mark: &ReadMark) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "SELECT count(*) FROM events e WHERE e.room_id = ?2 AND e.id > ?3 AND {UNREAD}"
    ))?
    .query_row(params![mark.user_id, mark.room_id, mark.last_read], |row| {
        row.get(0)
    })
}

/// What `user_id` has left unread in each room that has any, and the
/// newest id handed out when it was counted (one read transaction).
pub fn unread(conn: &Connection, user_id: &str) -> rusqlite::Result<(i64, Vec<(String, i64)>)> {
    let tx = conn.unchecked_transaction()?;
    let counts = tx
        .prepare_cached(&format!(
            "SELECT e.room_id, count(*) FROM events e
             LEFT JOIN reads r ON r.user_id = ?1 AND r.room_id = e.room_id
             WHERE e.id > COALESCE(r.last_read, 0) AND {UNREAD}
             GROUP BY e.room_id"
        ))?
        .query_map([user_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let through = newest_id(&tx)?;
    tx.commit()?;
    Ok((through, counts))
}

/// The event with id `id`, as it is now (without its reactions).
pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<EventRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE e.id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The user as they last appeared in a room's events (sender or
/// recipient), for acting on someone who is not present any more.
pub fn last_seen_user(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(
        "SELECT CASE WHEN user_id = ?2 THEN user_name ELSE to_name END FROM events
         WHERE room_id = ?1 AND (user_id = ?2 OR to_id = ?2)
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![room_id, user_id], |row| {
        row.get::<_, Option<String>>(0)
    })
    .optional()
    .map(|found| found.map(|name| User::new(user_id.to_owned(), name)))
}

/// The URL of every stored GIF event's file.
pub fn gif_urls(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT gif FROM events WHERE gif IS NOT NULL")?
        .query_map([], |row| row.get(0))?
        .collect()
}

/// The event `user_id` stored in the room with `client_id`, if any.
pub fn by_client_id(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    client_id: &str,
) -> rusqlite::Result<Option<EventRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE e.room_id = ?1 AND e.user_id = ?2 AND e.client_id = ?3"
    ))?
    .query_row(params![room_id, user_id, client_id], from_row)
    .optional()
}

/// The newest id ever handed out (0 for a fresh database). Ids of deleted
/// events count: the sequence never goes back.
pub fn newest_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
    )?
    .query_row([], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    #[test]
    fn replay_and_history_reuse_their_plans() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::sqlite::schema::migrate(&mut conn).unwrap();
        for n in 0..5 {
            after(&conn, "room", "user", n, 256).unwrap();
            page(&conn, "room", "user", Some(n), 50 + n as usize).unwrap();
        }
        for sql in [after_sql(), page_sql()] {
            let statement = conn.prepare_cached(&sql).unwrap();
            assert_eq!(
                statement.get_status(StatementStatus::RePrepare),
                0,
                "re-planned on every run: {sql}"
            );
        }
    }
}
