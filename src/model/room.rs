//! A room as stored and as clients see it, and what a user may do in it.

use serde::Serialize;
use utoipa::ToSchema;

use super::User;

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
    /// Nobody new may come in (the owner and those present may).
    pub locked: bool,
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
            locked: self.locked,
            owner: self.owner.clone(),
            members,
            created_at: self.created_at.clone(),
            unread: None,
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
    /// Whether nobody new may come in (`POST /rooms/{id}/settings`).
    pub locked: bool,
    pub owner: User,
    /// Users present now.
    pub members: usize,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// In the lobby's list, for a caller with a session: the visible
    /// messages by others they have not read (`POST /rooms/{id}/read`,
    /// and whatever their streams and polls delivered). Absent from
    /// events shared by everyone (`room-created`, `room-updated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub unread: Option<i64>,
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
    /// Whether the user may read and post.
    pub fn is_admitted(self) -> bool {
        self == Access::Admitted
    }
}

/// How far a user has read a room: every event up to `last_read` was
/// delivered to them (or they said they read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    pub user_id: String,
    pub room_id: String,
    pub last_read: i64,
}

/// A user's read position stored, with what is left unread after it
/// (visible messages by others, not deleted), as of the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub mark: ReadMark,
    pub unread: i64,
}
