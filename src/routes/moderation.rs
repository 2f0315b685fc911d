//! The owner's powers: kicking a member out for the life of the room, and
//! handing ownership over.

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::post,
};
use serde::Deserialize;

use crate::{
    db::{
        self,
        writer::{Change, NewEvent},
    },
    error::{AppError, AppResult},
    identity::{User, Visitor},
    routes::{
        access::owned_room,
        negotiate::{Format, Input},
    },
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/kick", post(kick))
        .route("/rooms/{id}/owner", post(hand_over))
}

#[derive(Deserialize)]
struct Target {
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
async fn kick(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<Target>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor.user).await?;
    let target_id = target.id()?.to_owned();
    if target_id == visitor.user.id {
        return Err(AppError::invalid("the owner cannot kick themselves"));
    }
    let user = match state.hub.member(&room.id, &target_id) {
        Some(user) => user,
        None => {
            // Someone who posted (a cookie-less poster, say) without being
            // present can still be kicked.
            let (id, user_id) = (room.id.clone(), target_id.clone());
            state
                .db
                .read(move |conn| db::events::last_seen_user(conn, &id, &user_id))
                .await?
                .ok_or_else(|| AppError::invalid("that user is not in this room"))?
        }
    };
    let notice = NewEvent::system(&room.id, format!("{} was kicked out", user.label()));
    let record = state.writer.event(Change::Ban { user, notice }).await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}

/// POST /rooms/{id}/owner: the owner hands the room to a present member.
async fn hand_over(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<Target>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor.user).await?;
    let target_id = target.id()?;
    if target_id == visitor.user.id {
        return Err(AppError::invalid("you already own this room"));
    }
    let owner: User = state
        .hub
        .member(&room.id, target_id)
        .ok_or_else(|| AppError::invalid("ownership goes to a member present in the room"))?;
    let text = format!(
        "{} handed the room to {}",
        visitor.user.label(),
        owner.label()
    );
    let notice = NewEvent::system(&room.id, text);
    let record = state
        .writer
        .event(Change::SetOwner { owner, notice })
        .await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}
