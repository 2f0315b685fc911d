//! The chat page, the password form of a private room, and the markup of
//! one message.

use maud::{Markup, html};

use super::{Page, layout, user_badge};
use crate::{
    model::MembersSnapshot,
    model::Room,
    model::User,
    model::{EventRecord, GifInfo, Kind, Quote, Reactions},
};

/// Everything the chat page shows.
pub struct RoomPage<'a> {
    pub room: &'a Room,
    pub events: &'a [EventRecord],
    pub has_more: bool,
    pub members: &'a MembersSnapshot,
    /// Where the live stream resumes: the page shows everything up to here.
    pub cursor: i64,
    /// Largest GIF the server takes, in bytes (the client checks before sending).
    pub max_upload: u64,
    /// Opened at a message (`?around=`): newer messages than the page's
    /// exist, for the client to load.
    pub has_newer: bool,
    /// The message the page was opened at, if any.
    pub around: Option<i64>,
}

/// Search in the room: a page of results without JavaScript, a panel with it.
fn search_form(base: &str) -> Markup {
    html! {
        form #search-form .search-form role="search" method="get" action={ (base) "/search" } {
            label.visually-hidden for="search-input" { "Search this room" }
            input #search-input name="q" type="search" placeholder="Search this room"
                maxlength="200" required;
            button type="submit" { "Search" }
        }
    }
}

/// The owner's settings: the room locked or open and its size, its
/// password (a form of its own: empty removes it), and bots. Shown to the
/// owner (chat.js follows ownership); plain forms work without JavaScript.
fn settings_panel(base: &str, room: &Room, is_owner: bool) -> Markup {
    html! {
        details #room-settings .room-settings hidden[!is_owner] {
            summary { "Room settings" }
            form #settings-form method="post" action={ (base) "/settings" } {
                label for="settings-locked" { "Newcomers" }
                select #settings-locked name="locked" {
                    option value="false" selected[!room.locked] { "may come in" }
                    option value="true" selected[room.locked] { "are kept out (locked)" }
                }
                label for="settings-max" { "Maximum members" }
                input #settings-max name="max" type="number" min="2" max="10000" value=(room.max);
                button type="submit" { "Save" }
            }
            form #password-form method="post" action={ (base) "/settings" } {
                label for="settings-password" { "Password " small { "(empty: anyone may come in)" } }
                input #settings-password name="password" type="password" maxlength="200"
                    autocomplete="new-password";
                button type="submit" { "Set password" }
            }
            form #bot-form method="post" action={ (base) "/bots" } {
                label for="bot-name" { "A bot that scripts can post as" }
                input #bot-name name="name" maxlength="32" required placeholder="Bot name";
                button type="submit" { "Make a bot" }
            }
            // The new bot's key and a curl line, filled by chat.js.
            p #bot-made .bot-made hidden {}
        }
    }
}

/// What the reaction picker offers first; any 16 characters will do.
const COMMON_REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "😮", "😢", "🎉", "🙏", "🔥"];

/// The picker a message's react button opens (the client moves it there).
fn reaction_picker() -> Markup {
    html! {
        div #reaction-picker .reaction-picker role="dialog" aria-label="Pick a reaction" hidden {
            @for reaction in COMMON_REACTIONS {
                button.pick type="button" data-reaction=(reaction) aria-label={ "React " (reaction) } {
                    (reaction)
                }
            }
            form #reaction-free {
                label.visually-hidden for="reaction-input" { "Another reaction" }
                input #reaction-input maxlength="16" placeholder="or type one" autocomplete="off";
                button type="submit" { "Add" }
            }
        }
    }
}

