//! The `<template>`s the browser client clones to show live messages,
//! members and rooms. Each is rendered by the very function that renders
//! the same thing in a page (`room::message`, `room::member`,
//! `lobby::room_row`, `user_badge`), for a specimen that has every optional
//! part, so history and live markup cannot drift: the client fills the
//! parts an event has and removes the others (`assets/lib/render.js`).

use maud::{Markup, html};

use super::{lobby::room_row, room, user_badge};
use crate::model::{EventRecord, GifInfo, Kind, Quote, Reactions, Room, User};

/// Where a specimen's name is in attribute text (`aria-label="Kick {name}"`):
/// the client puts the real user's label there.
pub const NAME_SLOT: &str = "{name}";

fn specimen_user() -> User {
    User {
        id: String::new(),
        color: "#000000".to_owned(),
        color_dark: "#ffffff".to_owned(),
        name: Some(NAME_SLOT.to_owned()),
    }
}

/// A message with every part: a sender, a recipient, text and a GIF, the
/// message it replies to, an edit mark and a tombstone, a reaction.
fn specimen_message() -> EventRecord {
    EventRecord {
        id: 0,
        kind: Kind::Chat,
        room: String::new(),
        user: Some(specimen_user()),
        chat: Some(String::new()),
        gif: Some(String::new()),
        gif_info: Some(GifInfo {
            width: 1,
            height: 1,
            frames: 1,
        }),
        to: Some(specimen_user()),
        reply_to: Some(0),
        reply: Some(Box::new(Quote {
            user: Some(specimen_user()),
            chat: Some(String::new()),
            ..Quote::default()
        })),
        edited: true,
        deleted: true,
        reactions: vec![Reactions {
            reaction: String::new(),
            count: 1,
            users: vec![specimen_user()],
        }],
        ..EventRecord::default()
    }
}

fn specimen_room() -> Room {
    Room {
        id: String::new(),
        title: String::new(),
        max: 0,
        private: false,
        locked: false,
        owner: specimen_user(),
        members: 0,
        created_at: String::new(),
        unread: Some(1),
    }
}

/// The chat page's templates: a message, a member, a badge.
pub fn chat() -> Markup {
    html! {
        // Seen by someone else than its sender (whose id is empty).
        template #tpl-message { (room::message(&specimen_message(), "-")) }
        template #tpl-member { (room::member(&specimen_user(), room::Marks::ALL)) }
        template #tpl-badge { (user_badge(&specimen_user())) }
    }
}

/// The lobby's templates: a room's row, a badge.
pub fn lobby() -> Markup {
    html! {
        template #tpl-room { (room_row(&specimen_room())) }
        template #tpl-badge { (user_badge(&specimen_user())) }
    }
}
