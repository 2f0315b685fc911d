//! Pages, rendered with maud. Views are pure functions of plain data: no
//! database, no session, no request. maud escapes every interpolated
//! string, so user-given titles, names and messages are safe by
//! construction.
//!
//! - `lobby`: the lobby and the create-room form.
//! - `room`: the chat page, the password form, and the one `message()`
//!   markup shared by history (here) and live messages (`assets/chat.js`
//!   builds the same structure; keep the two in step).

pub mod lobby;
pub mod room;

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::{identity::User, routes::asset_url};

/// What every page knows: who is looking, and a flash message to show.
pub struct Page<'a> {
    pub user: &'a User,
    pub flash: Option<String>,
}

impl<'a> Page<'a> {
    pub fn new(user: &'a User, flash: Option<String>) -> Self {
        Self { user, flash }
    }
}

/// The frame around every page.
fn layout(
    title: &str,
    user: Option<&User>,
    flash: Option<&str>,
    script: Option<&str>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · gifchat" }
                link rel="stylesheet" href=(asset_url("style.css"));
                // No icon: saves every page a request for /favicon.ico and its 404.
                link rel="icon" href="data:,";
                @if let Some(script) = script {
                    script src=(asset_url(script)) defer {}
                }
            }
            body {
                header.top {
                    a.brand href="/" { "gifchat" }
                    @if let Some(user) = user {
                        span.me title="You" {
                            span.swatch style={ "background:" (user.color) } {}
                            span.me-label { (user.label()) }
                        }
                    }
                }
                @if let Some(flash) = flash {
                    p.flash role="alert" { (flash) }
                }
                main { (body) }
            }
        }
    }
}

/// An error page for browsers (JSON clients get `{"error","message"}`).
pub fn error_page(status: StatusCode, message: &str, user: Option<&User>) -> Markup {
    let heading = status.canonical_reason().unwrap_or("Error");
    layout(
        heading,
        user,
        None,
        None,
        html! {
            section.error-page {
                h1 { (status.as_u16()) " · " (heading) }
                p { (message) }
                p { a href="/" { "Back to the lobby" } }
            }
        },
    )
}

/// A user's name in their color.
fn user_badge(user: &User) -> Markup {
    html! {
        span.who style={ "color:" (user.color) } title=(user.color) { (user.label()) }
    }
}