pub fn room(page: &Page, view: &RoomPage) -> Markup {
    let room = view.room;
    let me = &page.user.id;
    let is_owner = view.members.owner.id == *me;
    let base = format!("/rooms/{}", room.id);
    layout(
        &room.title,
        Some(page.user),
        page.flash.as_deref(),
        Some("chat.js"),
        html! {
            section #room .room .is-owner[is_owner] data-room=(room.id) data-me=(me) data-cursor=(view.cursor)
                data-around=[view.around]
                data-owner=(view.members.owner.id) aria-labelledby="room-title" {
                div.room-head {
                    a.back href="/" { "← Lobby" }
                    h1 #room-title { (room.title) }
                    span #conn-state .conn data-state="connecting" role="status" { "connecting…" }
                    // Owner only; chat.js shows and hides it as ownership moves.
                    button #delete-room .danger type="button" hidden[!is_owner] { "Delete room" }
                    (search_form(&base))
                }
                // Filled by the search form's script; without it, the
                // form opens a page of results.
                section #search-results .search-results aria-label="Search results" hidden {
                    p #search-status .search-status role="status" {}
                    button #search-close type="button" { "Close" }
                    ol #search-list .search-list {}
                }
                (settings_panel(&base, room, is_owner))
                noscript {
                    p.notice { "Live updates need JavaScript. You can still post; reload the page to see new messages." }
                }
                // Filled by chat.js when the visitor is kicked or the room is deleted.
                div #room-notice .notice role="alert" hidden {}
                div.room-body {
                    div #chat-area .chat {
                        // Shown by chat.js, which fetches the older pages.
                        @if view.has_more {
                            p.older hidden { button #load-older type="button" { "Load older messages" } }
                        }
                        ol #messages aria-live="polite" aria-label="Messages" tabindex="0" {
                            @for event in view.events { (message(event, me)) }
                        }
                        // A page opened at a message (`?around=`) has newer
                        // ones to load before the live ones.
                        @if view.has_newer {
                            p.newer { button #load-newer type="button" { "Load newer messages" } }
                        }
                        button #new-below .new-below type="button" hidden { "New messages ↓" }
                        (composer(&base, view.max_upload))
                        // Shown by chat.js while a file is dragged over the chat.
                        div #drop-zone .drop-zone aria-hidden="true" hidden { "Drop a GIF to post it" }
                    }
                    (members_panel(view.members, me))
                }
                (reaction_picker())
                (super::templates::chat())
            }
        },
    )
}

/// Below the messages: the whisper target (set by chat.js), the upload
/// progress, the GIF form and the text form, and the line for errors.
fn composer(base: &str, max_upload: u64) -> Markup {
    html! {
        div.composer {
            // Set by the members' whisper buttons; the cancel button's
            // look comes from CSS, so the text reads "Whisper to <name>".
            p #whisper-target .whisper-target hidden {
                span.whisper-label { "Whisper to " span #whisper-name {} }
                button #whisper-cancel type="button" aria-label="Cancel the whisper"
                    title="Cancel the whisper (Escape)" {}
            }
            // Set by a message's reply button: the next post answers it.
            p #reply-target .reply-target hidden {
                span.reply-label { "Replying to " span #reply-name {} ": " span #reply-text {} }
                button #reply-cancel type="button" aria-label="Cancel the reply"
                    title="Cancel the reply (Escape)" {}
            }
            // Set by a message's edit button: the form changes that message.
            p #edit-target .edit-target hidden {
                span.edit-label { "Editing your message" }
                button #edit-cancel type="button" aria-label="Cancel the edit"
                    title="Cancel the edit (Escape)" {}
            }
            // "alice is typing…", from the room's `typing` events.
            p #typing .typing aria-live="polite" hidden {}
            // Present members matching what follows an `@` in the message.
            ul #mention-list .mention-list role="listbox" aria-label="Mention someone" hidden {}
            progress #upload-progress max="100" value="0" aria-label="Uploading the GIF" hidden {}
            div.composer-row {
                // Works without JavaScript too (the server answers 303); with
                // it, choosing a file uploads at once and the button hides.
                form #gif-form method="post" enctype="multipart/form-data" action={ (base) "/gifs" }
                    data-max-upload=(max_upload) {
                    label.gif-pick for="gif-input" title="Post a GIF (you can also drop or paste one)" {
                        span.visually-hidden { "Post a " } "GIF"
                    }
                    input #gif-input type="file" name="gif" accept="image/gif";
                    button #gif-submit type="submit" { "Upload" }
                }
                form #chat-form method="post" action={ (base) "/messages" } {
                    label.visually-hidden for="chat-input" { "Message" }
                    input #chat-input name="chat" maxlength="2000" required autocomplete="off"
                        placeholder="Say something…" autofocus aria-describedby="chat-error";
                    button type="submit" { "Send" }
                }
            }
            p #chat-error .form-error role="alert" hidden {}
        }
    }
}

