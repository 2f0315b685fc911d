//! Events: everything that happens in a room or the lobby, and the one place
//! where an event becomes bytes.
//!
//! An `EventRecord` (`model`) is the plain data of a room event (what the
//! database stores and the views render). An [`Event`] is what travels
//! through the hub: the record's JSON and its complete SSE frame, each
//! rendered once as `Bytes` and shared by every subscriber through an
//! `Arc`, plus who may see it.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::model::{Audience, EventRecord, Kind};

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
    /// A long-poll answering with this event first waits until then for
    /// more: set as a busy room's message is published (`hub/pace.rs`).
    pub gather_until: Option<tokio::time::Instant>,
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
            gather_until: None,
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
    use crate::model::User;

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
            ..EventRecord::default()
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
    fn whispers_and_changes_to_them_are_seen_by_their_two_users_only() {
        for kind in [Kind::Whisper, Kind::Reaction, Kind::Edit, Kind::Delete] {
            let whisper = record(kind);
            assert!(whisper.visible_to("alice") && whisper.visible_to("bob"));
            assert!(!whisper.visible_to("carol"));
        }
        let chat = EventRecord {
            to: None,
            ..record(Kind::Chat)
        };
        assert!(chat.visible_to("carol"));
    }
}
