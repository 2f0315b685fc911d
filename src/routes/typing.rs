//! "alice is typing…": an ephemeral `typing` event to the room, never
//! stored, at most one per user per two seconds (`hub/typing.rs`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::AppResult,
    identity::Visitor,
    routes::{
        access::admitted_room,
        openapi::{Failed, InRoom, Ordinary, StateChange},
        rooms::RoomPath,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(typing))
}

/// POST /rooms/{id}/typing: the caller is typing. The room's streams and
/// polls get a `typing` event (no id, never stored), at most one per user
/// per 2 s; more often is accepted and not repeated.
#[utoipa::path(
    post,
    path = "/rooms/{id}/typing",
    operation_id = "typing",
    tag = "messages",
    params(RoomPath),
    responses(
        (status = NO_CONTENT, description = "Said (or said less than 2 s ago)"),
        InRoom, StateChange, Ordinary, Failed
    )
)]
async fn typing(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
) -> AppResult<StatusCode> {
    let room = admitted_room(&state, &room_id, &visitor).await?;
    // Other nodes' viewers hear it through the database (the echo here is
    // a repeat, which the hub lets pass).
    if state.hub.typing(&room.id, &visitor.user) {
        state.db.announce_typing(&room.id, &visitor.user).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
