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
    identity::Visitor,
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
    let rooms = rooms_now(&state).await?;
    if format == Format::Json {
        return Ok(Json(RoomList { rooms }).into_response());
    }
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    Ok(views::lobby::lobby(&page, &rooms).into_response())
}

/// GET /rooms: the room list as JSON.
#[utoipa::path(
    get,
    path = "/rooms",
    operation_id = "list_rooms",
    tag = "lobby",
    responses((status = OK, description = "The rooms", body = RoomList), Ordinary, Failed)
)]
async fn list(State(state): State<AppState>) -> AppResult<Json<RoomList>> {
    Ok(Json(RoomList {
        rooms: rooms_now(&state).await?,
    }))
}

/// Every room with its members present now, newest first.
pub async fn rooms_now(state: &AppState) -> AppResult<Vec<Room>> {
    let rows = state.db.rooms().await?;
    let counts = state.hub.member_counts();
    Ok(rows
        .iter()
        .map(|row| row.public(counts.get(&row.id).copied().unwrap_or(0)))
        .collect())
}
