//! Cross-site request refusal: a state-changing request that a browser
//! marks as coming from another site gets 403 `forbidden` before anything
//! else runs, HTML forms included, so nothing is stored.
//!
//! The browser's own word is used first: `Sec-Fetch-Site` (sent by every
//! current browser) must be `same-origin` or `none` (typed by the user).
//! Without it, an `Origin` header must name this host. Requests with
//! neither header are not from a browser page (curl, scripts) and pass:
//! there is no ambient authority to abuse there.

use axum::{
    extract::Request,
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};

use crate::{
    error::AppError,
    routes::{bots::bot_key, negotiate::Format},
    views,
};

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    // A bot's key in the path is its credential: no cookie, nothing ambient
    // to abuse, whatever page sends it.
    let keyed = bot_key(request.uri().path()).is_some();
    if is_state_changing(request.method()) && !keyed && is_cross_site(request.headers()) {
        let error = AppError::forbidden("cross-site requests are refused");
        if Format::error_wants_html(request.headers()) {
            let page = views::error_page(error.status(), &error.to_string(), None);
            return (error.status(), Html(page.into_string())).into_response();
        }
        return error.into_response();
    }
    next.run(request).await
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    // `Origin: null` (sandboxed frames, some redirects) never matches.
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_browsers_fetch_site_header_decides_first() {
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&headers(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://chat.example"),
            ("host", "chat.example"),
        ])));
    }

    #[test]
    fn without_it_the_origin_must_be_this_host() {
        let ours = headers(&[
            ("origin", "http://127.0.0.1:8005"),
            ("host", "127.0.0.1:8005"),
        ]);
        assert!(!is_cross_site(&ours));
        let theirs = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8005"),
        ]);
        assert!(is_cross_site(&theirs));
        assert!(is_cross_site(&headers(&[
            ("origin", "null"),
            ("host", "a")
        ])));
    }

    #[test]
    fn requests_without_either_header_are_not_from_a_page() {
        assert!(!is_cross_site(&headers(&[("host", "127.0.0.1:8005")])));
    }
}
