//! Unread counts: the caller says how far they have read a room. (Their
//! streams and polls move it too, as they deliver: `hub/reads.rs`; the
//! lobby's list and events carry the counts: `routes/lobby.rs`.)

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::ReadMark,
    routes::{
        access::admitted_room,
        negotiate::{Input, Loose},
        openapi::{Failed, InRoom, Ordinary, Posted, Unavailable},
        rooms::RoomPath,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(mark_read))
}

/// The body of `POST /rooms/{id}/read`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"last_event_id": 42}))]
struct ReadForm {
    /// The id of the newest event read.
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(required = true, value_type = i64, minimum = 0)]
    last_event_id: Option<Loose>,
}

/// POST /rooms/{id}/read: the caller has read the room up to
/// `last_event_id` (a read position never goes back). Their lobby hears
/// what is left unread (`read` event).
#[utoipa::path(
    post,
    path = "/rooms/{id}/read",
    operation_id = "mark_read",
    tag = "rooms",
    params(RoomPath),
    request_body(content(
        (ReadForm = "application/json"),
        (ReadForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = NO_CONTENT, description = "Stored"),
        InRoom, Posted, Unavailable, Ordinary, Failed
    )
)]
async fn mark_read(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
    Input(form): Input<ReadForm>,
) -> AppResult<StatusCode> {
    let last_read = Loose::whole_number("last_event_id", form.last_event_id.as_ref())?
        .ok_or_else(|| AppError::invalid("last_event_id is required"))?;
    if last_read < 0 {
        return Err(AppError::invalid("last_event_id must not be negative"));
    }
    let room = admitted_room(&state, &room_id, &visitor).await?;
    // Nobody has read what was never written.
    let last_read = last_read.min(state.db.newest_id().await?);
    let mark = ReadMark {
        user_id: visitor.user.id.clone(),
        room_id: room.id.clone(),
        last_read,
    };
    state
        .hub
        .read_position(&room.id, &visitor.user.id)
        .reached(last_read);
    state.writer.mark_read(vec![mark]).await?;
    Ok(StatusCode::NO_CONTENT)
}
