//! Rooms: create, open, join with a password, list members, delete.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use rand::{Rng, distr::Alphanumeric};
use serde::{Deserialize, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{
        Type,
        schema::{ObjectBuilder, OneOfBuilder, Schema},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::writer::now,
    error::{AppError, AppResult},
    flash,
    identity::Visitor,
    model::{Access, EventRecord, MembersSnapshot, Room, RoomRow, User},
    routes::{
        access::{admitted_room, has_place_for, owned_room, require, room_access},
        limits::{ClientAddr, rate_limited},
        negotiate::{
            Format, Input, Loose, Maybe, bounded_name, bounded_name_schema, cursor_param,
            whole_text_pattern,
        },
        openapi::{Conflict, Failed, InRoom, Invalid, Ordinary, Posted, StateChange, Unavailable},
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

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create))
        // A page for people, not part of the JSON API: routed, not documented.
        .route("/rooms/new", get(new_form))
        .routes(routes!(open, delete))
        .routes(routes!(join))
        .routes(routes!(members))
}

/// The room a route is about: the `{id}` of its path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RoomPath {
    /// The room's id (as the server made it: 12 letters and digits).
    #[param(pattern = "^[A-Za-z0-9]{12}$")]
    pub id: String,
}

/// GET /rooms/new: the create-room form.
async fn new_form(visitor: Visitor) -> AppResult<Response> {
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    Ok(views::lobby::new_room(&page).into_response())
}

/// The body of `POST /rooms`, as sent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Cats", "max": 10, "password": ""}))]
pub struct NewRoom {
    #[schema(required = true, schema_with = title_schema)]
    title: Option<String>,
    #[serde(default, deserialize_with = "Loose::present")]
    #[schema(schema_with = max_schema)]
    max: Option<Loose>,
    /// Empty or absent: a public room.
    #[schema(max_length = 200)]
    password: Option<String>,
}

fn title_schema() -> Schema {
    bounded_name_schema(MAX_TITLE_CHARS, "1 to 100 characters once trimmed")
}

/// `max`: a whole number within [`MEMBERS_RANGE`], as a JSON number or as
/// text (what forms send, read by [`Loose::whole`]; empty means the
/// default).
pub fn max_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(*MEMBERS_RANGE.start()))
        .maximum(Some(*MEMBERS_RANGE.end()));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(max_pattern()));
    OneOfBuilder::new()
        .item(number)
        .item(text)
        .description(Some("How many users may be present at once: 2 to 10000"))
        .default(Some(DEFAULT_MAX_MEMBERS.into()))
        .into()
}

/// `max` as text: 2 to 10000, spelled out (a test holds it to the check).
fn max_pattern() -> String {
    whole_text_pattern("[+]?0*(?:[2-9]|[1-9][0-9]{1,3}|10000)", true)
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
#[utoipa::path(
    post,
    path = "/rooms",
    operation_id = "create_room",
    tag = "rooms",
    request_body(content(
        (NewRoom = "application/json"),
        (NewRoom = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = CREATED, description = "The room, created", body = Room, links(
            ("open" = (operation_id = "open_room", parameters(("id" = "$response.body#/id")))),
            ("delete" = (operation_id = "delete_room", parameters(("id" = "$response.body#/id")))),
            ("join" = (operation_id = "join_room", parameters(("id" = "$response.body#/id")))),
            ("members" = (operation_id = "room_members", parameters(("id" = "$response.body#/id")))),
            ("history" = (operation_id = "room_history", parameters(("id" = "$response.body#/id")))),
            ("post" = (operation_id = "post_message", parameters(("id" = "$response.body#/id")))),
            ("whisper" = (operation_id = "whisper", parameters(("id" = "$response.body#/id")))),
            ("gif" = (operation_id = "post_gif", parameters(("id" = "$response.body#/id")))),
            ("kick" = (operation_id = "kick", parameters(("id" = "$response.body#/id")))),
            ("typing" = (operation_id = "typing", parameters(("id" = "$response.body#/id")))),
            ("read" = (operation_id = "mark_read", parameters(("id" = "$response.body#/id")))),
            ("search" = (operation_id = "search", parameters(("id" = "$response.body#/id")))),
            ("settings" = (operation_id = "room_settings", parameters(("id" = "$response.body#/id")))),
            ("bots" = (operation_id = "create_bot", parameters(("id" = "$response.body#/id")))),
            ("owner" = (operation_id = "hand_over", parameters(("id" = "$response.body#/id")))),
            ("poll" = (operation_id = "room_poll", parameters(("id" = "$response.body#/id")))),
            ("poll_head" = (operation_id = "room_poll_head", parameters(("id" = "$response.body#/id")))),
            ("events_head" = (operation_id = "room_events_head", parameters(("id" = "$response.body#/id")))),
        )),
        (status = SEE_OTHER, description = "A form post: to the room's page"),
        Posted, Unavailable, Ordinary, Failed
    )
)]
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
        locked: false,
    };
    let room = state.writer.create_room(room).await?;
    Ok(format.done_in_room(StatusCode::CREATED, &room.public(0), &room.id))
}

