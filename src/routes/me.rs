//! The caller's own identity: read it, set a display name.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
};
use serde::Deserialize;

use crate::{
    db::writer::Change,
    error::AppResult,
    identity::{MAX_NAME_CHARS, User, Visitor},
    routes::{
        errors::referer_path,
        negotiate::{Format, Input, bounded_name},
    },
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/me", get(me).post(set_name))
}

/// GET /me: the caller's user object.
async fn me(visitor: Visitor) -> Json<User> {
    Json(visitor.user)
}

#[derive(Deserialize)]
struct NameForm {
    name: Option<String>,
}

/// POST /me: sets the display name shown from now on.
async fn set_name(
    State(state): State<AppState>,
    format: Format,
    headers: HeaderMap,
    mut visitor: Visitor,
    Input(form): Input<NameForm>,
) -> AppResult<Response> {
    let name = bounded_name("name", form.name.as_deref().unwrap_or(""), MAX_NAME_CHARS)?;
    visitor.set_name(Some(name)).await?;
    state
        .writer
        .apply(Change::Rename {
            user: visitor.user.clone(),
        })
        .await?;
    // A browser goes back to the page its header form was on.
    let back = referer_path(&headers).unwrap_or_else(|| "/".to_owned());
    Ok(format.created(StatusCode::OK, &visitor.user, &back))
}
