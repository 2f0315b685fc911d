//! Text messages: posting one, and paging back through history.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    db::{self, writer::NewEvent},
    error::{AppError, AppResult},
    events::Kind,
    identity::Visitor,
    routes::{
        access::admitted_room,
        negotiate::{Format, Input, bounded_text, parse_param},
    },
    state::AppState,
};

pub const MAX_CHAT_CHARS: usize = 2000;
const DEFAULT_HISTORY: usize = 50;
const MAX_HISTORY: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/messages", get(history).post(post_message))
        .route("/rooms/{id}/whispers", post(whisper))
}

#[derive(Deserialize)]
struct ChatForm {
    chat: Option<String>,
}

/// POST /rooms/{id}/messages: stores a chat message; 201 once committed.
async fn post_message(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<ChatForm>,
) -> AppResult<Response> {
    let chat = bounded_text("chat", form.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    let record = state
        .writer
        .append(NewEvent {
            room_id: room.id.clone(),
            kind: Kind::Chat,
            user: Some(visitor.user),
            chat: Some(chat),
            gif: None,
            gif_info: None,
            to: None,
        })
        .await?;
    Ok(format.created(StatusCode::CREATED, &record, &format!("/rooms/{}", room.id)))
}

#[derive(Deserialize)]
struct WhisperForm {
    to: Option<String>,
    chat: Option<String>,
}

/// POST /rooms/{id}/whispers: a private message to one present member,
/// seen by the two of them only.
async fn whisper(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<WhisperForm>,
) -> AppResult<Response> {
    let chat = bounded_text("chat", form.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
    let to_id = form.to.as_deref().map(str::trim).unwrap_or("");
    if to_id.is_empty() {
        return Err(AppError::invalid("to is required: whom to whisper to"));
    }
    if to_id == visitor.user.id {
        return Err(AppError::invalid("you cannot whisper to yourself"));
    }
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    let to = state
        .hub
        .member(&room.id, to_id)
        .ok_or_else(|| AppError::invalid("whispers go to a member present in the room"))?;
    let record = state
        .writer
        .append(NewEvent {
            room_id: room.id.clone(),
            kind: Kind::Whisper,
            user: Some(visitor.user),
            chat: Some(chat),
            gif: None,
            gif_info: None,
            to: Some(to),
        })
        .await?;
    Ok(format.created(StatusCode::CREATED, &record, &format!("/rooms/{}", room.id)))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// GET /rooms/{id}/messages?before=&limit=: a page of visible history,
/// oldest first.
async fn history(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<HistoryQuery>,
    visitor: Visitor,
) -> AppResult<Json<serde_json::Value>> {
    let before = parse_param::<i64>("before", query.before.as_deref())?;
    let limit = parse_param::<usize>("limit", query.limit.as_deref())?.unwrap_or(DEFAULT_HISTORY);
    if !(1..=MAX_HISTORY).contains(&limit) {
        return Err(AppError::invalid(format!(
            "limit must be between 1 and {MAX_HISTORY}"
        )));
    }
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    let user_id = visitor.user.id;
    let (events, has_more) = state
        .db
        .read(move |conn| db::events::page(conn, &room.id, &user_id, before, limit))
        .await?;
    Ok(Json(json!({ "events": events, "has_more": has_more })))
}
