//! Text messages: posting one, and paging back through history.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema, openapi::schema::Schema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::writer::Post,
    error::{AppError, AppResult},
    identity::Visitor,
    model::{EventRecord, Kind, NewEvent, RoomRow, User},
    routes::{
        access::admitted_room,
        negotiate::{
            Format, Input, Loose, bounded_text, bounded_text_schema, cursor_param, parse_param,
        },
        openapi::{Conflict, Failed, InRoom, Invalid, Ordinary, Posted, Unavailable},
        references::{IdList, mentioned, mentions_schema, reply_to, reply_to_schema},
        rooms::RoomPath,
        visits::{visit, visited},
    },
    state::AppState,
};

pub const MAX_CHAT_CHARS: usize = 2000;
const DEFAULT_HISTORY: usize = 50;
pub const MAX_HISTORY: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(history, post_message))
        .routes(routes!(whisper))
}

/// The body of `POST /rooms/{id}/messages`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"chat": "hello, cats"}))]
pub struct ChatForm {
    #[schema(required = true, schema_with = chat_schema)]
    chat: Option<String>,
    /// The poster's own name for this post: a repeat of it (a retry)
    /// stores nothing new and answers 200 with the event stored the first
    /// time.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(schema_with = reply_to_schema)]
    reply_to: Option<Loose>,
    #[serde(default, deserialize_with = "IdList::present")]
    #[schema(schema_with = mentions_schema)]
    mentions: Option<IdList>,
}

