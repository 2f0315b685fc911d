//! The lobby (the rooms table, live through `assets/lobby.js`) and the
//! create-room form.

use maud::{Markup, html};

use super::{Page, layout, user_badge};
use crate::model::Room;

/// The lobby: `rooms` with the viewer's unread counts, counted through
/// event `unread_through` (the script counts on from there).
pub fn lobby(page: &Page, rooms: &[Room], unread_through: Option<i64>) -> Markup {
    layout(
        "Lobby",
        Some(page.user),
        page.flash.as_deref(),
        Some("lobby.js"),
        html! {
            section.lobby {
                div.lobby-head {
                    div {
                        h1 #rooms-title { "Rooms" }
                        p.lead { "Pick a room and start posting GIFs, or open your own." }
                    }
                    a.button href="/rooms/new" { "Create a room" }
                }
                table #rooms aria-labelledby="rooms-title" data-me=(page.user.id)
                    data-unread-through=[unread_through] {
                    thead {
                        tr {
                            th scope="col" { "Room" }
                            th scope="col" { "Type" }
                            th scope="col" { "Members" }
                            th scope="col" { "Owner" }
                        }
                    }
                    tbody {
                        @for room in rooms { (room_row(room)) }
                    }
                }
                p #no-rooms hidden[!rooms.is_empty()] { "No rooms yet. Create the first one!" }
                noscript { p.notice { "The list updates live with JavaScript; reload the page to refresh it." } }
                (super::templates::lobby())
            }
        },
    )
}

/// One row of the rooms table (the client clones it: `views::templates`).
pub(super) fn room_row(room: &Room) -> Markup {
    let kind = if room.private { "private" } else { "public" };
    html! {
        tr data-room=(room.id) {
            td.title {
                a href={ "/rooms/" (room.id) } { (room.title) }
                @if let Some(unread) = room.unread.filter(|n| *n > 0) {
                    " " span.unread title="Unread messages" { (unread) span.visually-hidden { " unread" } }
                }
            }
            td.type { span class={ "tag tag-" (kind) } { (kind) } }
            td.count { (room.members) " / " (room.max) }
            td.owner { (user_badge(&room.owner)) }
        }
    }
}

pub fn new_room(page: &Page) -> Markup {
    layout(
        "Create a room",
        Some(page.user),
        page.flash.as_deref(),
        None,
        html! {
            section.form-page {
                a.back href="/" { "← Lobby" }
                h1 { "Create a room" }
                form method="post" action="/rooms" {
                    label for="title" { "Title" }
                    input #title name="title" required maxlength="100" autofocus
                        placeholder="Friday GIF party";
                    label for="max" { "Maximum members " small { "(2 to 10000)" } }
                    input #max name="max" type="number" min="2" max="10000" value="10";
                    label for="password" { "Password " small { "(leave empty for a public room)" } }
                    input #password name="password" type="password" autocomplete="new-password";
                    p.hint { "You will own the room: you can hand it over, remove members, or delete it." }
                    button type="submit" { "Create" }
                }
            }
        },
    )
}