/// The members panel (the client re-renders it from `members` snapshots). A
/// `details` so that narrow screens can fold it into one line.
fn members_panel(members: &MembersSnapshot, me: &str) -> Markup {
    let unlisted = members.count.saturating_sub(members.members.len());
    let owner = members.owner.id.as_str();
    html! {
        aside.members {
            details #members-panel open {
                summary {
                    h2 { "Members " span #member-count { (members.count) " / " (members.max) } }
                }
                ul #members {
                    @for user in &members.members { (member(user, Marks::of(user, me, owner))) }
                    @if unlisted > 0 {
                        li.more { "and " (unlisted) " more" }
                    }
                }
            }
        }
    }
}

/// Which of a member row's optional parts show.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    /// The star: this member owns the room.
    pub owner: bool,
    /// "(you)": this member is the viewer.
    pub you: bool,
    /// The whisper button: anyone but the viewer.
    pub whisper: bool,
    /// "Make owner" and "Kick": the viewer owns the room.
    pub owner_actions: bool,
}

impl Marks {
    /// Every part (the template the client clones, `views::templates`).
    pub const ALL: Marks = Marks {
        owner: true,
        you: true,
        whisper: true,
        owner_actions: true,
    };

    /// What `me` sees on `user`'s row of a room that `owner` owns.
    fn of(user: &User, me: &str, owner: &str) -> Marks {
        Marks {
            owner: user.id == owner,
            you: user.id == me,
            whisper: user.id != me,
            owner_actions: user.id != me && owner == me,
        }
    }
}

/// One member: everyone else gets a whisper button, and the owner also
/// gets the owner's controls. The client clones it (`views::templates`).
pub fn member(user: &User, marks: Marks) -> Markup {
    let label = user.label();
    html! {
        li.member.you[marks.you] data-user=(user.id) {
            span.member-name {
                (user_badge(user))
                @if marks.owner { " " span.owner-mark title="Owner" role="img" aria-label="owner" { "★" } }
                @if marks.you { " " span.you-mark { "(you)" } }
            }
            @if marks.whisper {
                span.member-actions {
                    button.whisper-to type="button" aria-label={ "Whisper to " (label) } { "Whisper" }
                    @if marks.owner_actions {
                        button.make-owner type="button" aria-label={ "Make owner: " (label) } { "Make owner" }
                        button.kick.danger type="button" aria-label={ "Kick " (label) } { "Kick" }
                    }
                }
            }
        }
    }
}

/// One message, as history shows it (and, through `views::templates`, as
/// the client shows live ones): `li.msg.msg-<type>` (plus `.mine` for the
/// viewer's own, `.mentions-me`, `.edited`, `.deleted`), with the id; the
/// message it replies to, quoted; its reactions; the actions on it.
pub fn message(event: &EventRecord, me: &str) -> Markup {
    let mine = event.user.as_ref().is_some_and(|u| u.id == me);
    let mentions_me = event.mentions.iter().any(|u| u.id == me);
    let kind = event.kind.as_str();
    html! {
        li class={ "msg msg-" (kind) @if mine { " mine" } @if mentions_me { " mentions-me" }
            @if event.edited { " edited" } @if event.deleted { " deleted" } }
            id={ "m" (event.id) } data-id=(event.id) {
            @if event.kind == Kind::System {
                span.text { (event.chat.as_deref().unwrap_or("")) }
            } @else {
                @if let Some(quote) = &event.reply { (reply_quote(quote)) }
                @if let Some(user) = &event.user { (user_badge(user)) }
                @if let Some(to) = &event.to {
                    span.to { " → " (user_badge(to)) }
                }
                @if event.deleted { span.tombstone { "message deleted" } }
                @if let Some(chat) = &event.chat { span.text { (chat) } }
                @if let Some(gif) = &event.gif {
                    @match event.gif_info {
                        // The size reserves the GIF's space before it loads.
                        Some(info) => {
                            img.gif src=(gif) alt="GIF" loading="lazy" width=(info.width)
                                height=(info.height) style={ "width:" (display_width(info)) "px" };
                        }
                        None => { img.gif src=(gif) alt="GIF" loading="lazy"; }
                    }
                }
                @if event.edited { " " span.edited-mark { "(edited)" } }
            }
            time datetime=(event.created_at) { (clock(&event.created_at)) }
            @if event.kind.is_message() {
                (reactions(&event.reactions, me))
                (actions())
            }
        }
    }
}