/// A post's `client_id`: 1 to 64 of `A-Z a-z 0-9 _ -`; 422 otherwise.
pub fn check_client_id(value: Option<&str>) -> AppResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let fits = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !fits {
        return Err(AppError::invalid(
            "client_id is 1 to 64 letters, digits, `_` or `-`",
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The status a post answers: 201 when stored now, 200 for a repeat.
pub fn posted_status(posted: &Post) -> StatusCode {
    match posted {
        Post::New(_) => StatusCode::CREATED,
        Post::Repeat(_) => StatusCode::OK,
    }
}

fn chat_schema() -> Schema {
    bounded_text_schema(MAX_CHAT_CHARS, "1 to 2000 characters once trimmed")
}

impl ChatForm {
    /// The message it replies to, if any (422 when malformed).
    pub fn reply_to(&self) -> AppResult<Option<i64>> {
        reply_to(self.reply_to.as_ref())
    }

    /// Whom it mentions, in `room` (see `references::mentioned`).
    pub async fn mentioned(&self, state: &AppState, room: &RoomRow) -> AppResult<Vec<User>> {
        mentioned(state, room, self.mentions.as_ref()).await
    }

    /// The message, trimmed, and its `client_id`; 422 when the message is
    /// empty or over [`MAX_CHAT_CHARS`], or the `client_id` malformed.
    pub fn check(&self) -> AppResult<(String, Option<String>)> {
        let chat = bounded_text("chat", self.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
        Ok((chat, check_client_id(self.client_id.as_deref())?))
    }
}

/// POST /rooms/{id}/messages: stores a chat message; 201 once committed.
#[utoipa::path(
    post,
    path = "/rooms/{id}/messages",
    operation_id = "post_message",
    tag = "messages",
    params(RoomPath),
    request_body(content(
        (ChatForm = "application/json"),
        (ChatForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "A repeat (same `client_id`): the event stored the first time", body = EventRecord),
        (status = CREATED, description = "The stored event", body = EventRecord, links(
            ("history_before" = (
                operation_id = "room_history",
                parameters(("id" = "$response.body#/room"), ("before" = "$response.body#/id"))
            )),
            ("react" = (
                operation_id = "react",
                parameters(("id" = "$response.body#/room"), ("event" = "$response.body#/id"))
            )),
            ("edit" = (
                operation_id = "edit_message",
                parameters(("id" = "$response.body#/room"), ("event" = "$response.body#/id"))
            )),
            ("delete" = (
                operation_id = "delete_message",
                parameters(("id" = "$response.body#/room"), ("event" = "$response.body#/id"))
            )),
        )),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn post_message(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<ChatForm>,
) -> AppResult<Response> {
    let (chat, client_id) = form.check()?;
    let reply_to = reply_to(form.reply_to.as_ref())?;
    // Posting is being here; first, so that a poster who was not here is
    // a member (and announced) by the time the post is seen.
    visited(&state, &room_id, &visitor).await?;
    let mentions = match &form.mentions {
        None => Vec::new(),
        Some(ids) => {
            let room = admitted_room(&state, &room_id, &visitor).await?;
            mentioned(&state, &room, Some(ids)).await?
        }
    };
    let poster = visitor.user;
    // The writer checks that the poster may post here, in the transaction
    // that stores the message: no read before it on the hot path.
    let posted = state
        .writer
        .post(NewEvent {
            chat: Some(chat),
            client_id,
            reply_to,
            mentions,
            ..NewEvent::by(poster, &room_id, Kind::Chat)
        })
        .await?;
    Ok(format.done_in_room(posted_status(&posted), posted.record(), &room_id))
}

/// The body of `POST /rooms/{id}/whispers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "Xq3mP0aZ7rT2vB8k", "chat": "psst"}))]
pub struct WhisperForm {
    /// The id of a user present in the room, not the sender.
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{8,32}$")]
    to: Option<String>,
    #[schema(required = true, schema_with = chat_schema)]
    chat: Option<String>,
    /// As a message's.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(schema_with = reply_to_schema)]
    reply_to: Option<Loose>,
    #[serde(default, deserialize_with = "IdList::present")]
    #[schema(schema_with = mentions_schema)]
    mentions: Option<IdList>,
}

impl WhisperForm {
    /// The message and `client_id` (as [`ChatForm::check`]) and the id of
    /// whom it goes to: 422 when `to` is missing, 409 when it is the
    /// sender, `me`.
    pub fn check(&self, me: &str) -> AppResult<(String, Option<String>, &str)> {
        let chat = bounded_text("chat", self.chat.as_deref().unwrap_or(""), MAX_CHAT_CHARS)?;
        let client_id = check_client_id(self.client_id.as_deref())?;
        let to = self.to.as_deref().map(str::trim).unwrap_or("");
        if to.is_empty() {
            return Err(AppError::invalid("to is required: whom to whisper to"));
        }
        if to == me {
            return Err(AppError::conflict("you cannot whisper to yourself"));
        }
        Ok((chat, client_id, to))
    }
}

/// POST /rooms/{id}/whispers: a private message to one present member,
/// seen by the two of them only.
#[utoipa::path(
    post,
    path = "/rooms/{id}/whispers",
    operation_id = "whisper",
    tag = "messages",
    params(RoomPath),
    request_body(content(
        (WhisperForm = "application/json"),
        (WhisperForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "A repeat (same `client_id`): the whisper stored the first time", body = EventRecord),
        (status = CREATED, description = "The stored whisper", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn whisper(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<WhisperForm>,
) -> AppResult<Response> {
    let (chat, client_id, to_id) = form.check(&visitor.user.id)?;
    let reply_to = reply_to(form.reply_to.as_ref())?;
    let room = admitted_room(&state, &room_id, &visitor).await?;
    visit(&state, &room, &visitor.user)?;
    let to = state
        .hub
        .member(&room.id, to_id)
        .ok_or_else(|| AppError::conflict("whispers go to a member present in the room"))?;
    let mentions = mentioned(&state, &room, form.mentions.as_ref()).await?;
    let posted = state
        .writer
        .post(NewEvent {
            chat: Some(chat),
            to: Some(to),
            client_id,
            reply_to,
            mentions,
            ..NewEvent::by(visitor.user, &room.id, Kind::Whisper)
        })
        .await?;
    Ok(format.done_in_room(posted_status(&posted), posted.record(), &room.id))
}

/// The query of `GET /rooms/{id}/messages`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only events older than this event id (absent: up to the newest).
    #[param(value_type = Option<i64>, minimum = 0)]
    before: Option<String>,
    /// Instead, the oldest events newer than this event id (paging
    /// forward from a permalink), oldest first; `before` is then not used.
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
    /// How many events at most.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    limit: Option<String>,
}

/// Which page of history.
pub enum Paging {
    /// The newest before an id (or the newest of all).
    Before(Option<i64>),
    /// The oldest after an id.
    After(i64),
}

impl HistoryQuery {
    /// Which page (`before` an id, `None` for the newest, or `after` one,
    /// which wins) and `limit` (default 50): 400 when not numbers, 422 when
    /// an id is negative (ids never are) or `limit` is not within 1 to 200.
    pub fn check(&self) -> AppResult<(Paging, usize)> {
        let before = cursor_param("before", self.before.as_deref())?;
        let after = cursor_param("after", self.after.as_deref())?;
        let paging = match after {
            Some(after) => Paging::After(after),
            None => Paging::Before(before),
        };
        let limit =
            parse_param::<usize>("limit", self.limit.as_deref())?.unwrap_or(DEFAULT_HISTORY);
        if !(1..=MAX_HISTORY).contains(&limit) {
            return Err(AppError::invalid(format!(
                "limit must be between 1 and {MAX_HISTORY}"
            )));
        }
        Ok((paging, limit))
    }
}

/// A page of history: `{"events": [...], "has_more": bool}`.
#[derive(Serialize, ToSchema)]
pub struct History {
    /// Oldest first, as they are now: changes to messages (`reaction`,
    /// `edit`...) are folded into them, not listed.
    #[schema(max_items = 200)]
    events: Vec<EventRecord>,
    /// Whether older events exist (newer ones, for a page `after`).
    has_more: bool,
}

/// GET /rooms/{id}/messages?before=&limit=: a page of visible history,
/// oldest first (`after=`: forward from an id).
#[utoipa::path(
    get,
    path = "/rooms/{id}/messages",
    operation_id = "room_history",
    tag = "messages",
    params(RoomPath, HistoryQuery),
    responses(
        (status = OK, description = "The newest `limit` visible events before `before`",
            body = History),
        InRoom, Invalid, Ordinary, Failed
    )
)]
async fn history(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<HistoryQuery>,
    visitor: Visitor,
) -> AppResult<Json<History>> {
    let (paging, limit) = query.check()?;
    let room = admitted_room(&state, &room_id, &visitor).await?;
    let user_id = visitor.user.id;
    let (events, has_more) = match paging {
        Paging::Before(before) => state.db.history(&room.id, &user_id, before, limit).await?,
        Paging::After(after) => {
            (state.db)
                .history_after(&room.id, &user_id, after, limit)
                .await?
        }
    };
    Ok(Json(History { events, has_more }))
}
