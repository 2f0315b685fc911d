//! The caller's own identity: read it, set a display name.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;
use utoipa::{ToSchema, openapi::schema::Schema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::AppResult,
    identity::{MAX_NAME_CHARS, Visitor},
    model::User,
    routes::{
        errors::referer_path,
        negotiate::{Format, Input, bounded_name, bounded_name_schema},
        openapi::{Failed, Ordinary, Posted, Unavailable},
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(me, set_name))
}

/// GET /me: the caller's user object.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    tag = "me",
    responses((status = OK, description = "The caller", body = User), Ordinary, Failed)
)]
async fn me(visitor: Visitor) -> Json<User> {
    Json(visitor.user)
}

/// The body of `POST /me`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ana"}))]
struct NameForm {
    #[schema(required = true, schema_with = name_schema)]
    name: Option<String>,
}

fn name_schema() -> Schema {
    bounded_name_schema(MAX_NAME_CHARS, "1 to 32 characters once trimmed")
}

/// POST /me: sets the display name shown from now on.
#[utoipa::path(
    post,
    path = "/me",
    operation_id = "set_name",
    tag = "me",
    request_body(content(
        (NameForm = "application/json"),
        (NameForm = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = OK, description = "The caller, named", body = User),
        (status = SEE_OTHER, description = "A form post: back to the page it was on"),
        Posted, Unavailable, Ordinary, Failed
    )
)]
async fn set_name(
    State(state): State<AppState>,
    format: Format,
    headers: HeaderMap,
    mut visitor: Visitor,
    Input(form): Input<NameForm>,
) -> AppResult<Response> {
    let name = bounded_name("name", form.name.as_deref().unwrap_or(""), MAX_NAME_CHARS)?;
    visitor.set_name(Some(name)).await?;
    state.writer.rename(visitor.user.clone()).await?;
    // A browser goes back to the page its header form was on.
    let back = referer_path(&headers).unwrap_or_else(|| "/".to_owned());
    Ok(format.created(StatusCode::OK, &visitor.user, &back))
}
