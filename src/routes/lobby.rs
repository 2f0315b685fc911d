//! The lobby: the list of rooms, as a page and as JSON.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::AppResult,
    flash,
    identity::{KnownVisitor, Visitor},
    model::Room,
    routes::{
        negotiate::Format,
        openapi::{Failed, Ordinary},
    },
    state::AppState,
    views,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(lobby))
        .routes(routes!(list))
}

/// `{"rooms": [...]}`: the lobby as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomList {
    /// Every room, newest first.
    pub rooms: Vec<Room>,
    /// With `unread` counts (a caller with a session): the newest event
    /// id when they were counted. A later `room-activity` with a higher
    /// `last_event_id` is news; one up to it was counted already.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub unread_through: Option<i64>,
}

/// GET /: the lobby page (JSON `{"rooms": [...]}` on request).
#[utoipa::path(
    get,
    path = "/",
    operation_id = "lobby",
    tag = "lobby",
    responses(
        (status = OK, description = "The rooms: JSON when asked for (`Accept: application/json`), \
            else the lobby page",
            content((RoomList = "application/json"), (String = "text/html"))),
        Ordinary, Failed
    )
)]
async fn lobby(
    State(state): State<AppState>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let list = rooms_now(&state, Some(&visitor.user.id)).await?;
    if format == Format::Json {
        return Ok(Json(list).into_response());
    }
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    Ok(views::lobby::lobby(&page, &list.rooms, list.unread_through).into_response())
}

/// GET /rooms: the room list as JSON.
#[utoipa::path(
    get,
    path = "/rooms",
    operation_id = "list_rooms",
    tag = "lobby",
    responses((status = OK, description = "The rooms", body = RoomList), Ordinary, Failed)
)]
async fn list(
    State(state): State<AppState>,
    KnownVisitor(user_id): KnownVisitor,
) -> AppResult<Json<RoomList>> {
    Ok(Json(rooms_now(&state, user_id.as_deref()).await?))
}

/// Every room with its members present now, newest first; with what
/// `user_id` has left unread in each, when there is one.
pub async fn rooms_now(state: &AppState, user_id: Option<&str>) -> AppResult<RoomList> {
    let rows = state.db.rooms().await?;
    let counts = state.hub.member_counts();
    let unread = match user_id {
        Some(user_id) => Some(state.db.unread(user_id).await?),
        None => None,
    };
    let rooms = rows
        .iter()
        .map(|row| Room {
            unread: unread
                .as_ref()
                .map(|u| u.counts.get(&row.id).copied().unwrap_or(0)),
            ..row.public(counts.get(&row.id).copied().unwrap_or(0))
        })
        .collect();
    Ok(RoomList {
        rooms,
        unread_through: unread.map(|u| u.through),
    })
}
