//! Operations: the health check and the metrics.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::AppError,
    routes::openapi::{Failed, Ordinary},
    state::AppState,
};

/// The health check, and the metrics unless they have an address of their
/// own (`--metrics-addr`, served by [`metrics_only`]): only then are they
/// in the document too.
pub fn routes(metrics_here: bool) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::default().routes(routes!(healthz));
    if metrics_here {
        routes.routes(routes!(metrics))
    } else {
        routes
    }
}

/// The router of the `--metrics-addr` listener: `GET /metrics` only.
pub fn metrics_only(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// GET /healthz: 200 `ok` while the database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses(
        (status = OK, description = "The database answers", body = String,
            content_type = "text/plain", example = "ok"),
        (status = SERVICE_UNAVAILABLE, description = "The database does not answer",
            body = String, content_type = "text/plain"),
        Ordinary
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let probe = state.db.ping().await;
    match probe {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// GET /metrics: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = OK, description = "Prometheus text format", body = String,
            content_type = "text/plain"),
        Ordinary, Failed
    )
)]
async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let text = state
        .metrics
        .render()
        .map_err(|e| AppError::Internal(e.to_string().into()))?;
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}
