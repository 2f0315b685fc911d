//! Bots, for scripts and curl users: the owner makes a key; whoever holds
//! it posts to the room as the bot, without a cookie (the key is the
//! credential, so no cross-site check applies: `cross_site.rs`; posts are
//! rate-limited per key: `limits`). The owner can revoke it. Only the
//! key's hash is stored.

use axum::{
    Json,
    extract::{DefaultBodyLimit, Path, Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use blake2::{Blake2s256, Digest};
use rand::{Rng, distr::Alphanumeric};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

use crate::{
    error::{AppError, AppResult},
    identity::Visitor,
    model::{EventRecord, Kind, NewEvent, RoomRow, User},
    routes::{
        access::owned_room,
        limits::ClientAddr,
        messages::{ChatForm, posted_status},
        negotiate::{Format, Input, bounded_name, bounded_name_schema},
        openapi::{Conflict, Failed, InRoom, Ordinary, Posted, StateChange, Unavailable},
        rooms::RoomPath,
        uploads::{GifForm, store_gif},
    },
    state::AppState,
};

/// Longest bot name, as a display name.
const MAX_NAME_CHARS: usize = 32;

/// The ordinary routes (answered within the request timeout).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create_bot))
        .routes(routes!(bot_message))
        .routes(routes!(revoke_bot))
}

/// A bot's GIFs: bound as the room's uploads are (see `uploads.rs`).
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(bot_gif).layer(DefaultBodyLimit::disable()))
}

/// Whether `path` is one a bot posts to (`/rooms/{id}/bots/{key}/...`),
/// and its key.
pub fn bot_key(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/rooms/")?;
    let (_, rest) = rest.split_once("/bots/")?;
    let (key, what) = rest.split_once('/')?;
    matches!(what, "messages" | "gifs").then_some(key)
}

/// The body of `POST /rooms/{id}/bots`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "weather"}))]
struct NewBot {
    #[schema(required = true, schema_with = name_schema)]
    name: Option<String>,
}

fn name_schema() -> utoipa::openapi::schema::Schema {
    bounded_name_schema(
        MAX_NAME_CHARS,
        "The bot's name: 1 to 32 characters once trimmed",
    )
}

/// A bot, made.
#[derive(Serialize, ToSchema)]
struct BotMade {
    /// The room's id.
    room: String,
    /// The bot as its posts show it.
    bot: User,
    /// The credential: shown this once, stored as a hash.
    #[schema(pattern = "^[A-Za-z0-9]{32}$")]
    key: String,
    /// Where it posts messages (`chat`, as the room's messages).
    url: String,
    /// Where it posts GIFs (a `gif` field, as the room's GIFs).
    gifs_url: String,
}

/// A bot's route: the room and the key.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct BotPath {
    /// The room's id.
    #[param(pattern = "^[A-Za-z0-9]{12}$")]
    id: String,
    /// The bot's key.
    #[param(pattern = "^[A-Za-z0-9]{32}$")]
    key: String,
}

