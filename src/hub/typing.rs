//! Who is typing: an ephemeral `typing` event to a room's viewers, never
//! stored (no id, so no cursor moves past it), at most one per user per
//! [`TYPING_EVERY`]: a client may say it on every key.

use std::{sync::Arc, time::Duration};

use serde::Serialize;
use tokio::time::Instant;

use super::Hub;
use crate::{
    events::Event,
    model::{Audience, Kind, User},
};

/// A user's `typing` events are at least this far apart.
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

/// The body of a `typing` event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TypingEvent {
    /// Always `typing`.
    #[serde(rename = "type")]
    #[schema(schema_with = typing_kind)]
    pub kind: Kind,
    pub room: String,
    /// Who is typing.
    pub user: User,
}

fn typing_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::Typing])
}

impl Hub {
    /// `user` is typing in the room: its viewers here hear of it, unless
    /// they did less than [`TYPING_EVERY`] ago. False for such a repeat.
    pub fn typing(&self, room_id: &str, user: &User) -> bool {
        let now = Instant::now();
        let tx = {
            let mut state = self.state();
            let Some(room) = state.rooms.get_mut(room_id) else {
                // Nobody is here to tell (there may be elsewhere).
                return true;
            };
            room.typing.retain(|_, said| now - *said < TYPING_EVERY);
            if room.typing.contains_key(&user.id) {
                return false;
            }
            room.typing.insert(user.id.clone(), now);
            room.tx.clone()
        };
        let body = TypingEvent {
            kind: Kind::Typing,
            room: room_id.to_owned(),
            user: user.clone(),
        };
        let event = Event::transient(Kind::Typing, Audience::Room, &body);
        // No receivers is not an error.
        tx.send(Arc::new(event));
        true
    }
}
