//! Operations: the health check.

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// GET /healthz: 200 `ok` while the database answers.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let probe = state
        .db
        .read(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))
        .await;
    match probe {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
