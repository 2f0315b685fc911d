//! The error-rendering middleware: the only place where a failed response
//! gets side effects. It logs internal causes, and for browsers it turns the
//! JSON error into what a person should see: a flash message and a 303 back
//! for form posts (and for a full room), an HTML error page otherwise.

use axum::{
    extract::Request,
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

use crate::{error::ErrorInfo, flash, identity::User, routes::negotiate::Format, views};

pub async fn render_errors(request: Request, next: Next) -> Response {
    let wants_html = Format::error_wants_html(request.headers());
    let is_get = request.method() == Method::GET || request.method() == Method::HEAD;
    let back = same_site_referer(&request);
    let session = request.extensions().get::<Session>().cloned();

    let response = next.run(request).await;
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

/// The path of the page the form was on, when it is one of ours.
fn same_site_referer(request: &Request) -> Option<String> {
    let referer = request.headers().get(header::REFERER)?.to_str().ok()?;
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let path = rest.strip_prefix(host)?;
    path.starts_with('/').then(|| path.to_owned())
}