/// The message a reply answers, as it is now: a link to it.
fn reply_quote(quote: &Quote) -> Markup {
    html! {
        a.reply href={ "#m" (quote.id) } data-reply-to=(quote.id) {
            span.reply-arrow aria-hidden="true" { "↪ " }
            @if let Some(user) = &quote.user { (user_badge(user)) " " }
            span.reply-text {
                @if quote.deleted { "deleted message" }
                @else if let Some(chat) = &quote.chat { (chat) }
                @else { "GIF" }
            }
        }
    }
}

/// A message's reactions: one button each (pressed when the viewer gave
/// it), with its count and who gave it.
fn reactions(given: &[Reactions], me: &str) -> Markup {
    html! {
        span.reactions {
            @for reaction in given {
                @let names: Vec<&str> = reaction.users.iter().map(User::label).collect();
                @let pressed = reaction.users.iter().any(|u| u.id == me);
                @let ids: Vec<&str> = reaction.users.iter().map(|u| u.id.as_str()).collect();
                button.reaction type="button" data-reaction=(reaction.reaction)
                    data-users=(ids.join(" ")) aria-pressed=(pressed) title=(names.join(", ")) {
                    span.emoji { (reaction.reaction) } " " span.count { (reaction.count) }
                }
            }
        }
    }
}

/// What the viewer may do to a message; the script shows them (CSS shows
/// edit on one's own text, delete on one's own or to the owner).
fn actions() -> Markup {
    html! {
        span.msg-actions {
            button.act-react type="button" title="React" aria-label="React" { "☺" }
            button.act-reply type="button" title="Reply" aria-label="Reply" { "↩" }
            button.act-edit type="button" title="Edit" aria-label="Edit" { "✎" }
            button.act-delete type="button" title="Delete" aria-label="Delete" { "🗑" }
        }
    }
}

/// The width a GIF is shown at (its height follows from the `width` and
/// `height` attributes): it fits a 320 px square, and tiny ones are scaled
/// up to about 96 px (at most 4×). `assets/lib/render.js` `displayWidth()`
/// is the same.
fn display_width(info: GifInfo) -> u32 {
    let (w, h) = (f64::from(info.width.max(1)), f64::from(info.height.max(1)));
    let grow = (96.0 / w.max(h)).clamp(1.0, 4.0);
    let scale = (320.0 / w).min(320.0 / h).min(grow);
    (w * scale).round().max(1.0) as u32
}

/// `HH:MM` out of an RFC 3339 time (the browser re-renders it locally).
fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..16).unwrap_or("")
}

/// A search's results, for a browser without JavaScript: each message as
/// history shows it, linking to where it is in the room.
pub fn search_results(page: &Page, room: &Room, q: &str, found: &[EventRecord]) -> Markup {
    let me = &page.user.id;
    layout(
        &format!("Search: {}", room.title),
        Some(page.user),
        page.flash.as_deref(),
        None,
        html! {
            section.search-page {
                a.back href={ "/rooms/" (room.id) } { "← " (room.title) }
                h1 { "Messages with “" (q) "”" }
                @if found.is_empty() {
                    p { "Nothing found." }
                } @else {
                    ol.search-results {
                        @for event in found {
                            li {
                                a.jump href={ "/rooms/" (room.id) "?around=" (event.id) "#m" (event.id) } {
                                    "Go to message"
                                }
                                ol.messages { (message(event, me)) }
                            }
                        }
                    }
                }
            }
        },
    )
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
