//! Pages, rendered with maud. Views are pure functions of plain data: no
//! database, no session, no request. maud escapes every interpolated
//! string, so user-given titles, names and messages are safe by
//! construction.
//!
//! - `lobby`: the lobby and the create-room form.
//! - `room`: the chat page, the password form, and the markup of one
//!   message and one member.
//! - `templates`: that markup again, as `<template>`s the browser client
//!   clones for live messages, members and rooms: one source for both.

pub mod lobby;
pub mod room;
mod templates;

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::{model::User, routes::asset_url};

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

/// The frame around every page. `site.js` runs on every page: it
/// removes the `no-js` class (CSS hides script-only controls while it is
/// there) and posts the name form in the header without a reload; `script`
/// is the page's own entry module, if any. Scripts are ES modules: a
/// browser without modules gets the pages as they work without JavaScript.
fn layout(
    title: &str,
    user: Option<&User>,
    flash: Option<&str>,
    script: Option<&str>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" class="no-js" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · gifchat" }
                link rel="stylesheet" href=(asset_url("style.css"));
                // No icon: saves every page a request for /favicon.ico and its 404.
                link rel="icon" href="data:,";
                script type="module" src=(asset_url("site.js")) {}
                @if let Some(script) = script {
                    script type="module" src=(asset_url(script)) {}
                }
            }
            body {
                header.top {
                    a.brand href="/" { span.brand-gif { "gif" } "chat" }
                    @if let Some(user) = user { (me_box(user)) }
                }
                @if let Some(flash) = flash {
                    p.flash role="alert" { (flash) }
                }
                main { (body) }
            }
        }
    }
}

/// Who you are (your color and label) and the form that renames you. Without
/// JavaScript the form posts and the server answers 303.
fn me_box(user: &User) -> Markup {
    html! {
        div.me-box {
            span.me title="You" {
                span.swatch style=(user_colors(user)) {}
                span.me-label { (user.label()) }
            }
            form #name-form method="post" action="/me" {
                label.visually-hidden for="name-input" { "Display name" }
                input #name-input name="name" placeholder=(user.label()) maxlength="32" required
                    autocomplete="nickname" size="12" aria-describedby="name-error";
                button type="submit" { "Set name" }
                span #name-error .form-error role="alert" hidden {}
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

/// A user's name in their color (the stylesheet picks the theme's).
fn user_badge(user: &User) -> Markup {
    html! {
        span.who style=(user_colors(user)) title=(user.color)
            data-color-dark=(user.color_dark) data-user=(user.id) { (user.label()) }
    }
}

/// The user's colors as the stylesheet reads them (`--c`, `--c-dark`);
/// the client's `badge()` sets the same.
fn user_colors(user: &User) -> String {
    format!("--c:{};--c-dark:{}", user.color, user.color_dark)
}
