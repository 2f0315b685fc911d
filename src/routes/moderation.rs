//! The owner's powers: kicking a member out for the life of the room,
//! handing ownership over, and the room's settings (locked against
//! newcomers, its password, its size).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::writer::RoomSettings,
    error::{AppError, AppResult},
    identity::Visitor,
    model::{EventRecord, NewEvent, User},
    routes::{
        access::owned_room,
        negotiate::{Format, Input, Loose, Maybe, whitespace_class},
        openapi::{Conflict, Failed, InRoom, Ordinary, Posted, Unavailable},
        rooms::{MAX_PASSWORD_CHARS, MEMBERS_RANGE, RoomPath, max_schema},
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(kick))
        .routes(routes!(hand_over))
        .routes(routes!(settings))
}

/// A yes or no, as JSON (`true`) or a form (`true`, `on`, `1`...) says it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Flag>, D::Error> {
        <Flag as Deserialize>::deserialize(d).map(Some)
    }

    /// 422 for text that says neither.
    fn value(field: &str, flag: Option<&Flag>) -> AppResult<Option<bool>> {
        match flag {
            None => Ok(None),
            Some(Flag::Bool(value)) => Ok(Some(*value)),
            Some(Flag::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "1" | "yes" => Ok(Some(true)),
                "false" | "off" | "0" | "no" => Ok(Some(false)),
                _ => Err(AppError::invalid(format!("{field} must be true or false"))),
            },
        }
    }
}

fn flag_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::{
        Type,
        schema::{ObjectBuilder, OneOfBuilder},
    };
    let space = whitespace_class();
    let words =
        "[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Nn]|[Oo][Ff][Ff]|1|0|[Yy][Ee][Ss]|[Nn][Oo]";
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{space}*(?:{words}){space}*$"))),
        )
        .into()
}

/// The body of `POST /rooms/{id}/settings`: any of its fields.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"locked": true, "max": 5}))]
struct SettingsForm {
    /// Lock the room: nobody new may come in (those present, and the
    /// owner, may).
    #[serde(default, deserialize_with = "Flag::present")]
    #[schema(schema_with = flag_schema)]
    locked: Option<Flag>,
    /// A new password (empty: none, the room is open to all).
    #[schema(max_length = 200)]
    password: Option<String>,
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(schema_with = max_schema)]
    max: Option<Loose>,
}

