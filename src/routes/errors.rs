//! The error-rendering middleware: the only place where a failed response
//! gets side effects. It logs internal causes, and for browsers it turns the
//! JSON error into what a person should see: a flash message and a 303 back
//! for form posts (and for a full room), an HTML error page otherwise.
//!
//! A failure made outside our handlers (an extractor's rejection of a
//! malformed query or path, the router's 405) comes as plain text: it is
//! given the JSON shape first, so every error a client sees has it.

use axum::{
    extract::Request,
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

use crate::{
    error::{AppError, ErrorInfo},
    flash,
    model::User,
    routes::negotiate::Format,
    views,
};

pub async fn render_errors(request: Request, next: Next) -> Response {
    let wants_html = Format::error_wants_html(request.headers());
    let is_get = request.method() == Method::GET || request.method() == Method::HEAD;
    let back = referer_path(request.headers());
    let session = request.extensions().get::<Session>().cloned();

    let response = in_error_shape(next.run(request).await).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if let Some(cause) = &info.cause {
        tracing::error!(code = info.code, cause = %cause, "request failed");
    }
    if !wants_html {
        return response;
    }
    let status = response.status();
    let redirect_to = if !is_get {
        Some(back.unwrap_or_else(|| "/".to_owned()))
    } else if status == StatusCode::CONFLICT {
        // A full room sends the visitor back to the lobby, as the original.
        Some("/".to_owned())
    } else {
        None
    };
    match (redirect_to, &session) {
        (Some(location), Some(session)) => {
            flash::set(session, &info.message).await;
            Redirect::to(&location).into_response()
        }
        _ => {
            let page = views::error_page(status, &info.message, None::<&User>);
            (status, Html(page.into_string())).into_response()
        }
    }
}

/// Largest plain-text error body read to become the JSON message.
const MAX_PLAIN_ERROR: usize = 4096;

/// A failed answer without our error shape gets it (see the module docs).
async fn in_error_shape(response: Response) -> Response {
    let status = response.status();
    let ours = response.extensions().get::<ErrorInfo>().is_some();
    if ours || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let mut shaped = AppError::from_status(status, &text).into_response();
    // The status stays what it was (a 416 from the file server, say), and
    // so do the headers it said something with (`Allow` on a 405).
    *shaped.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// The path of the page a form was on, when it is one of ours.
pub fn referer_path(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let path = rest.strip_prefix(host)?;
    // `//evil.example` or `/\evil.example` would redirect off-site.
    let local = path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\");
    local.then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(referer: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "chat.example".parse().unwrap());
        headers.insert(header::REFERER, referer.parse().unwrap());
        headers
    }

    #[test]
    fn only_our_own_pages_are_gone_back_to() {
        let back = |r: &str| referer_path(&headers(r));
        assert_eq!(
            back("http://chat.example/rooms/x").as_deref(),
            Some("/rooms/x")
        );
        assert_eq!(back("https://evil.example/rooms/x"), None);
        assert_eq!(back("http://chat.example.evil/x"), None);
        assert_eq!(back("http://chat.example//evil.example/x"), None);
        assert_eq!(back("http://chat.example/\\evil.example"), None);
    }
}
