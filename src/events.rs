//! Events: everything that happens in a room or the lobby, and the one place
//! where an event becomes bytes.
//!
//! An [`EventRecord`] is the plain data of a room event (what SQLite stores
//! and the views render). An [`Event`] is what travels through the hub: the
//! record's JSON and its complete SSE frame, each rendered once as `Bytes`
//! and shared by every subscriber through an `Arc`, plus who may see it.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use utoipa::ToSchema;

use crate::identity::User;

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
    Members(crate::hub::MembersEvent),
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

/// An event ready to send: rendered once, shared by every subscriber.
#[derive(Debug)]
pub struct Event {
    /// The stored id; `None` for events that are not stored.
    pub id: Option<i64>,
    pub kind: Kind,
    pub audience: Audience,
    /// The JSON body (`data:` of SSE, an element of a poll answer).
    pub json: Bytes,
    /// The whole SSE block: `id:`, `event:`, `data:` and the blank line.
    pub sse: Bytes,
}

impl Event {
    pub fn stored(record: &EventRecord) -> Event {
        let json = to_json(record);
        Event::render(Some(record.id), record.kind, record.audience(), json)
    }

    /// An event that is not stored: members snapshots, lobby events, notices.
    pub fn transient(kind: Kind, audience: Audience, body: &impl Serialize) -> Event {
        Event::render(None, kind, audience, to_json(body))
    }

    /// A transient event whose JSON body is already rendered (one line).
    pub fn transient_json(kind: Kind, audience: Audience, json: Bytes) -> Event {
        Event::render(None, kind, audience, json)
    }

    fn render(id: Option<i64>, kind: Kind, audience: Audience, json: Bytes) -> Event {
        let mut sse = BytesMut::with_capacity(json.len() + 48);
        if let Some(id) = id {
            sse.put_slice(format!("id: {id}\n").as_bytes());
        }
        sse.put_slice(b"event: ");
        sse.put_slice(kind.as_str().as_bytes());
        sse.put_slice(b"\ndata: ");
        // serde_json never writes a raw newline, so the JSON is one data line.
        sse.put_slice(&json);
        sse.put_slice(b"\n\n");
        Event {
            id,
            kind,
            audience,
            json,
            sse: sse.freeze(),
        }
    }
}

/// Serializes a body that cannot fail to serialize (plain structs, strings).
pub fn to_json(body: &impl Serialize) -> Bytes {
    match serde_json::to_vec(body) {
        Ok(bytes) => Bytes::from(bytes),
        // Only maps with non-string keys or failing Serialize impls can fail;
        // none of our bodies have them. Degrade to `null` rather than panic.
        Err(_) => Bytes::from_static(b"null"),
    }
}

/// `{"<field>":[a,b,...],...rest}` built from already-rendered JSON parts,
/// so poll answers reuse each event's bytes instead of re-serializing.
pub fn json_array(parts: impl IntoIterator<Item = Bytes>) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_u8(b'[');
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&part);
    }
    out.put_u8(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: Kind) -> EventRecord {
        EventRecord {
            id: 7,
            kind,
            room: "r".into(),
            user: Some(User::new("alice".into(), None)),
            chat: Some("line one\nline two".into()),
            gif: None,
            gif_info: None,
            to: Some(User::new("bob".into(), None)),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn an_sse_frame_is_one_block_with_one_data_line() {
        let event = Event::stored(&record(Kind::Chat));
        let text = std::str::from_utf8(&event.sse).unwrap();
        assert!(text.starts_with("id: 7\nevent: chat\ndata: {"));
        assert!(text.ends_with("}\n\n"));
        assert_eq!(text.matches('\n').count(), 4);
    }

    #[test]
    fn whispers_are_seen_by_their_two_users_only() {
        let whisper = record(Kind::Whisper);
        assert!(whisper.visible_to("alice") && whisper.visible_to("bob"));
        assert!(!whisper.visible_to("carol"));
        assert!(record(Kind::Chat).visible_to("carol"));
    }
}
