//! A room's events as plain data: what the database stores, the hub
//! renders once (`events.rs`) and the views show.

use serde::Serialize;
use utoipa::ToSchema;

use super::User;

/// The `type` of an event, as it appears in JSON and in SSE `event:` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Chat,
    Gif,
    Whisper,
    System,
    Members,
    Kicked,
    RoomDeleted,
    // Lobby events.
    Rooms,
    RoomCreated,
    RoomUpdated,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Gif => "gif",
            Kind::Whisper => "whisper",
            Kind::System => "system",
            Kind::Members => "members",
            Kind::Kicked => "kicked",
            Kind::RoomDeleted => "room-deleted",
            Kind::Rooms => "rooms",
            Kind::RoomCreated => "room-created",
            Kind::RoomUpdated => "room-updated",
        }
    }

    /// Parses a stored kind; only stored kinds are ever written to SQLite.
    pub fn from_stored(text: &str) -> Option<Kind> {
        Some(match text {
            "chat" => Kind::Chat,
            "gif" => Kind::Gif,
            "whisper" => Kind::Whisper,
            "system" => Kind::System,
            _ => return None,
        })
    }

    /// Whether a stream ends after delivering this event.
    pub fn is_final(self) -> bool {
        matches!(self, Kind::Kicked | Kind::RoomDeleted)
    }

    /// The kinds stored in SQLite (what [`Kind::from_stored`] reads).
    pub const STORED: [Kind; 4] = [Kind::Chat, Kind::Gif, Kind::Whisper, Kind::System];
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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventRecord {
    /// From one global sequence: increasing, never reused.
    #[schema(minimum = 1)]
    pub id: i64,
    /// `chat`, `gif`, `whisper` or `system` (the stored kinds).
    #[serde(rename = "type")]
    #[schema(schema_with = stored_kinds)]
    pub kind: Kind,
    /// The room's id.
    pub room: String,
    /// Who posted it; null for `system` events.
    #[schema(required = true)]
    pub user: Option<User>,
    /// The text of a `chat`, `whisper` or `system` event.
    #[schema(required = true)]
    pub chat: Option<String>,
    /// The URL path of a `gif` event's file.
    #[schema(required = true, pattern = "^/gif/[0-9a-f]{32}[.]gif$")]
    pub gif: Option<String>,
    /// Size and frame count of a GIF, so pages reserve its space early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gif_info: Option<GifInfo>,
    /// Whom a whisper goes to.
    #[schema(required = true)]
    pub to: Option<User>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The poster's own name for the post (`client_id` of the request),
    /// which makes a repeat of it store nothing new.
    #[schema(required = true, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: Option<String>,
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

    pub fn audience(&self) -> Audience {
        match (&self.kind, &self.user, &self.to) {
            (Kind::Whisper, Some(from), Some(to)) => Audience::Pair(from.id.clone(), to.id.clone()),
            _ => Audience::Room,
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
/// so this type only names the shapes for the schema.
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
#[derive(Debug, Clone)]
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
}

impl NewEvent {
    /// The event as stored, with its id and time.
    pub fn stored(&self, id: i64, created_at: String) -> EventRecord {
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
        }
    }

    /// A `system` notice: no user, the text in `chat`.
    pub fn system(room_id: &str, text: String) -> Self {
        Self {
            room_id: room_id.to_owned(),
            kind: Kind::System,
            user: None,
            chat: Some(text),
            gif: None,
            gif_info: None,
            to: None,
            client_id: None,
        }
    }
}
