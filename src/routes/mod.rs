//! The HTTP edge, as a table of contents: each feature owns its handlers
//! and its `routes()`, merged here.
//!
//! | file          | routes                                                  |
//! |---------------|---------------------------------------------------------|
//! | `lobby`       | `GET /`, `GET /rooms`                                   |
//! | `rooms`       | `POST /rooms`, `GET /rooms/new`, `GET|DELETE /rooms/{id}`, `POST /rooms/{id}/join`, `GET /rooms/{id}/members` |
//! | `messages`    | `POST|GET /rooms/{id}/messages`, `POST /rooms/{id}/whispers` |
//! | `edits`       | `PATCH|DELETE /rooms/{id}/events/{event}`: edit, delete a message |
//! | `reactions`   | `POST /rooms/{id}/events/{event}/reactions`, `DELETE .../reactions/{reaction}` |
//! | `typing`      | `POST /rooms/{id}/typing`: "alice is typing…"          |
//! | `reads`       | `POST /rooms/{id}/read`: unread counts                  |
//! | `search`      | `GET /rooms/{id}/search?q=`                             |
//! | `moderation`  | `POST /rooms/{id}/kick`, `POST /rooms/{id}/owner`       |
//! | `stream`      | `GET /rooms/{id}/events`, `GET /events` (SSE)           |
//! | `many_rooms`  | `GET /events?rooms=...`: one stream for many rooms      |
//! | `poll`        | `GET /rooms/{id}/poll`, `GET /poll` (long-polling)      |
//! | `steady`      | a room poll repeated on its connection, without the middleware |
//! | `me`          | `GET|POST /me`                                          |
//! | `ops`         | `GET /healthz`, `GET /metrics`                          |
//! | `uploads`     | `POST /rooms/{id}/gifs`, `GET /gif/{file}`              |
//! | `bots`        | `POST /rooms/{id}/bots`, `POST .../bots/{key}/messages|gifs`, `DELETE .../bots/{key}` |
//! | `assets`      | `GET /assets/{release}/{*name}`, `GET /assets/{name}`  |
//! | `openapi`     | `GET /openapi.json`: the document of all the above      |
//!
//! Each feature's `routes()` registers its handlers with utoipa-axum's
//! `routes!`, from their `#[utoipa::path]`: the router below and the
//! OpenAPI document are built by the same calls. Pages for people only
//! (`GET /rooms/new`, the assets) are routed without being documented.
//!
//! Helpers shared by the features: `negotiate` (JSON or HTML, form or JSON
//! bodies), `references` (a post's `reply_to` and `mentions`), `access` (admission checks), `visits` (page views and posts as
//! presence), `errors` (rendering failures for browsers), `logging` (one
//! line per request).

mod access;
mod assets;
mod bots;
mod cross_site;
mod edits;
mod errors;
pub mod limits;
mod lobby;
mod logging;
mod many_rooms;
mod me;
pub mod messages;
mod moderation;
pub mod negotiate;
pub mod openapi;
pub mod ops;
mod poll;
pub mod poll_answers;
mod reactions;
mod reads;
mod references;
pub mod rooms;
mod search;
mod steady;
mod stream;
mod typing;
pub mod uploads;
mod visits;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    middleware,
};
use tower::util::MapResponseLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::{sessions::SessionLayer, state::AppState};

pub use assets::url as asset_url;
pub use steady::{Poller, REVALIDATE, SteadyPolls};
pub use stream::{ServedDirectly, is_room_poll_path, is_stream_path};

/// Largest form or JSON body: a 2,000-character message, percent-encoded,
/// fits with room to spare.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What pages may load and who may frame them. Scripts come from this
/// server only (there is no inline script, so an injected one cannot run);
/// styles too, except `style` attributes, which the views use for each
/// user's colour and a GIF's reserved width; no page may be framed.
const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'",
);
/// Links to other sites do not carry our paths (room ids) along.
const REFERRER_POLICY: HeaderValue = HeaderValue::from_static("same-origin");

/// Sets [`CONTENT_SECURITY_POLICY`] and [`REFERRER_POLICY`]: one layer for
/// both, and a plain function, because every layer costs every request
/// (a waiting poll included) a boxed future, and an `async` one more.
pub(crate) fn page_policies(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(CONTENT_SECURITY_POLICY);
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(REFERRER_POLICY);
    response
}

pub fn router(state: AppState, sessions: SessionLayer) -> Router {
    // Ordinary requests answer within the request timeout.
    let ordinary = OpenApiRouter::default()
        .merge(lobby::routes())
        .merge(rooms::routes())
        .merge(messages::routes())
        .merge(edits::routes())
        .merge(reactions::routes())
        .merge(typing::routes())
        .merge(reads::routes())
        .merge(bots::routes())
        .merge(search::routes())
        .merge(moderation::routes())
        .merge(me::routes())
        .merge(ops::routes(state.config.metrics_addr.is_none()))
        .merge(assets::routes().into())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_time,
        ));
    // Streams and polls are long by design: they are capped per address.
    let long_lived =
        stream::routes()
            .merge(poll::routes())
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_streams,
            ));
    let (routes, api) = OpenApiRouter::with_openapi(openapi::root())
        .merge(ordinary)
        .merge(long_lived)
        // Uploads bound their body's size and stream it at the client's pace.
        .merge(uploads::routes())
        .merge(bots::upload_routes())
        .split_for_parts();
    Router::new()
        .merge(routes)
        // The document of every route above, rendered once, now.
        .merge(openapi::serve(api))
        .fallback(|| async { crate::error::AppError::not_found("page") })
        // Layers run outside-in, from the last added to the first:
        // 7. form and JSON bodies are small (uploads set their own limit);
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // 6. posts are rate-limited per session and per address;
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_posts,
        ))
        // 5. browsers get HTML error pages and flash messages (needs the
        //    session, so it sits inside the session layer);
        .layer(middleware::from_fn(errors::render_errors))
        // 4. the session cookie is read and the session saved;
        .layer(sessions)
        // 3. cross-site state changes are refused before any session work;
        .layer(middleware::from_fn(cross_site::refuse_cross_site))
        // 2. every answer says what its page may load, and where from;
        .layer(MapResponseLayer::new(page_policies))
        // 1. every request is logged with its client address and latency.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            logging::log_requests,
        ))
        .with_state(state)
}
