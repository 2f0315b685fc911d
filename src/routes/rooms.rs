//! Rooms: create, open, join with a password, list members, delete.

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
        access::{admitted_room, owned_room, room_access},
        limits::{ClientAddr, rate_limited},
        negotiate::{Format, Input, Loose, bounded_name},
    },
    state::AppState,
    views,
};

pub const MAX_TITLE_CHARS: usize = 100;
pub const DEFAULT_MAX_MEMBERS: i64 = 10;
pub const MEMBERS_RANGE: std::ops::RangeInclusive<i64> = 2..=10_000;
pub const MAX_PASSWORD_CHARS: usize = 200;
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

/// The body of `POST /rooms`, as sent.
#[derive(Deserialize)]
pub struct NewRoom {
    title: Option<String>,
    max: Option<Loose>,
    password: Option<String>,
}

/// A [`NewRoom`] within its bounds.
#[derive(Debug)]
pub struct RoomSpec {
    /// Trimmed, 1 to [`MAX_TITLE_CHARS`] characters.
    pub title: String,
    /// Within [`MEMBERS_RANGE`].
    pub max: u32,
    /// Not empty, at most [`MAX_PASSWORD_CHARS`] characters; `None` for a
    /// public room.
    pub password: Option<String>,
}

impl NewRoom {
    /// Checks the bounds: 422 for the first field out of them.
    pub fn check(self) -> AppResult<RoomSpec> {
        let title = bounded_name(
            "title",
            self.title.as_deref().unwrap_or(""),
            MAX_TITLE_CHARS,
        )?;
        let max = Loose::whole("max", self.max.as_ref())?.unwrap_or(DEFAULT_MAX_MEMBERS);
        if !MEMBERS_RANGE.contains(&max) {
            return Err(AppError::invalid(format!(
                "max must be between {} and {}",
                MEMBERS_RANGE.start(),
                MEMBERS_RANGE.end()
            )));
        }
        let password = self.password.filter(|p| !p.is_empty());
        if password
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_PASSWORD_CHARS)
        {
            return Err(AppError::invalid(format!(
                "password must be at most {MAX_PASSWORD_CHARS} characters"
            )));
        }
        Ok(RoomSpec {
            title,
            // In the range, so it fits.
            max: max as u32,
            password,
        })
    }
}

/// POST /rooms: creates a room owned by (and admitting) the caller.
async fn create(
    State(state): State<AppState>,
    format: Format,
    visitor: Visitor,
    Input(form): Input<NewRoom>,
) -> AppResult<Response> {
    let RoomSpec {
        title,
        max,
        password,
    } = form.check()?;
    let password_hash = match password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let room = RoomRow {
        id: new_room_id(),
        title,
        max,
        password_hash,
        owner: visitor.user.clone(),
        created_at: now(),
    };
    let room = state.writer.create_room(room).await?;
    Ok(format.done_in_room(StatusCode::CREATED, &room.public(0), &room.id))
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
    access.require()?;
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
        max_upload: state.config.max_upload,
    };
    Ok(views::room::room(&page, &view).into_response())
}

#[derive(Deserialize)]
struct JoinForm {
    password: Option<String>,
}

/// POST /rooms/{id}/join: admits the caller (checking a private room's
/// password). Wrong guesses are throttled per address and per room, and
/// checked before any hashing; a password that admits gets the session a
/// new id, so an id seen before the admission is worth nothing after it.
async fn join(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    format: Format,
    ClientAddr(addr): ClientAddr,
    visitor: Visitor,
    Input(form): Input<JoinForm>,
) -> AppResult<Response> {
    let (room, access) = room_access(&state, &room_id, &visitor.user).await?;
    if access == Access::Banned {
        return Err(AppError::Kicked);
    }
    if access == Access::NeedsPassword {
        check_password(&state, &room, addr, form.password.unwrap_or_default()).await?;
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
        visitor.session.cycle_id().await?;
    }
    let public = room.public(state.hub.member_count(&room.id));
    Ok(format.done_in_room(StatusCode::OK, &public, &room.id))
}

/// 403 `wrong_password` unless `given` is the room's password; 429 while
/// `addr` or the room has used up its wrong guesses (logged).
async fn check_password(
    state: &AppState,
    room: &RoomRow,
    addr: std::net::IpAddr,
    given: String,
) -> AppResult<()> {
    let wait = state.limits.guess_wait(&room.id, addr);
    if wait > std::time::Duration::ZERO {
        tracing::warn!(room = %room.id, client = %addr, "password guesses throttled");
        return Err(rate_limited(wait));
    }
    let hash = room.password_hash.clone().unwrap_or_default();
    if state.passwords.verify(given, hash).await? {
        return Ok(());
    }
    state.limits.wrong_guess(&room.id, addr);
    Err(AppError::WrongPassword)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::negotiate::parse_body;

    fn check(content_type: &str, body: &str) -> AppResult<RoomSpec> {
        parse_body::<NewRoom>(content_type, body.as_bytes())?.check()
    }

    #[test]
    fn a_new_room_is_held_to_its_bounds() {
        let spec = check("", "title=+Cats+&max=12&password=").unwrap();
        assert_eq!(
            (spec.title.as_str(), spec.max, spec.password),
            ("Cats", 12, None)
        );
        let json = r#"{"title":"x","max":"3","password":"pw"}"#;
        let spec = check("application/json", json).unwrap();
        assert_eq!((spec.max, spec.password.as_deref()), (3, Some("pw")));
        assert_eq!(check("", "title=x").unwrap().max, 10);
        let long_password = format!("title=x&password={}", "p".repeat(MAX_PASSWORD_CHARS + 1));
        for body in [
            "title=",
            "title=x&max=1",
            "title=x&max=10001",
            "title=x&max=two",
        ] {
            assert_eq!(check("", body).unwrap_err().code(), "invalid", "{body}");
        }
        assert_eq!(check("", &long_password).unwrap_err().code(), "invalid");
        let fractional = r#"{"title":"x","max":2.5}"#;
        assert_eq!(
            check("application/json", fractional).unwrap_err().code(),
            "bad_request"
        );
    }
}