/// The query of `GET /rooms/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenQuery {
    /// Open the room at this message (a permalink): the page holds the
    /// messages around it rather than the newest.
    #[param(value_type = Option<i64>, minimum = 0)]
    around: Option<String>,
}

/// `GET /rooms/{id}` as JSON: what a client needs to show the room.
#[derive(Serialize, ToSchema)]
pub struct RoomView {
    room: Room,
    /// The latest visible events (or those around `around`), oldest
    /// first, as they are now.
    #[schema(max_items = 50)]
    events: Vec<EventRecord>,
    /// Whether older events exist (`GET /rooms/{id}/messages?before=`).
    has_more: bool,
    /// Whether newer events than the page's exist (`?around=` only:
    /// `GET /rooms/{id}/messages?after=`).
    has_newer: bool,
    /// Where a stream or poll that follows this page resumes.
    #[schema(minimum = 0)]
    last_event_id: i64,
    members: MembersSnapshot,
    /// The caller.
    me: User,
}

/// GET /rooms/{id}: the chat page with the latest messages, or the password
/// form of a private room.
#[utoipa::path(
    get,
    path = "/rooms/{id}",
    operation_id = "open_room",
    tag = "rooms",
    params(RoomPath, OpenQuery),
    responses(
        (status = OK, description = "The room: JSON when asked for, else its page (or the \
            password form of a private room not yet joined)",
            content((RoomView = "application/json"), (String = "text/html"))),
        (status = SEE_OTHER, description = "A browser (`Accept: text/html`) at a full room: \
            back to the lobby, with a flash message"),
        InRoom, Invalid, Conflict, Ordinary, Failed
    )
)]
async fn open(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    Query(query): Query<OpenQuery>,
    format: Format,
    visitor: Visitor,
) -> AppResult<Response> {
    let around = cursor_param("around", query.around.as_deref())?;
    let (room, access) = room_access(&state, &room_id, &visitor).await?;
    let flash = flash::take(&visitor.session).await;
    let page = views::Page::new(&visitor.user, flash);
    if access == Access::NeedsPassword && format == Format::Html {
        let public = room.public(state.hub.member_count(&room.id));
        return Ok(views::room::password(&page, &public).into_response());
    }
    require(access)?;
    has_place_for(&state, &room, &visitor.user)?;
    if format == Format::Html {
        // Looking at the page is being here (`routes/visits.rs`); its
        // script's stream, if it runs, takes over at once.
        state.hub.visit(&room, &visitor.user);
    }
    let (cursor, (events, has_more)) = state
        .db
        .newest_id_and_history(&room.id, &visitor.user.id, PAGE_MESSAGES)
        .await?;
    // Anything committed between the two reads is on the page: the client
    // resumes after whichever is newer, and skips ids it already shows.
    let cursor = events.last().map_or(cursor, |e| e.id.max(cursor));
    // Opening the room is reading it (unread counts).
    (state.hub)
        .read_position(&room.id, &visitor.user.id)
        .reached(cursor);
    // At a message: its page instead, and the client loads the newer ones
    // up to the cursor (live events after it come as ever).
    let (events, has_more, has_newer) = match around {
        None => (events, has_more, false),
        Some(id) => {
            let user = &visitor.user.id;
            let half = PAGE_MESSAGES / 2;
            let before = id.saturating_add(1);
            let (mut older, has_more) =
                state.db.history(&room.id, user, Some(before), half).await?;
            let (newer, has_newer) = state.db.history_after(&room.id, user, id, half).await?;
            older.extend(newer);
            (older, has_more, has_newer)
        }
    };
    let members = state.hub.members(&room);
    let public = room.public(members.count);
    if format == Format::Json {
        let body = RoomView {
            room: public,
            events,
            has_more,
            has_newer,
            last_event_id: cursor,
            members,
            me: visitor.user,
        };
        return Ok(Json(body).into_response());
    }
    let view = views::room::RoomPage {
        room: &public,
        events: &events,
        has_more,
        members: &members,
        cursor,
        max_upload: state.config.max_upload,
        has_newer,
        around,
    };
    Ok(views::room::room(&page, &view).into_response())
}

