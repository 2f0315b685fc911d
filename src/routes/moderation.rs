//! The owner's powers: kicking a member out for the life of the room, and
//! handing ownership over.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::{EventRecord, NewEvent, User},
    routes::{
        access::owned_room,
        negotiate::{Format, Input},
        openapi::{Conflict, Failed, InRoom, Ordinary, Posted, Unavailable},
        rooms::RoomPath,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(kick))
        .routes(routes!(hand_over))
}

/// The body of `POST /rooms/{id}/kick` and `POST /rooms/{id}/owner`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user": "Xq3mP0aZ7rT2vB8k"}))]
struct Target {
    /// The user's id (not the owner's own).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{8,32}$")]
    user: Option<String>,
}

impl Target {
    fn id(&self) -> AppResult<&str> {
        let id = self.user.as_deref().map(str::trim).unwrap_or("");
        if id.is_empty() {
            return Err(AppError::invalid("user is required"));
        }
        Ok(id)
    }
}

/// POST /rooms/{id}/kick: the owner bans a user from the room: their
/// streams get `kicked` and close, and their posts and re-joins get 403.
#[utoipa::path(
    post,
    path = "/rooms/{id}/kick",
    operation_id = "kick",
    tag = "moderation",
    params(RoomPath),
    request_body(content(
        (Target = "application/json"),
        (Target = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Kicked: the stored notice", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn kick(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<Target>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor.user).await?;
    let target_id = target.id()?.to_owned();
    if target_id == visitor.user.id {
        return Err(AppError::conflict("the owner cannot kick themselves"));
    }
    let user = match state.hub.member(&room.id, &target_id) {
        Some(user) => user,
        None => {
            // Someone who posted (a cookie-less poster, say) without being
            // present can still be kicked.
            let (id, user_id) = (room.id.clone(), target_id.clone());
            state
                .db
                .last_seen_user(&id, &user_id)
                .await?
                .ok_or_else(|| AppError::conflict("that user is not in this room"))?
        }
    };
    let notice = NewEvent::system(&room.id, format!("{} was kicked out", user.label()));
    let record = state.writer.ban(user, notice).await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}

/// POST /rooms/{id}/owner: the owner hands the room to a present member.
#[utoipa::path(
    post,
    path = "/rooms/{id}/owner",
    operation_id = "hand_over",
    tag = "moderation",
    params(RoomPath),
    request_body(content(
        (Target = "application/json"),
        (Target = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Handed over: the stored notice", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn hand_over(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<Target>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor.user).await?;
    let target_id = target.id()?;
    if target_id == visitor.user.id {
        return Err(AppError::conflict("you already own this room"));
    }
    let owner: User = state
        .hub
        .member(&room.id, target_id)
        .ok_or_else(|| AppError::conflict("ownership goes to a member present in the room"))?;
    let text = format!(
        "{} handed the room to {}",
        visitor.user.label(),
        owner.label()
    );
    let notice = NewEvent::system(&room.id, text);
    let record = state.writer.set_owner(owner, notice).await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}
