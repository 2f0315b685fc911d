//! The lobby: the list of rooms, as a page and as JSON.

use axum::{
    Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{
    db::{self, rooms::Room},
    error::AppResult,
    flash,
    identity::Visitor,
    routes::negotiate::Format,
    state::AppState,
    views,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(lobby))
        .route("/rooms", get(list))
}

/// GET /: the lobby page (JSON `{"rooms": [...]}` on request).
async fn lobby(
    State(state): State<AppState>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let rooms = rooms_now(&state).await?;
    if format == Format::Json {
        return Ok(Json(json!({ "rooms": rooms })).into_response());
    }
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    Ok(views::lobby::lobby(&page, &rooms).into_response())
}

/// GET /rooms: the room list as JSON.
async fn list(State(state): State<AppState>) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "rooms": rooms_now(&state).await? })))
}

/// Every room with its members present now, newest first.
pub async fn rooms_now(state: &AppState) -> AppResult<Vec<Room>> {
    let rows = state.db.read(db::rooms::list).await?;
    let counts = state.hub.member_counts();
    Ok(rows
        .iter()
        .map(|row| row.public(counts.get(&row.id).copied().unwrap_or(0)))
        .collect())
}
