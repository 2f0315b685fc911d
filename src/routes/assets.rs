//! Static assets (the stylesheet, the client's ES modules), embedded in the
//! binary so that the one file is the whole server.
//!
//! Pages link them under a path named after the release (a hash of every
//! asset): `/assets/<release>/chat.js`. Modules import each other by
//! relative paths (`./lib/render.js`), which so stay within the same
//! release: a new release is fetched at once, and nothing of an old one is
//! mixed in. Such URLs never change content, so they are cached for a
//! year; any other (an old release's, or `/assets/<name>`) is revalidated.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use std::sync::LazyLock;

use crate::{error::AppError, state::AppState};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("site.js", JS),
    asset!("chat.js", JS),
    asset!("lobby.js", JS),
    asset!("lib/http.js", JS),
    asset!("lib/transport.js", JS),
    asset!("lib/tabs.js", JS),
    asset!("lib/render.js", JS),
    asset!("lib/messages.js", JS),
    asset!("lib/members.js", JS),
    asset!("lib/composer.js", JS),
    asset!("lib/uploads.js", JS),
    asset!("lib/changes.js", JS),
    asset!("lib/actions.js", JS),
    asset!("lib/mentions.js", JS),
    asset!("lib/typing.js", JS),
    asset!("lib/alerts.js", JS),
    asset!("lib/rooms.js", JS),
    asset!("lib/search.js", JS),
    asset!("lib/settings.js", JS),
];

/// Each asset's `ETag`: a hash of its content, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("\"{:016x}\"", fnv1a(FNV_OFFSET, asset.body)))
        .collect()
});

/// The release: a hash of every asset's name and content, computed once.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    let hash = ASSETS
        .iter()
        .zip(ETAGS.iter())
        .fold(FNV_OFFSET, |hash, (asset, etag)| {
            fnv1a(fnv1a(hash, asset.name.as_bytes()), etag.as_bytes())
        });
    format!("{hash:016x}")
});

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{name}", get(unversioned))
        .route("/assets/{release}/{*name}", get(versioned))
}

/// The URL of an asset in this release.
pub fn url(name: &str) -> String {
    format!("/assets/{}/{name}", *RELEASE)
}

/// GET /assets/{release}/{*name}
async fn versioned(
    Path((release, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    serve(&name, release == *RELEASE, &headers)
}

/// GET /assets/{name}
async fn unversioned(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    serve(&name, false, &headers)
}

/// The asset `name`, with its content hash as validator; `immutable` when
/// its URL names this release.
fn serve(name: &str, immutable: bool, headers: &HeaderMap) -> Result<Response, AppError> {
    let index = ASSETS
        .iter()
        .position(|a| a.name == name)
        .ok_or(AppError::not_found("asset"))?;
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag.as_str()));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, continued from `hash`: a tiny, stable content hash (not for
/// security).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