/// The stored form of a key.
fn key_hash(key: &str) -> String {
    let hash = Blake2s256::new_with_prefix(b"gifchat bot key\0")
        .chain_update(key.as_bytes())
        .finalize();
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn random(length: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

/// POST /rooms/{id}/bots: the owner makes a bot and its key.
#[utoipa::path(
    post,
    path = "/rooms/{id}/bots",
    operation_id = "create_bot",
    tag = "bots",
    params(RoomPath),
    request_body(content(
        (NewBot = "application/json"),
        (NewBot = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = CREATED, description = "The bot, its key and where it posts", body = BotMade,
            links(
                ("message" = (operation_id = "bot_message", parameters(
                    ("id" = "$response.body#/room"), ("key" = "$response.body#/key")))),
                ("gif" = (operation_id = "bot_gif", parameters(
                    ("id" = "$response.body#/room"), ("key" = "$response.body#/key")))),
                ("revoke" = (operation_id = "revoke_bot", parameters(
                    ("id" = "$response.body#/room"), ("key" = "$response.body#/key")))),
            )),
        InRoom, Posted, Unavailable, Ordinary, Failed
    )
)]
async fn create_bot(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
    Input(form): Input<NewBot>,
) -> AppResult<Response> {
    let name = bounded_name("name", form.name.as_deref().unwrap_or(""), MAX_NAME_CHARS)?;
    let room = owned_room(&state, &room_id, &visitor).await?;
    let key = random(32);
    let bot = User::new(format!("bot{}", random(13)), Some(name));
    (state.writer)
        .create_bot(&room.id, key_hash(&key), bot.clone())
        .await?;
    let base = format!("/rooms/{}/bots/{key}", room.id);
    let made = BotMade {
        room: room.id.clone(),
        bot,
        url: format!("{base}/messages"),
        gifs_url: format!("{base}/gifs"),
        key,
    };
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// The room and the bot a key names: 404 when it names none (revoked,
/// never made, or the room is gone).
async fn bot_of(state: &AppState, room_id: &str, key: &str) -> AppResult<(RoomRow, User)> {
    let not_found = || AppError::not_found("bot");
    let bot = (state.db.bot(room_id, &key_hash(key)).await?).ok_or_else(not_found)?;
    let (room, _) = (state.db)
        .room_with_access(room_id, &bot.id, None)
        .await?
        .ok_or_else(not_found)?;
    Ok((room, bot))
}

/// POST /rooms/{id}/bots/{key}/messages: a message by the bot, without a
/// cookie.
#[utoipa::path(
    post,
    path = "/rooms/{id}/bots/{key}/messages",
    operation_id = "bot_message",
    tag = "bots",
    params(BotPath),
    request_body(content(
        (ChatForm = "application/json"),
        (ChatForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "A repeat (same `client_id`): the event stored the first time", body = EventRecord),
        (status = CREATED, description = "The stored event", body = EventRecord),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn bot_message(
    State(state): State<AppState>,
    Path(BotPath { id, key }): Path<BotPath>,
    Input(form): Input<ChatForm>,
) -> AppResult<Response> {
    let (chat, client_id) = form.check()?;
    let reply_to = form.reply_to()?;
    let (room, bot) = bot_of(&state, &id, &key).await?;
    let mentions = form.mentioned(&state, &room).await?;
    let posted = state
        .writer
        .post(NewEvent {
            chat: Some(chat),
            client_id,
            reply_to,
            mentions,
            ..NewEvent::by(bot, &room.id, Kind::Chat)
        })
        .await?;
    Ok(Format::Json.done_in_room(posted_status(&posted), posted.record(), &room.id))
}

/// POST /rooms/{id}/bots/{key}/gifs: a GIF by the bot, without a cookie.
#[utoipa::path(
    post,
    path = "/rooms/{id}/bots/{key}/gifs",
    operation_id = "bot_gif",
    tag = "bots",
    params(BotPath),
    request_body(content(
        (GifForm = "multipart/form-data", encoding(("gif" = (content_type = "image/gif"))))
    )),
    responses(
        (status = OK, description = "A repeat (same `client_id`): the event stored the first time", body = EventRecord),
        (status = CREATED, description = "The stored `gif` event", body = EventRecord),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn bot_gif(
    State(state): State<AppState>,
    Path(BotPath { id, key }): Path<BotPath>,
    ClientAddr(addr): ClientAddr,
    request: Request,
) -> AppResult<Response> {
    let (room, bot) = bot_of(&state, &id, &key).await?;
    let posted = store_gif(&state, room, bot, addr, request).await?;
    let record = posted.record();
    Ok(Format::Json.done_in_room(posted_status(&posted), record, &record.room))
}

/// DELETE /rooms/{id}/bots/{key}: the owner revokes a bot's key.
#[utoipa::path(
    delete,
    path = "/rooms/{id}/bots/{key}",
    operation_id = "revoke_bot",
    tag = "bots",
    params(BotPath),
    responses(
        (status = NO_CONTENT, description = "Revoked: the key works no more"),
        InRoom, StateChange, Unavailable, Ordinary, Failed
    )
)]
async fn revoke_bot(
    State(state): State<AppState>,
    Path(BotPath { id, key }): Path<BotPath>,
    visitor: Visitor,
) -> AppResult<StatusCode> {
    let room = owned_room(&state, &id, &visitor).await?;
    if !state.writer.delete_bot(&room.id, key_hash(&key)).await? {
        return Err(AppError::not_found("bot"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_paths_name_their_key() {
        assert_eq!(bot_key("/rooms/abc/bots/KEY/messages"), Some("KEY"));
        assert_eq!(bot_key("/rooms/abc/bots/KEY/gifs"), Some("KEY"));
        assert_eq!(
            bot_key("/rooms/abc/bots/KEY"),
            None,
            "revoking is the owner's"
        );
        assert_eq!(bot_key("/rooms/abc/bots"), None);
        assert_eq!(bot_key("/rooms/abc/messages"), None);
    }
}
