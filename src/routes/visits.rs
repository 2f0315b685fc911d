//! Page views and posts as presence. Streams and polls say exactly when a
//! user comes and goes; a page without JavaScript, or a curl poster, has
//! neither, yet is using the room. Their page views and posts count as a
//! visit (`Hub::visit`): present for `--visit-window`, renewed by the next.

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::{RoomRow, User},
    routes::access::admitted_room,
    state::AppState,
};

/// The visitor posts to `room_id`: a visit, if they were let in to do so.
/// Refused when the room is locked to them (409) or keeps their address
/// out (403 `kicked`); whether they may post is otherwise the writer's to
/// decide, in the transaction that would store the post.
pub async fn visited(state: &AppState, room_id: &str, visitor: &Visitor) -> AppResult<()> {
    // Usually from the hub's memory: the room was just used.
    match admitted_room(state, room_id, visitor).await {
        Ok(room) => visit(state, &room, &visitor.user),
        Err(AppError::Kicked) => Err(AppError::Kicked),
        Err(e) => {
            tracing::debug!(room = room_id, error = ?e, "a visit not counted");
            Ok(())
        }
    }
}

/// `user` posts to `room`, whom they were let in to: a visit, unless the
/// room is locked to them (409).
pub fn visit(state: &AppState, room: &RoomRow, user: &User) -> AppResult<()> {
    if state.hub.locked_out(room, user) {
        return Err(AppError::locked());
    }
    state.hub.visit(room, user);
    Ok(())
}
