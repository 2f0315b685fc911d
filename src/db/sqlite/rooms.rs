//! Reads about rooms: the room rows, admissions and bans.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::model::{Access, RoomRow, User};

const COLUMNS: &str =
    "id, title, max_members, password_hash, owner_id, owner_name, created_at, locked";

fn from_row(row: &Row) -> rusqlite::Result<RoomRow> {
    Ok(RoomRow {
        id: row.get(0)?,
        title: row.get(1)?,
        max: row.get(2)?,
        password_hash: row.get(3)?,
        owner: User::new(row.get(4)?, row.get(5)?),
        created_at: row.get(6)?,
        locked: row.get(7)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<RoomRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM rooms WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Every room, newest first.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<RoomRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM rooms ORDER BY created_at DESC, id"
    ))?
    .query_map([], from_row)?
    .collect()
}

/// The room and what `user_id` may do in it.
pub fn with_access(
    conn: &Connection,
    room_id: &str,
    user_id: &str,
    addr: Option<&str>,
) -> rusqlite::Result<Option<(RoomRow, Access)>> {
    let Some(room) = get(conn, room_id)? else {
        return Ok(None);
    };
    let access = access(conn, room_id, user_id)?.unwrap_or(Access::NeedsPassword);
    let kept_out = match addr {
        Some(addr) => conn
            .prepare_cached("SELECT 1 FROM address_bans WHERE room_id = ?1 AND addr = ?2")?
            .exists(params![room_id, addr])?,
        None => false,
    };
    // The owner is never kept out of their own room.
    let kept_out = kept_out && room.owner.id != user_id;
    Ok(Some((room, if kept_out { Access::Banned } else { access })))
}

/// What `user_id` may do in the room, in one statement; `None` when there
/// is no such room.
pub fn access(conn: &Connection, room_id: &str, user_id: &str) -> rusqlite::Result<Option<Access>> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM bans WHERE room_id = ?1 AND user_id = ?2),
                password_hash IS NULL OR owner_id = ?2
                OR EXISTS(SELECT 1 FROM admissions WHERE room_id = ?1 AND user_id = ?2)
         FROM rooms WHERE id = ?1",
    )?
    .query_row(params![room_id, user_id], |row| {
        let (banned, admitted): (bool, bool) = (row.get(0)?, row.get(1)?);
        Ok(if banned {
            Access::Banned
        } else if admitted {
            Access::Admitted
        } else {
            Access::NeedsPassword
        })
    })
    .optional()
}