/// POST /rooms/{id}/settings: the owner locks or unlocks the room, sets
/// or clears its password, changes its size; a stored `system` notice
/// says what changed.
#[utoipa::path(
    post,
    path = "/rooms/{id}/settings",
    operation_id = "room_settings",
    tag = "moderation",
    params(RoomPath),
    request_body(content(
        (Option<SettingsForm> = "application/json"),
        (Option<SettingsForm> = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Changed: the stored notice", body = EventRecord),
        (status = NO_CONTENT, description = "Nothing to change: it was so already"),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Unavailable, Ordinary, Failed
    )
)]
async fn settings(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(Maybe(form)): Input<Maybe<SettingsForm>>,
) -> AppResult<Response> {
    let form = form.unwrap_or_default();
    let locked = Flag::value("locked", form.locked.as_ref())?;
    let max = match Loose::whole("max", form.max.as_ref())? {
        Some(max) if !MEMBERS_RANGE.contains(&max) => {
            return Err(AppError::invalid(format!(
                "max must be between {} and {}",
                MEMBERS_RANGE.start(),
                MEMBERS_RANGE.end()
            )));
        }
        // In the range, so it fits.
        max => max.map(|max| max as u32),
    };
    let password = form.password;
    if password
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_PASSWORD_CHARS)
    {
        return Err(AppError::invalid(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let room = owned_room(&state, &room_id, &visitor).await?;
    // A form sends every field: what is as it was changes nothing.
    let locked = locked.filter(|locked| *locked != room.locked);
    let max = max.filter(|max| *max != room.max);
    if locked.is_none() && max.is_none() && password.is_none() {
        return Ok(match format {
            Format::Json => StatusCode::NO_CONTENT.into_response(),
            Format::Html => format.done_in_room(StatusCode::SEE_OTHER, &(), &room.id),
        });
    }
    let password_hash = match password {
        None => None,
        Some(password) if password.is_empty() => Some(None),
        Some(password) => Some(Some(state.passwords.hash(password).await?)),
    };
    let mut said = Vec::new();
    match locked {
        Some(true) => said.push("locked the room".to_owned()),
        Some(false) => said.push("unlocked the room".to_owned()),
        None => {}
    }
    match &password_hash {
        Some(Some(_)) if room.is_private() => said.push("changed the password".to_owned()),
        Some(Some(_)) => said.push("set a password".to_owned()),
        Some(None) => said.push("removed the password".to_owned()),
        None => {}
    }
    if let Some(max) = max {
        said.push(format!("set the maximum to {max}"));
    }
    let text = format!("{} {}", visitor.user.label(), in_words(&said));
    let record = state
        .writer
        .room_settings(RoomSettings {
            room_id: room.id.clone(),
            locked,
            password_hash,
            max,
            present: state.hub.member_ids(&room.id),
            notice: NewEvent::system(&room.id, text),
        })
        .await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}

/// "a, b and c".
fn in_words(parts: &[String]) -> String {
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The body of `POST /rooms/{id}/kick` and `POST /rooms/{id}/owner`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user": "Xq3mP0aZ7rT2vB8k"}))]
struct Target {
    /// The user's id (not the owner's own).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{8,32}$")]
    user: Option<String>,
}

impl Target {
    fn id(&self) -> AppResult<&str> {
        required_user(self.user.as_deref())
    }
}

fn required_user(id: Option<&str>) -> AppResult<&str> {
    let id = id.map(str::trim).unwrap_or("");
    if id.is_empty() {
        return Err(AppError::invalid("user is required"));
    }
    Ok(id)
}

/// The body of `POST /rooms/{id}/kick`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user": "Xq3mP0aZ7rT2vB8k", "block_address": true}))]
struct KickForm {
    /// The user's id (not the owner's own).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{8,32}$")]
    user: Option<String>,
    /// Keep the client addresses they came from out of the room as well,
    /// for the room's life (a fresh cookie does not let them back in).
    #[serde(default, deserialize_with = "Flag::present")]
    #[schema(schema_with = flag_schema)]
    block_address: Option<Flag>,
}

impl KickForm {
    fn id(&self) -> AppResult<&str> {
        required_user(self.user.as_deref())
    }
}

/// POST /rooms/{id}/kick: the owner bans a user from the room: their
/// streams get `kicked` and close, and their posts and re-joins get 403.
#[utoipa::path(
    post,
    path = "/rooms/{id}/kick",
    operation_id = "kick",
    tag = "moderation",
    params(RoomPath),
    request_body(content(
        (KickForm = "application/json"),
        (KickForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Kicked: the stored notice", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn kick(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<KickForm>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor).await?;
    let target_id = target.id()?.to_owned();
    if target_id == visitor.user.id {
        return Err(AppError::conflict("the owner cannot kick themselves"));
    }
    let user = match state.hub.member(&room.id, &target_id) {
        Some(user) => user,
        None => {
            // Someone who posted (a cookie-less poster, say) without being
            // present can still be kicked.
            let (id, user_id) = (room.id.clone(), target_id.clone());
            state
                .db
                .last_seen_user(&id, &user_id)
                .await?
                .ok_or_else(|| AppError::conflict("that user is not in this room"))?
        }
    };
    // Their address too, on request: a fresh cookie would be a new user.
    let addresses = match Flag::value("block_address", target.block_address.as_ref())? {
        Some(true) => (state.hub.addresses(&room.id, &user.id).iter())
            .map(|addr| addr.to_string())
            .collect(),
        _ => Vec::new(),
    };
    let notice = NewEvent::system(&room.id, format!("{} was kicked out", user.label()));
    let record = state.writer.ban(user, addresses, notice).await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}

/// POST /rooms/{id}/owner: the owner hands the room to a present member.
#[utoipa::path(
    post,
    path = "/rooms/{id}/owner",
    operation_id = "hand_over",
    tag = "moderation",
    params(RoomPath),
    request_body(content(
        (Target = "application/json"),
        (Target = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Handed over: the stored notice", body = EventRecord),
        (status = SEE_OTHER, description = "A form post: back to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn hand_over(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    visitor: Visitor,
    Input(target): Input<Target>,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor).await?;
    let target_id = target.id()?;
    if target_id == visitor.user.id {
        return Err(AppError::conflict("you already own this room"));
    }
    let owner: User = state
        .hub
        .member(&room.id, target_id)
        .ok_or_else(|| AppError::conflict("ownership goes to a member present in the room"))?;
    let text = format!(
        "{} handed the room to {}",
        visitor.user.label(),
        owner.label()
    );
    let notice = NewEvent::system(&room.id, text);
    let record = state.writer.set_owner(owner, notice).await?;
    Ok(format.done_in_room(StatusCode::OK, &record, &room.id))
}
