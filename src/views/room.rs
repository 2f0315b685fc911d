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
                data-owner=(room.owner.id) aria-labelledby="room-title" {
                div.room-head {
                    a.back href="/" { "← Lobby" }
                    h1 #room-title { (room.title) }
                    span #conn-state .conn data-state="connecting" role="status" { "connecting…" }
                }
                noscript {
                    p.notice { "Live updates need JavaScript. You can still post; reload the page to see new messages." }
                }
                // Filled by chat.js when the visitor is kicked or the room is deleted.
                div #room-notice .notice role="alert" hidden {}
                div.room-body {
                    div.chat {
                        // Shown by chat.js, which fetches the older pages.
                        @if view.has_more {
                            p.older hidden { button #load-older type="button" { "Load older messages" } }
                        }
                        ol #messages aria-live="polite" aria-label="Messages" tabindex="0" {
                            @for event in view.events { (message(event, me)) }
                        }
                        button #new-below .new-below type="button" hidden { "New messages ↓" }
                        form #chat-form method="post" action={ "/rooms/" (room.id) "/messages" } {
                            label.visually-hidden for="chat-input" { "Message" }
                            input #chat-input name="chat" maxlength="2000" required autocomplete="off"
                                placeholder="Say something…" autofocus aria-describedby="chat-error";
                            button type="submit" { "Send" }
                            p #chat-error .form-error role="alert" hidden {}
                        }
                    }
                    (members_panel(view.members))
                }
            }
        },
    )
}

/// The members panel (`chat.js` re-renders it from `members` snapshots). A
/// `details` so that narrow screens can fold it into one line.
fn members_panel(members: &MembersSnapshot) -> Markup {
    let unlisted = members.count.saturating_sub(members.members.len());
    html! {
        aside.members {
            details #members-panel open {
                summary {
                    h2 { "Members " span #member-count { (members.count) " / " (members.max) } }
                }
                ul #members {
                    @for user in &members.members {
                        li data-user=(user.id) {
                            (user_badge(user))
                            @if user.id == members.owner.id { " " span.owner-mark title="Owner" { "★" } }
                        }
                    }
                    @if unlisted > 0 {
                        li.more { "and " (unlisted) " more" }
                    }
                }
            }
        }
    }
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
                @if let Some(gif) = &event.gif {
                    // The size, when known, reserves the GIF's space before it loads.
                    @let (width, height) = (event.gif_info.map(|i| i.width), event.gif_info.map(|i| i.height));
                    img.gif src=(gif) alt="GIF" loading="lazy" width=[width] height=[height];
                }
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
