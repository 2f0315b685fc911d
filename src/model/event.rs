//! A room's events as plain data: what the database stores, the hub
//! renders once (`events.rs`) and the views show.

use serde::Serialize;
use utoipa::ToSchema;

use super::User;

/// The `type` of an event, as it appears in JSON and in SSE `event:` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    #[default]
    Chat,
    Gif,
    Whisper,
    System,
    // Stored events about a message (`target`): folded into it by
    // history, applied to it by live clients.
    Reaction,
    Unreaction,
    Edit,
    Delete,
    Members,
    /// Ephemeral: someone is typing (never stored, no id).
    Typing,
    Kicked,
    RoomDeleted,
    // Lobby events.
    Rooms,
    RoomCreated,
    RoomUpdated,
    /// A message was posted in a room (for unread counts).
    RoomActivity,
    /// The user's read position in a room moved (to them only).
    Read,
    /// A poll's: the caller's unread counts now (the list did not change).
    Unread,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Gif => "gif",
            Kind::Whisper => "whisper",
            Kind::System => "system",
            Kind::Reaction => "reaction",
            Kind::Unreaction => "unreaction",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
            Kind::Members => "members",
            Kind::Typing => "typing",
            Kind::Kicked => "kicked",
            Kind::RoomDeleted => "room-deleted",
            Kind::Rooms => "rooms",
            Kind::RoomCreated => "room-created",
            Kind::RoomUpdated => "room-updated",
            Kind::RoomActivity => "room-activity",
            Kind::Read => "read",
            Kind::Unread => "unread",
        }
    }

    /// Parses a stored kind; only stored kinds are ever written to SQLite.
    pub fn from_stored(text: &str) -> Option<Kind> {
        Some(match text {
            "chat" => Kind::Chat,
            "gif" => Kind::Gif,
            "whisper" => Kind::Whisper,
            "system" => Kind::System,
            "reaction" => Kind::Reaction,
            "unreaction" => Kind::Unreaction,
            "edit" => Kind::Edit,
            "delete" => Kind::Delete,
            _ => return None,
        })
    }

    /// A message people post: what reactions, edits, deletes and replies
    /// are about, and what counts as unread.
    pub fn is_message(self) -> bool {
        matches!(self, Kind::Chat | Kind::Gif | Kind::Whisper)
    }

    /// Whether a stream ends after delivering this event.
    pub fn is_final(self) -> bool {
        matches!(self, Kind::Kicked | Kind::RoomDeleted)
    }

    /// The kinds stored in the database (what [`Kind::from_stored`] reads).
    pub const STORED: [Kind; 8] = [
        Kind::Chat,
        Kind::Gif,
        Kind::Whisper,
        Kind::System,
        Kind::Reaction,
        Kind::Unreaction,
        Kind::Edit,
        Kind::Delete,
    ];
    /// The kinds of a [`RoomNotice`].
    pub const NOTICES: [Kind; 2] = [Kind::Kicked, Kind::RoomDeleted];

    /// The schema of a `type` field that holds one of `kinds`: the shapes
    /// of a room's events are told apart by it.
    pub fn schema_of(kinds: &[Kind]) -> utoipa::openapi::schema::Schema {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(kinds.iter().map(|kind| kind.as_str())))
            .into()
    }
}

fn stored_kinds() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&Kind::STORED)
}

fn notice_kinds() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&Kind::NOTICES)
}

/// A stored room event: the row, and the JSON body every client sees.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct EventRecord {
    /// From one global sequence: increasing, never reused.
    #[schema(minimum = 1)]
    pub id: i64,
    /// One of the stored kinds: a message (`chat`, `gif`, `whisper`), a
    /// `system` notice, or a change to a message (`reaction`,
    /// `unreaction`, `edit`, `delete`, about `target`).
    #[serde(rename = "type")]
    #[schema(schema_with = stored_kinds)]
    pub kind: Kind,
    /// The room's id.
    pub room: String,
    /// Who posted it; null for `system` events.
    #[schema(required = true)]
    pub user: Option<User>,
    /// The text of a `chat`, `whisper` or `system` event, the new text of
    /// an `edit`, the reaction of a `reaction` or `unreaction`.
    #[schema(required = true)]
    pub chat: Option<String>,
    /// The URL path of a `gif` event's file.
    #[schema(required = true, pattern = "^/gif/[0-9a-f]{32}[.]gif$")]
    pub gif: Option<String>,
    /// Size and frame count of a GIF, so pages reserve its space early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gif_info: Option<GifInfo>,
    /// Whom a whisper goes to. On a change to a whisper, the whisper's
    /// other user: such events are seen by the two of them only.
    #[schema(required = true)]
    pub to: Option<User>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The poster's own name for the post (`client_id` of the request),
    /// which makes a repeat of it store nothing new.
    #[schema(required = true, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: Option<String>,
    /// The message a `reaction`, `unreaction`, `edit` or `delete` is about.
    #[schema(required = true)]
    pub target: Option<i64>,
    /// The message this one replies to.
    #[schema(required = true)]
    pub reply_to: Option<i64>,
    /// The message replied to, as it is now (present with `reply_to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Quote>>,
    /// Whom the message mentions.
    pub mentions: Vec<User>,
    /// The text was edited since it was posted.
    pub edited: bool,
    /// The message was deleted: `chat` and `gif` are null.
    pub deleted: bool,
    /// The reactions on a message, in the order they were first given.
    /// Folded in by history and pages; a live message starts with none,
    /// and `reaction` / `unreaction` events change it.
    pub reactions: Vec<Reactions>,
}

