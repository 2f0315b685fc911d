//! Integration tests: the real server, started on port 0 with a temporary
//! data dir, driven over HTTP the way browsers and curl drive it.
//!
//! This binary runs them on SQLite; `tests/api_postgres` runs the same
//! modules again on PostgreSQL. `backend` is what differs between the two.

mod helpers;
#[path = "../support/requirement.rs"]
mod requirement;

/// This binary's backend: SQLite, in each server's data dir.
mod backend {
    use gifchat::db::DatabaseUrl;

    pub const POSTGRES: bool = false;

    /// The database a new test server gets: none named, so SQLite in its
    /// data dir, as a bare `gifchat` uses.
    pub async fn new_database() -> Option<DatabaseUrl> {
        None
    }
}

mod acme;
mod assets;
mod backup;
mod bots;
mod connections;
mod copy_database;
mod crash;
mod edits;
mod exactness;
mod hardening;
mod idempotent_posts;
mod identity;
mod keep_alive;
mod kicks;
mod lobby;
mod many_rooms;
mod messages;
mod openapi;
pub mod operations;
mod passwords;
mod poll;
mod poll_connections;
mod presence;
mod private_rooms;
mod reactions;
mod replies;
mod room_life;
mod rooms;
mod search;
mod sessions;
mod settings;
mod sse_clients;
mod streams;
mod tls;
mod typing;
mod unread;
mod uploads;
