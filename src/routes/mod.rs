//! The HTTP edge, as a table of contents: each feature owns its handlers
//! and its `routes()`, merged here.
//!
//! | file          | routes                                                  |
//! |---------------|---------------------------------------------------------|
//! | `lobby`       | `GET /`, `GET /rooms`                                   |
//! | `rooms`       | `POST /rooms`, `GET /rooms/new`, `GET|DELETE /rooms/{id}`, `POST /rooms/{id}/join`, `GET /rooms/{id}/members` |
//! | `messages`    | `POST|GET /rooms/{id}/messages`, `POST /rooms/{id}/whispers` |
//! | `moderation`  | `POST /rooms/{id}/kick`, `POST /rooms/{id}/owner`       |
//! | `stream`      | `GET /rooms/{id}/events`, `GET /events` (SSE)           |
//! | `poll`        | `GET /rooms/{id}/poll`, `GET /poll` (long-polling)      |
//! | `me`          | `GET|POST /me`                                          |
//! | `ops`         | `GET /healthz`                                          |
//! | `assets`      | `GET /assets/{name}`                                    |
//!
//! Helpers shared by the features: `negotiate` (JSON or HTML, form or JSON
//! bodies), `access` (admission checks), `errors` (rendering failures for
//! browsers), `logging` (one line per request).

mod access;
mod assets;
mod errors;
mod lobby;
mod logging;
mod me;
mod messages;
mod moderation;
pub mod negotiate;
mod ops;
mod poll;
mod rooms;
mod stream;

use axum::{Router, middleware};

use crate::{sessions::SessionLayer, state::AppState};

pub use assets::url as asset_url;

pub fn router(state: AppState, sessions: SessionLayer) -> Router {
    Router::new()
        .merge(lobby::routes())
        .merge(rooms::routes())
        .merge(messages::routes())
        .merge(moderation::routes())
        .merge(stream::routes())
        .merge(poll::routes())
        .merge(me::routes())
        .merge(ops::routes())
        .merge(assets::routes())
        .fallback(|| async { crate::error::AppError::not_found("page") })
        // Layers run outside-in, from the last added to the first:
        // 3. browsers get HTML error pages and flash messages (needs the
        //    session, so it sits inside the session layer);
        .layer(middleware::from_fn(errors::render_errors))
        // 2. the session cookie is read and the session saved;
        .layer(sessions)
        // 1. every request is logged with its client address and latency.
        .layer(middleware::from_fn_with_state(state.clone(), logging::log_requests))
        .with_state(state)
}
