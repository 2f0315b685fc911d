//! Static assets (scripts, stylesheet), embedded in the binary so that the
//! one file is the whole server, and served with validators and long cache
//! lifetimes: pages link them with a `?v=<hash>` of their content, so a new
//! release is fetched at once.

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

const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/style.css"),
    },
    Asset {
        name: "site.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/site.js"),
    },
    Asset {
        name: "chat.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/chat.js"),
    },
    Asset {
        name: "lobby.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/lobby.js"),
    },
];

/// Content hash of every asset, computed once.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("{:016x}", fnv1a(asset.body)))
        .collect()
});

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(serve))
}

/// The URL of an asset, with its content version for cache busting.
pub fn url(name: &str) -> String {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => format!("/assets/{name}?v={}", VERSIONS[i]),
        None => format!("/assets/{name}"),
    }
}

/// GET /assets/{name}
async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let index = ASSETS
        .iter()
        .position(|a| a.name == name)
        .ok_or(AppError::not_found("asset"))?;
    let asset = &ASSETS[index];
    let etag = format!("\"{}\"", VERSIONS[index]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
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
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

/// FNV-1a: a tiny, stable content hash (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
