//! Page views and posts as presence. Streams and polls say exactly when a
//! user comes and goes; a page without JavaScript, or a curl poster, has
//! neither, yet is using the room. Their page views and posts count as a
//! visit (`Hub::visit`): present for `--visit-window`, renewed by the next.

use crate::{model::User, routes::access::admitted_room, state::AppState};

/// `user` viewed or posted to `room_id` (and was let in to do so).
pub async fn visited(state: &AppState, room_id: &str, user: &User) {
    // Usually from the hub's memory: the room was just used.
    match admitted_room(state, room_id, user).await {
        Ok(room) => state.hub.visit(&room, user),
        Err(e) => tracing::debug!(room = room_id, error = ?e, "a visit not counted"),
    }
}
