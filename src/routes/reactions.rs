//! Reactions: adding one to a message (`reaction` event) and taking it
//! back (`unreaction`). Whether the message may take it (there, seen by
//! the caller, not deleted) is the writer's to decide, in the transaction
//! that stores it (`db/targets.rs`).

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::AppResult,
    identity::Visitor,
    model::{EventRecord, Kind, NewEvent},
    routes::{
        access::admitted_room,
        edits::EventPath,
        messages::posted_status,
        negotiate::{Format, Input, bounded_text, bounded_text_schema},
        openapi::{Conflict, Failed, InRoom, Invalid, Ordinary, Posted, StateChange, Unavailable},
    },
    state::AppState,
};

/// Longest reaction, in characters: an emoji (however many code points it
/// is made of) or a short word.
pub const MAX_REACTION_CHARS: usize = 16;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(react))
        .routes(routes!(unreact))
}

/// The body of `POST /rooms/{id}/events/{event}/reactions`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reaction": "👍"}))]
struct ReactionForm {
    #[schema(required = true, schema_with = reaction_schema)]
    reaction: Option<String>,
}

fn reaction_schema() -> utoipa::openapi::schema::Schema {
    bounded_text_schema(
        MAX_REACTION_CHARS,
        "1 to 16 characters once trimmed: an emoji or a word",
    )
}

/// The reaction a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ReactionPath {
    /// The room's id.
    #[param(pattern = "^[A-Za-z0-9]{12}$")]
    id: String,
    /// The message's id.
    #[param(value_type = i64, minimum = 1)]
    event: String,
    /// The reaction, percent-encoded.
    #[param(schema_with = reaction_schema)]
    reaction: String,
}

/// POST /rooms/{id}/events/{event}/reactions: adds the caller's reaction
/// to a message, GIF or whisper: a stored `reaction` event.
#[utoipa::path(
    post,
    path = "/rooms/{id}/events/{event}/reactions",
    operation_id = "react",
    tag = "reactions",
    params(EventPath),
    request_body(content(
        (ReactionForm = "application/json"),
        (ReactionForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "The caller had given this reaction already: the event \
            that gave it; nothing changed", body = EventRecord),
        (status = CREATED, description = "The stored `reaction` event", body = EventRecord, links(
            ("take_back" = (
                operation_id = "unreact",
                parameters(
                    ("id" = "$response.body#/room"),
                    ("event" = "$response.body#/target"),
                    ("reaction" = "$response.body#/chat")
                )
            )),
        )),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn react(
    State(state): State<AppState>,
    Path(path): Path<EventPath>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<ReactionForm>,
) -> AppResult<Response> {
    let target = path.event()?;
    let reaction = bounded_text(
        "reaction",
        form.reaction.as_deref().unwrap_or(""),
        MAX_REACTION_CHARS,
    )?;
    let room = admitted_room(&state, &path.id, &visitor).await?;
    let posted = state
        .writer
        .change_message(NewEvent {
            chat: Some(reaction),
            target: Some(target),
            ..NewEvent::by(visitor.user, &room.id, Kind::Reaction)
        })
        .await?;
    Ok(format.done_in_room(posted_status(&posted), posted.record(), &room.id))
}

/// DELETE /rooms/{id}/events/{event}/reactions/{reaction}: takes the
/// caller's reaction back: a stored `unreaction` event.
#[utoipa::path(
    delete,
    path = "/rooms/{id}/events/{event}/reactions/{reaction}",
    operation_id = "unreact",
    tag = "reactions",
    params(ReactionPath),
    responses(
        (status = OK, description = "The stored `unreaction` event", body = EventRecord),
        InRoom, StateChange, Invalid, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn unreact(
    State(state): State<AppState>,
    Path(ReactionPath {
        id,
        event,
        reaction,
    }): Path<ReactionPath>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let target = EventPath::parse_event(&event)?;
    let reaction = bounded_text("reaction", &reaction, MAX_REACTION_CHARS)?;
    let room = admitted_room(&state, &id, &visitor).await?;
    let posted = state
        .writer
        .change_message(NewEvent {
            chat: Some(reaction),
            target: Some(target),
            ..NewEvent::by(visitor.user, &room.id, Kind::Unreaction)
        })
        .await?;
    Ok(format.done_in_room(axum::http::StatusCode::OK, posted.record(), &room.id))
}
