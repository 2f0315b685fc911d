//! Reads about rooms: the room rows, admissions and bans.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{AppError, AppResult},
    identity::User,
};

/// A room as stored. The password hash stays on the server: [`RoomRow`] is
/// not `Serialize`; what clients see is [`Room`].
#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: String,
    pub title: String,
    pub max: u32,
    pub password_hash: Option<String>,
    pub owner: User,
    pub created_at: String,
}

impl RoomRow {
    pub fn is_private(&self) -> bool {
        self.password_hash.is_some()
    }

    /// The public view of the room, with the number of members present now.
    pub fn public(&self, members: usize) -> Room {
        Room {
            id: self.id.clone(),
            title: self.title.clone(),
            max: self.max,
            private: self.is_private(),
            owner: self.owner.clone(),
            members,
            created_at: self.created_at.clone(),
        }
    }
}

/// Room JSON, as API.md defines it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Room {
    /// Opaque (made by the server: 12 letters and digits).
    #[schema(pattern = "^[A-Za-z0-9]{12}$")]
    pub id: String,
    /// Trimmed, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// How many users may be present at once.
    #[schema(minimum = 2, maximum = 10_000)]
    pub max: u32,
    /// Whether it takes a password.
    pub private: bool,
    pub owner: User,
    /// Users present now.
    pub members: usize,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// What a user may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Public room, or admitted to a private one (the owner always is).
    Admitted,
    /// Private room, password not given yet.
    NeedsPassword,
    /// Kicked out for the life of the room.
    Banned,
}

impl Access {
    /// Ok when admitted: 403 `kicked` for a banned user, 403 `forbidden`
    /// before a private room's password was given.
    pub fn require(self) -> AppResult<()> {
        match self {
            Access::Admitted => Ok(()),
            Access::Banned => Err(AppError::Kicked),
            Access::NeedsPassword => Err(AppError::forbidden(
                "this room is private: enter its password first",
            )),
        }
    }
}

const COLUMNS: &str = "id, title, max_members, password_hash, owner_id, owner_name, created_at";

fn from_row(row: &Row) -> rusqlite::Result<RoomRow> {
    Ok(RoomRow {
        id: row.get(0)?,
        title: row.get(1)?,
        max: row.get(2)?,
        password_hash: row.get(3)?,
        owner: User::new(row.get(4)?, row.get(5)?),
        created_at: row.get(6)?,
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
) -> rusqlite::Result<Option<(RoomRow, Access)>> {
    let Some(room) = get(conn, room_id)? else {
        return Ok(None);
    };
    let access = access(conn, room_id, user_id)?.unwrap_or(Access::NeedsPassword);
    Ok(Some((room, access)))
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