/// The message a reply quotes, as it is now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Quote {
    pub id: i64,
    /// Its author.
    #[schema(required = true)]
    pub user: Option<User>,
    /// Its text (null once deleted, and for a GIF).
    #[schema(required = true)]
    pub chat: Option<String>,
    /// Its GIF's URL (null once deleted, and for text).
    #[schema(required = true)]
    pub gif: Option<String>,
    pub deleted: bool,
}

/// One reaction on a message: how many gave it, and who.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Reactions {
    /// 1 to 16 characters, an emoji or a word.
    #[schema(min_length = 1, max_length = 16)]
    pub reaction: String,
    #[schema(minimum = 1)]
    pub count: usize,
    /// In the order they reacted.
    pub users: Vec<User>,
}

/// What a validated GIF looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct GifInfo {
    #[schema(minimum = 1)]
    pub width: u32,
    #[schema(minimum = 1)]
    pub height: u32,
    #[schema(minimum = 1)]
    pub frames: u32,
}

impl EventRecord {
    pub fn visible_to(&self, user_id: &str) -> bool {
        self.audience().admits(user_id)
    }

    /// A whisper, and every change to one, is seen by its two users.
    pub fn audience(&self) -> Audience {
        match (&self.user, &self.to) {
            (Some(from), Some(to)) => Audience::Pair(from.id.clone(), to.id.clone()),
            _ => Audience::Room,
        }
    }

    /// As a reply quotes it.
    pub fn quote(&self) -> Quote {
        Quote {
            id: self.id,
            user: self.user.clone(),
            chat: self.chat.clone(),
            gif: self.gif.clone(),
            deleted: self.deleted,
        }
    }
}

/// An event of a room that is not stored and concerns the room itself:
/// `kicked` (to the kicked user) and `room-deleted`. The stream closes
/// after either.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoomNotice {
    #[serde(rename = "type")]
    #[schema(schema_with = notice_kinds)]
    pub kind: Kind,
    /// The room's id.
    pub room: String,
}

/// What a room's stream and poll answers carry, in one of three shapes,
/// told apart by `type`. Events travel as JSON rendered once (see `Event`),
/// so this type only names the shapes for the schema: it is never made.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum RoomEvent {
    Stored(EventRecord),
    Members(super::MembersEvent),
    Notice(RoomNotice),
}

/// Who may see an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everyone in the room (or the lobby).
    Room,
    /// One user: a `kicked` notice.
    User(String),
    /// The sender and the recipient of a whisper.
    Pair(String, String),
}

impl Audience {
    pub fn admits(&self, user_id: &str) -> bool {
        match self {
            Audience::Room => true,
            Audience::User(only) => only == user_id,
            Audience::Pair(a, b) => a == user_id || b == user_id,
        }
    }
}

/// A new event to store.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub room_id: String,
    pub kind: Kind,
    pub user: Option<User>,
    pub chat: Option<String>,
    pub gif: Option<String>,
    pub gif_info: Option<GifInfo>,
    pub to: Option<User>,
    /// A post's `client_id`: a repeat by the same user in the same room
    /// stores nothing new.
    pub client_id: Option<String>,
    /// The message a change (`reaction`, `edit`...) is about.
    pub target: Option<i64>,
    /// The message a post replies to.
    pub reply_to: Option<i64>,
    pub mentions: Vec<User>,
}

impl NewEvent {
    /// An event of `kind` by `user` in the room, with nothing else set yet.
    pub fn by(user: User, room_id: &str, kind: Kind) -> Self {
        Self {
            room_id: room_id.to_owned(),
            kind,
            user: Some(user),
            ..Self::default()
        }
    }

    /// The event as stored, with its id and time (and the message it
    /// replies to, as it is now).
    pub fn stored(&self, id: i64, created_at: String, reply: Option<Box<Quote>>) -> EventRecord {
        EventRecord {
            id,
            kind: self.kind,
            room: self.room_id.clone(),
            user: self.user.clone(),
            chat: self.chat.clone(),
            gif: self.gif.clone(),
            gif_info: self.gif_info,
            to: self.to.clone(),
            created_at,
            client_id: self.client_id.clone(),
            target: self.target,
            reply_to: self.reply_to,
            reply,
            mentions: self.mentions.clone(),
            ..EventRecord::default()
        }
    }

    /// A `system` notice: no user, the text in `chat`.
    pub fn system(room_id: &str, text: String) -> Self {
        Self {
            room_id: room_id.to_owned(),
            kind: Kind::System,
            chat: Some(text),
            ..Self::default()
        }
    }
}
