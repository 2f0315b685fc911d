//! Integration tests: the real server, started on port 0 with a temporary
//! data dir, driven over HTTP the way browsers and curl drive it.

mod helpers;

mod backup;
mod connections;
mod crash;
mod exactness;
mod hardening;
mod identity;
mod keep_alive;
mod lobby;
mod messages;
mod openapi;
pub mod operations;
mod passwords;
mod poll;
mod presence;
mod private_rooms;
mod room_life;
mod rooms;
mod sessions;
mod streams;
mod uploads;
