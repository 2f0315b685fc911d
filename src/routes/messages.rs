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
pub const MAX_HISTORY: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/messages", get(history).post(post_message))
        .route("/rooms/{id}/whispers", post(whisper))
}

/// The body of `POST /rooms/{id}/messages`.
#[derive(Deserialize)]
pub struct ChatForm {
    chat: Option<String>,
}

impl ChatForm {
    /// The message, trimmed; 422 when empty or over [`MAX_CHAT_CHARS`].
    pub fn check(&self) -> AppResult<String> {
        bounded_text("chat", self.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)
    }
}

/// POST /rooms/{id}/messages: stores a chat message; 201 once committed.
async fn post_message(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<ChatForm>,
) -> AppResult<Response> {
    let chat = form.check()?;
    // The writer checks that the poster may post here, in the transaction
    // that stores the message: no read before it on the hot path.
    let record = state
        .writer
        .post(NewEvent {
            room_id: room_id.clone(),
            kind: Kind::Chat,
            user: Some(visitor.user),
            chat: Some(chat),
            gif: None,
            gif_info: None,
            to: None,
        })
        .await?;
    Ok(format.done_in_room(StatusCode::CREATED, &record, &room_id))
}

/// The body of `POST /rooms/{id}/whispers`.
#[derive(Deserialize)]
pub struct WhisperForm {
    to: Option<String>,
    chat: Option<String>,
}

impl WhisperForm {
    /// The message (as [`ChatForm::check`]) and the id of whom it goes to:
    /// 422 when `to` is missing or is the sender, `me`.
    pub fn check(&self, me: &str) -> AppResult<(String, &str)> {
        let chat = bounded_text("chat", self.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
        let to = self.to.as_deref().map(str::trim).unwrap_or("");
        if to.is_empty() {
            return Err(AppError::invalid("to is required: whom to whisper to"));
        }
        if to == me {
            return Err(AppError::invalid("you cannot whisper to yourself"));
        }
        Ok((chat, to))
    }
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
    let (chat, to_id) = form.check(&visitor.user.id)?;
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    let to = state
        .hub
        .member(&room.id, to_id)
        .ok_or_else(|| AppError::invalid("whispers go to a member present in the room"))?;
    let record = state
        .writer
        .post(NewEvent {
            room_id: room.id.clone(),
            kind: Kind::Whisper,
            user: Some(visitor.user),
            chat: Some(chat),
            gif: None,
            gif_info: None,
            to: Some(to),
        })
        .await?;
    Ok(format.done_in_room(StatusCode::CREATED, &record, &room.id))
}

/// The query of `GET /rooms/{id}/messages`.
#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<String>,
    limit: Option<String>,
}

impl HistoryQuery {
    /// `before` (any id, `None` for the newest page) and `limit` (default
    /// 50): 400 when not numbers, 422 when `limit` is not within 1 to 200.
    pub fn check(&self) -> AppResult<(Option<i64>, usize)> {
        let before = parse_param::<i64>("before", self.before.as_deref())?;
        let limit =
            parse_param::<usize>("limit", self.limit.as_deref())?.unwrap_or(DEFAULT_HISTORY);
        if !(1..=MAX_HISTORY).contains(&limit) {
            return Err(AppError::invalid(format!(
                "limit must be between 1 and {MAX_HISTORY}"
            )));
        }
        Ok((before, limit))
    }
}

/// GET /rooms/{id}/messages?before=&limit=: a page of visible history,
/// oldest first.
async fn history(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<HistoryQuery>,
    visitor: Visitor,
) -> AppResult<Json<serde_json::Value>> {
    let (before, limit) = query.check()?;
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    let user_id = visitor.user.id;
    let (events, has_more) = state
        .db
        .read(move |conn| db::events::page(conn, &room.id, &user_id, before, limit))
        .await?;
    Ok(Json(json!({ "events": events, "has_more": has_more })))
}
