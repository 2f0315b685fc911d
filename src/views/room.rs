//! The chat page, the password form of a private room, and the markup of
//! one message.

use maud::{Markup, html};

use super::{Page, layout, user_badge};
use crate::{
    db::rooms::Room,
    events::{EventRecord, Kind},
    hub::MembersSnapshot,
};

/// Everything the chat page shows.
pub struct RoomPage<'a> {
    pub room: &'a Room,
    pub events: &'a [EventRecord],
    pub has_more: bool,
    pub members: &'a MembersSnapshot,
    /// Where the live stream resumes: the page shows everything up to here.
    pub cursor: i64,
}

pub fn room(page: &Page, view: &RoomPage) -> Markup {
    let room = view.room;
    let me = &page.user.id;
    layout(
        &room.title,
        Some(page.user),
        page.flash.as_deref(),
        Some("chat.js"),
        html! {
            section #room .room data-room=(room.id) data-me=(me) data-cursor=(view.cursor)
                data-owner=(room.owner.id) {
                div.room-head {
                    h1 { (room.title) }
                    span #conn-state .conn data-state="connecting" role="status" { "connecting" }
                }
                div.room-body {
                    div.chat {
                        @if view.has_more {
                            p.older { "Older messages are in the history." }
                        }
                        ol #messages aria-live="polite" {
                            @for event in view.events { (message(event, me)) }
                        }
                        form #chat-form method="post" action={ "/rooms/" (room.id) "/messages" } {
                            label.visually-hidden for="chat-input" { "Message" }
                            input #chat-input name="chat" maxlength="2000" required autocomplete="off"
                                placeholder="Say something…" autofocus;
                            button type="submit" { "Send" }
                        }
                    }
                    aside.members {
                        h2 { "Members " span #member-count { (view.members.count) " / " (view.members.max) } }
                        ul #members {
                            @for user in &view.members.members {
                                li data-user=(user.id) {
                                    (user_badge(user))
                                    @if user.id == view.members.owner.id { " " span.owner-mark title="Owner" { "★" } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One message, as history shows it and as `chat.js` builds live ones:
/// `li.msg.msg-<type>` (plus `.mine` for the viewer's own), with the id.
pub fn message(event: &EventRecord, me: &str) -> Markup {
    let mine = event.user.as_ref().is_some_and(|u| u.id == me);
    let kind = event.kind.as_str();
    html! {
        li class={ "msg msg-" (kind) @if mine { " mine" } } data-id=(event.id) {
            @if event.kind == Kind::System {
                span.text { (event.chat.as_deref().unwrap_or("")) }
            } @else {
                @if let Some(user) = &event.user { (user_badge(user)) }
                @if let Some(to) = &event.to {
                    span.to { " → " (user_badge(to)) }
                }
                @if let Some(chat) = &event.chat { span.text { (chat) } }
                @if let Some(gif) = &event.gif { img.gif src=(gif) alt="GIF" loading="lazy"; }
            }
            time datetime=(event.created_at) { (clock(&event.created_at)) }
        }
    }
}

/// `HH:MM` out of an RFC 3339 time (the browser re-renders it locally).
fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..16).unwrap_or("")
}

pub fn password(page: &Page, room: &Room) -> Markup {
    layout(
        &room.title,
        Some(page.user),
        page.flash.as_deref(),
        None,
        html! {
            section.form-page {
                h1 { (room.title) }
                p { "This room is private. Enter its password to join." }
                form method="post" action={ "/rooms/" (room.id) "/join" } {
                    label for="password" { "Password" }
                    input #password name="password" type="password" required autofocus
                        autocomplete="current-password";
                    button type="submit" { "Join" }
                }
            }
        },
    )
}