/// The body of `POST /rooms/{id}/join`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "open sesame"}))]
struct JoinForm {
    /// A private room's password (a public room needs none).
    password: Option<String>,
}

/// POST /rooms/{id}/join: admits the caller (checking a private room's
/// password). Wrong guesses are throttled per address and per room, and
/// checked before any hashing; a password that admits gets the session a
/// new id, so an id seen before the admission is worth nothing after it.
#[utoipa::path(
    post,
    path = "/rooms/{id}/join",
    operation_id = "join_room",
    tag = "rooms",
    params(RoomPath),
    // Optional (and may be `null`): a public room needs no password.
    request_body(content(
        (Option<JoinForm> = "application/json"),
        (Option<JoinForm> = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "Admitted: the room", body = Room),
        (status = SEE_OTHER, description = "A form post: to the room's page"),
        InRoom, Posted, Conflict, Unavailable, Ordinary, Failed
    )
)]
async fn join(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    format: Format,
    ClientAddr(addr): ClientAddr,
    visitor: Visitor,
    Input(Maybe(form)): Input<Maybe<JoinForm>>,
) -> AppResult<Response> {
    let password = form.and_then(|form| form.password);
    let (room, access) = room_access(&state, &room_id, &visitor).await?;
    if access == Access::Banned {
        return Err(AppError::Kicked);
    }
    if access == Access::NeedsPassword {
        check_password(&state, &room, addr, password.unwrap_or_default()).await?;
    }
    has_place_for(&state, &room, &visitor.user)?;
    if access == Access::NeedsPassword {
        state.writer.admit(&room.id, &visitor.user.id).await?;
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
#[utoipa::path(
    get,
    path = "/rooms/{id}/members",
    operation_id = "room_members",
    tag = "rooms",
    params(RoomPath),
    responses(
        (status = OK, description = "Who is present", body = MembersSnapshot),
        InRoom, Ordinary, Failed
    )
)]
async fn members(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
) -> AppResult<Response> {
    let room = admitted_room(&state, &room_id, &visitor).await?;
    Ok(Json(state.hub.members(&room)).into_response())
}

/// DELETE /rooms/{id}: the owner deletes the room and everything in it.
#[utoipa::path(
    delete,
    path = "/rooms/{id}",
    operation_id = "delete_room",
    tag = "rooms",
    params(RoomPath),
    responses(
        (status = NO_CONTENT, description = "Deleted, with its messages and files"),
        InRoom, StateChange, Unavailable, Ordinary, Failed
    )
)]
async fn delete(
    State(state): State<AppState>,
    Path(RoomPath { id: room_id }): Path<RoomPath>,
    visitor: Visitor,
) -> AppResult<Response> {
    let room = owned_room(&state, &room_id, &visitor).await?;
    state.writer.delete_room(&room.id).await?;
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
    use crate::routes::negotiate::{parse_body, tests::pattern_agrees_with};

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
            "invalid"
        );
        let whole = r#"{"title":"x","max":12.0}"#;
        assert_eq!(check("application/json", whole).unwrap().max, 12);
        let huge = r#"{"title":"x","max":1e300}"#;
        assert_eq!(
            check("application/json", huge).unwrap_err().code(),
            "invalid"
        );
        let not_a_number = r#"{"title":"x","max":[3]}"#;
        assert_eq!(
            check("application/json", not_a_number).unwrap_err().code(),
            "bad_request"
        );
    }

    #[test]
    fn the_schema_of_max_spells_out_its_range() {
        pattern_agrees_with(&max_pattern(), |text| {
            let room = NewRoom {
                title: Some("x".into()),
                max: Some(Loose::Text(text.into())),
                password: None,
            };
            room.check().is_ok()
        });
    }
}
