//! The changes the writer commits: the `Change` vocabulary its typed
//! methods queue and what each one did (`Done`). Each backend says what a
//! change does in its SQL (`sqlite/apply.rs`, `postgres/apply.rs`);
//! `writer.rs` owns the thread, the batching and the after-commit report.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use std::time::Duration;

use super::presence::{PresenceChange, PresenceDone};
use crate::model::{EventRecord, NewEvent, ReadMark, RoomRow, SessionRow, Unread, User};

/// Everything that changes the database.
#[derive(Debug)]
pub(crate) enum Change {
    CreateRoom(RoomRow),
    /// Store an event as it is (system notices).
    Append(NewEvent),
    /// Store a member's message, whisper or GIF, if its sender may post in
    /// the room: checked in the same transaction, so a post racing a kick
    /// is either stored before the ban or refused after it.
    Post(NewEvent),
    /// Store a change to a message (`reaction`, `unreaction`, `edit`,
    /// `delete`, about its `target`) and apply it, if `targets.rs` allows
    /// it on the message as it is in the same transaction.
    Modify(NewEvent),
    /// Give a room a bot: `bot` may post there with the key whose hash is
    /// `key_hash` (it is admitted, as a private room's members are).
    CreateBot {
        room_id: String,
        key_hash: String,
        bot: User,
    },
    /// The key stops working.
    DeleteBot {
        room_id: String,
        key_hash: String,
    },
    /// Change a room's settings, with the notice saying so.
    Settings(RoomSettings),
    /// Move users' read positions on (never back), and count what each
    /// has left unread.
    MarkRead(Vec<ReadMark>),
    /// Remember that a user gave a private room's password.
    Admit {
        room_id: String,
        user_id: String,
    },
    /// Ban a user from a room (and the client addresses given), with the
    /// notice saying so.
    Ban {
        user: User,
        addresses: Vec<String>,
        notice: NewEvent,
    },
    /// Hand the room to a new owner, with the notice saying so.
    SetOwner {
        owner: User,
        notice: NewEvent,
    },
    DeleteRoom {
        room_id: String,
    },
    /// A user set their display name: rooms they own show it.
    Rename {
        user: User,
    },
    /// Insert a new session; fails (`SessionTaken`) if the id is taken.
    CreateSession(SessionRow),
    SaveSession(SessionRow),
    DeleteSession {
        id: String,
    },
    DeleteExpiredSessions {
        now: i64,
    },
    /// One round of a node's arrivals and departures in a room
    /// (`presence.rs`).
    Presence(PresenceChange),
    /// Keep this node alive for `lease` more: a node whose lease ran out
    /// is dead to the others, who remove its presence.
    RenewLease {
        lease: Duration,
    },
    /// Forget nodes whose lease ran out and who have no presence left.
    ForgetDeadNodes,
    /// Delete the room if nobody has been in it for `ttl`.
    DeleteIfVacant {
        room_id: String,
        ttl: Duration,
    },
}

/// What an owner changes of a room (`None`: leave it as it is).
#[derive(Debug)]
pub struct RoomSettings {
    pub room_id: String,
    pub locked: Option<bool>,
    /// `Some(None)` clears the password (the room becomes public).
    pub password_hash: Option<Option<String>>,
    pub max: Option<u32>,
    /// Who is present: a password set on an open room admits them.
    pub present: Vec<String>,
    /// The `system` notice that says what changed.
    pub notice: NewEvent,
}

/// What a change did.
#[derive(Debug)]
pub(crate) enum Done {
    Room(RoomRow),
    Event(EventRecord),
    /// A post repeated (same user, room and `client_id`): the event stored
    /// the first time; nothing new was stored.
    Repeat(EventRecord),
    /// A `delete` stored: the event, and the deleted GIF's URL (its file
    /// is removed after the commit).
    Erased {
        record: EventRecord,
        gif: Option<String>,
    },
    /// For `DeleteRoom`: whether the room existed, and the uploaded files
    /// its events referred to (removed from disk after the commit).
    Deleted {
        existed: bool,
        gifs: Vec<String>,
    },
    Presence(Box<PresenceDone>),
    /// For `MarkRead`: the positions that moved, with their unread counts.
    Read(Vec<Unread>),
    /// For `Settings`: the room as it is now, and the notice.
    Settings {
        room: RoomRow,
        notice: EventRecord,
    },
    /// For `RenewLease`: whether the lease had run out (or never existed):
    /// the other nodes may have removed this node's presence.
    Lease {
        lost: bool,
    },
    Nothing,
}

impl Change {
    /// Whether the change writes with at most one statement, which the
    /// database applies entirely or not at all: it needs no savepoint.
    pub(crate) fn writes_once(&self) -> bool {
        !matches!(
            self,
            Change::CreateRoom(_)
                | Change::CreateBot { .. }
                | Change::Settings(_)
                | Change::Modify(_)
                | Change::MarkRead(_)
                | Change::Ban { .. }
                | Change::SetOwner { .. }
                | Change::Presence(_)
        )
    }
}

/// Now, as stored: RFC 3339 in UTC with millisecond precision.
pub fn now() -> String {
    stored(OffsetDateTime::now_utc())
}

/// `ttl` ago, as stored.
pub fn ago(ttl: Duration) -> String {
    stored(OffsetDateTime::now_utc() - ttl)
}

fn stored(now: OffsetDateTime) -> String {
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_default()
}
