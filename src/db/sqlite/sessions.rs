//! Reads of stored sessions (the writer stores them, see `changes.rs`).

use rusqlite::{Connection, OptionalExtension, params};

/// A session's data and expiry (Unix seconds), unless it expired before
/// `now`.
pub fn load(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<(String, i64)>> {
    conn.prepare_cached("SELECT data, expiry FROM sessions WHERE id = ?1 AND expiry >= ?2")?
        .query_row(params![id, now], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}
