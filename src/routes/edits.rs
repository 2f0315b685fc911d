//! Changing what was said: the author edits a text message or whisper
//! (`edit` event), the author or the room's owner deletes a message
//! (`delete` event; a GIF's file goes after the commit). Whether the
//! message allows it is the writer's to decide, in the transaction that
//! stores the change (`db/targets.rs`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::{EventRecord, Kind, NewEvent},
    routes::{
        access::admitted_room,
        messages::MAX_CHAT_CHARS,
        negotiate::{Format, Input, bounded_text, bounded_text_schema},
        openapi::{Conflict, Failed, InRoom, Ordinary, Posted, StateChange, Unavailable},
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(edit, delete))
}

/// The message a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// The room's id.
    #[param(pattern = "^[A-Za-z0-9]{12}$")]
    pub id: String,
    /// The message's id.
    #[param(value_type = i64, minimum = 1)]
    pub event: String,
}

impl EventPath {
    /// The message's id: 400 when it is no number, 404 when it cannot be
    /// an id.
    pub fn event(&self) -> AppResult<i64> {
        Self::parse_event(&self.event)
    }

    pub fn parse_event(raw: &str) -> AppResult<i64> {
        let id: i64 = raw
            .parse()
            .map_err(|_| AppError::bad_request("the event id must be a number"))?;
        if id < 1 {
            return Err(AppError::not_found("message"));
        }
        Ok(id)
    }
}

/// The body of `PATCH /rooms/{id}/events/{event}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"chat": "hello, cats!"}))]
struct EditForm {
    /// The new text.
    #[schema(required = true, schema_with = chat_schema)]
    chat: Option<String>,
}

fn chat_schema() -> utoipa::openapi::schema::Schema {
    bounded_text_schema(MAX_CHAT_CHARS, "1 to 2000 characters once trimmed")
}

/// PATCH /rooms/{id}/events/{event}: the author changes the text of a
/// message or whisper: a stored `edit` event with the new text.
#[utoipa::path(
    patch,
    path = "/rooms/{id}/events/{event}",
    operation_id = "edit_message",
    tag = "messages",
    params(EventPath),
    request_body(content(
        (EditForm = "application/json"),
        (EditForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "The stored `edit` event", body = EventRecord),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn edit(
    State(state): State<AppState>,
    Path(path): Path<EventPath>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<EditForm>,
) -> AppResult<Response> {
    let target = path.event()?;
    let chat = bounded_text("chat", form.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
    let room = admitted_room(&state, &path.id, &visitor).await?;
    let posted = state
        .writer
        .change_message(NewEvent {
            chat: Some(chat),
            target: Some(target),
            ..NewEvent::by(visitor.user, &room.id, Kind::Edit)
        })
        .await?;
    Ok(format.done_in_room(StatusCode::OK, posted.record(), &room.id))
}

/// DELETE /rooms/{id}/events/{event}: the author or the room's owner
/// deletes a message, GIF or whisper: a stored `delete` event; the text
/// is gone from history, search and the page, and a GIF's file from disk.
#[utoipa::path(
    delete,
    path = "/rooms/{id}/events/{event}",
    operation_id = "delete_message",
    tag = "messages",
    params(EventPath),
    responses(
        (status = OK, description = "The stored `delete` event", body = EventRecord),
        InRoom, StateChange, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn delete(
    State(state): State<AppState>,
    Path(path): Path<EventPath>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let target = path.event()?;
    let room = admitted_room(&state, &path.id, &visitor).await?;
    let posted = state
        .writer
        .change_message(NewEvent {
            target: Some(target),
            ..NewEvent::by(visitor.user, &room.id, Kind::Delete)
        })
        .await?;
    Ok(format.done_in_room(StatusCode::OK, posted.record(), &room.id))
}
