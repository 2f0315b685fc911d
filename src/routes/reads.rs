//! Unread counts: the caller says how far they have read a room. (Their
//! streams and polls move it too, as they deliver: `hub/reads.rs`; the
//! lobby's list and events carry the counts: `routes/lobby.rs`.)

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::{
    ToSchema,
    openapi::{
        Type,
        schema::{ObjectBuilder, OneOfBuilder, Schema},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::ReadMark,
    routes::{
        access::admitted_room,
        negotiate::{Input, Loose, digits_up_to, whole_text_pattern},
        openapi::{Failed, InRoom, Ordinary, Posted, Unavailable},
        rooms::RoomPath,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(mark_read))
}

/// The body of `POST /rooms/{id}/read`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"last_event_id": 42}))]
struct ReadForm {
    /// The id of the newest event read.
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(required = true, schema_with = last_read_schema)]
    last_event_id: Option<Loose>,
}

/// `last_event_id`: an id or 0, as a JSON number or as text (what forms
/// send, read by [`Loose::whole`]; `-0` is 0 too).
fn last_read_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(i64::MAX));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(last_read_pattern()));
    OneOfBuilder::new()
        .item(number)
        .item(text)
        .description(Some("The id of the newest event read"))
        .into()
}

/// `last_event_id` as text (a test holds it to [`last_read`]).
fn last_read_pattern() -> String {
    let nineteen = digits_up_to(&i64::MAX.to_string());
    whole_text_pattern(&format!("[+]?0*(?:[0-9]{{1,18}}|{nineteen})|-0+"), false)
}

/// The position `last_event_id` says: 422 when absent, negative or no
/// whole number.
fn last_read(value: Option<&Loose>) -> AppResult<i64> {
    let last_read = Loose::whole("last_event_id", value)?
        .ok_or_else(|| AppError::invalid("last_event_id is required"))?;
    if last_read < 0 {
        return Err(AppError::invalid("last_event_id must not be negative"));
    }
    Ok(last_read)
}

/// POST /rooms/{id}/read: the caller has read the room up to
/// `last_event_id` (a read position never goes back). Their lobby hears
/// what is left unread (`read` event).
#[utoipa::path(
    post,
    path = "/rooms/{id}/read",
    operation_id = "mark_read",
    tag = "rooms",
    params(RoomPath),
    request_body(content(
        (ReadForm = "application/json"),
        (ReadForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = NO_CONTENT, description = "Stored"),
        InRoom, Posted, Unavailable, Ordinary, Failed
    )
)]
async fn mark_read(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
    Input(form): Input<ReadForm>,
) -> AppResult<StatusCode> {
    let last_read = last_read(form.last_event_id.as_ref())?;
    let room = admitted_room(&state, &room_id, &visitor).await?;
    // Nobody has read what was never written.
    let last_read = last_read.min(state.db.newest_id().await?);
    let mark = ReadMark {
        user_id: visitor.user.id.clone(),
        room_id: room.id.clone(),
        last_read,
    };
    state
        .hub
        .read_position(&room.id, &visitor.user.id)
        .reached(last_read);
    state.writer.mark_read(vec![mark]).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::negotiate::tests::pattern_agrees_with;

    #[test]
    fn the_schema_of_last_event_id_is_what_it_takes() {
        // Found by Schemathesis: "+0.0" was taken, and the schema said
        // only numbers.
        pattern_agrees_with(&last_read_pattern(), |text| {
            last_read(Some(&Loose::Text(text.into()))).is_ok()
        });
        assert_eq!(last_read(Some(&Loose::Text("+0.0".into()))).unwrap(), 0);
    }
}
