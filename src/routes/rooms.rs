//! Rooms: create, open, join with a password, list members, delete.

use argon2::{
    Argon2, PasswordHash, PasswordVerifier,
    password_hash::{PasswordHasher, SaltString, rand_core::OsRng},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rand::{Rng, distr::Alphanumeric};
use serde::Deserialize;
use serde_json::json;

use crate::{
    db::{
        self,
        rooms::{Access, RoomRow},
        writer::{Change, now},
    },
    error::{AppError, AppResult},
    flash,
    identity::Visitor,
    routes::{
        access::{admit, admitted_room, owned_room, room_access},
        negotiate::{Format, Input, Loose, bounded_text},
    },
    state::AppState,
    views,
};

pub const MAX_TITLE_CHARS: usize = 100;
pub const DEFAULT_MAX_MEMBERS: i64 = 10;
pub const MEMBERS_RANGE: std::ops::RangeInclusive<i64> = 2..=10_000;
const MAX_PASSWORD_CHARS: usize = 200;
/// Messages a room page shows before the live ones.
const PAGE_MESSAGES: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms", post(create))
        .route("/rooms/new", get(new_form))
        .route("/rooms/{id}", get(open).delete(delete))
        .route("/rooms/{id}/join", post(join))
        .route("/rooms/{id}/members", get(members))
}

/// GET /rooms/new: the create-room form.
async fn new_form(visitor: Visitor) -> AppResult<Response> {
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    Ok(views::lobby::new_room(&page).into_response())
}

#[derive(Deserialize)]
struct NewRoom {
    title: Option<String>,
    max: Option<Loose>,
    password: Option<String>,
}

/// POST /rooms: creates a room owned by (and admitting) the caller.
async fn create(
    State(state): State<AppState>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<NewRoom>,
) -> AppResult<Response> {
    let title = bounded_text(
        "title",
        form.title.as_deref().unwrap_or(""),
        MAX_TITLE_CHARS,
    )?;
    let max = Loose::whole("max", form.max.as_ref())?.unwrap_or(DEFAULT_MAX_MEMBERS);
    if !MEMBERS_RANGE.contains(&max) {
        return Err(AppError::invalid(format!(
            "max must be between {} and {}",
            MEMBERS_RANGE.start(),
            MEMBERS_RANGE.end()
        )));
    }
    let password_hash = match form.password.as_deref().filter(|p| !p.is_empty()) {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let room = RoomRow {
        id: new_room_id(),
        title,
        max: max as u32,
        password_hash,
        owner: visitor.user.clone(),
        created_at: now(),
    };
    let room = state.writer.create_room(room).await?;
    let location = format!("/rooms/{}", room.id);
    Ok(format.created(StatusCode::CREATED, &room.public(0), &location))
}

/// GET /rooms/{id}: the chat page with the latest messages, or the password
/// form of a private room.
async fn open(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let (room, access) = room_access(&state, &room_id, &visitor.user).await?;
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    if access == Access::NeedsPassword && format == Format::Html {
        let public = room.public(state.hub.member_count(&room.id));
        return Ok(views::room::password(&page, &public).into_response());
    }
    admit(access)?;
    if state.hub.is_full_for(&room, &visitor.user) {
        return Err(AppError::RoomFull);
    }
    let (id, user_id) = (room.id.clone(), visitor.user.id.clone());
    let (cursor, (events, has_more)) = state
        .db
        .read(move |conn| {
            let newest = db::events::newest_id(conn)?;
            let page = db::events::page(conn, &id, &user_id, None, PAGE_MESSAGES)?;
            Ok((newest, page))
        })
        .await?;
    // Anything committed between the two reads is on the page: the client
    // resumes after whichever is newer, and skips ids it already shows.
    let cursor = events.last().map_or(cursor, |e| e.id.max(cursor));
    let members = state.hub.members(&room);
    let public = room.public(members.count);
    if format == Format::Json {
        let body = json!({
            "room": public, "events": events, "has_more": has_more,
            "last_event_id": cursor, "members": members, "me": visitor.user,
        });
        return Ok(Json(body).into_response());
    }
    let view = views::room::RoomPage {
        room: &public,
        events: &events,
        has_more,
        members: &members,
        cursor,
    };
    Ok(views::room::room(&page, &view).into_response())
}

#[derive(Deserialize)]
struct JoinForm {
    password: Option<String>,
}

/// POST /rooms/{id}/join: admits the caller (checking a private room's
/// password).
async fn join(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<JoinForm>,
) -> AppResult<Response> {
    let (room, access) = room_access(&state, &room_id, &visitor.user).await?;
    if access == Access::Banned {
        return Err(AppError::Kicked);
    }
    if access == Access::NeedsPassword {
        let given = form.password.unwrap_or_default();
        let hash = room.password_hash.clone().unwrap_or_default();
        if !verify_password(given, hash).await? {
            return Err(AppError::WrongPassword);
        }
    }
    if state.hub.is_full_for(&room, &visitor.user) {
        return Err(AppError::RoomFull);
    }
    if access == Access::NeedsPassword {
        let change = Change::Admit {
            room_id: room.id.clone(),
            user_id: visitor.user.id.clone(),
        };
        state.writer.apply(change).await?;
    }
    let public = room.public(state.hub.member_count(&room.id));
    Ok(format.created(StatusCode::OK, &public, &format!("/rooms/{}", room.id)))
}

/// GET /rooms/{id}/members: who is present now.
async fn members(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    visitor: Visitor,
) -> AppResult<Response> {
    let room = admitted_room(&state, &room_id, &visitor.user).await?;
    Ok(Json(state.hub.members(&room)).into_response())
}

/// DELETE /rooms/{id}: the owner deletes the room and everything in it.
async fn delete(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    visitor: Visitor,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor.user).await?;
    state
        .writer
        .apply(Change::DeleteRoom { room_id: room.id })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn new_room_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

/// Argon2 is deliberately slow: it runs on the blocking pool.
async fn hash_password(password: &str) -> AppResult<String> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}").into()))
    })
    .await?
}

async fn verify_password(given: String, hash: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::Internal(format!("stored password hash: {e}").into()))?;
        Ok(Argon2::default()
            .verify_password(given.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}
