//! The API tests of `tests/api` again, every server on a database of its
//! own in a throwaway PostgreSQL that this process starts (`postgres`).
//! Without PostgreSQL installed, one "postgres tests skipped" line and
//! success; `GIFCHAT_PG_TESTS=required` makes that a failure.
//!
//! The modules are `tests/api`'s very files; `backend` is what differs.

mod postgres;
#[path = "../support/requirement.rs"]
mod requirement;

/// This binary's backend: PostgreSQL, a fresh database per server.
mod backend {
    use gifchat::db::DatabaseUrl;

    pub const POSTGRES: bool = true;

    /// The database a new test server gets: a new empty one.
    pub async fn new_database() -> Option<DatabaseUrl> {
        Some(DatabaseUrl::Postgres(
            crate::postgres::fresh_database().await,
        ))
    }
}

#[path = "../api/helpers.rs"]
mod helpers;

#[path = "../api/backup.rs"]
mod backup;
#[path = "../api/bots.rs"]
mod bots;
mod cluster;
mod cluster_presence;
mod cluster_restart;
mod commit_order;
#[path = "../api/connections.rs"]
mod connections;
#[path = "../api/copy_database.rs"]
mod copy_database;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/edits.rs"]
mod edits;
#[path = "../api/exactness.rs"]
mod exactness;
#[path = "../api/hardening.rs"]
mod hardening;
#[path = "../api/idempotent_posts.rs"]
mod idempotent_posts;
#[path = "../api/identity.rs"]
mod identity;
#[path = "../api/keep_alive.rs"]
mod keep_alive;
#[path = "../api/kicks.rs"]
mod kicks;
#[path = "../api/lobby.rs"]
mod lobby;
#[path = "../api/many_rooms.rs"]
mod many_rooms;
#[path = "../api/messages.rs"]
mod messages;
#[path = "../api/openapi.rs"]
mod openapi;
#[path = "../api/operations.rs"]
pub mod operations;
#[path = "../api/passwords.rs"]
mod passwords;
#[path = "../api/poll.rs"]
mod poll;
#[path = "../api/poll_connections.rs"]
mod poll_connections;
#[path = "../api/presence.rs"]
mod presence;
#[path = "../api/private_rooms.rs"]
mod private_rooms;
#[path = "../api/reactions.rs"]
mod reactions;
#[path = "../api/replies.rs"]
mod replies;
#[path = "../api/room_life.rs"]
mod room_life;
#[path = "../api/rooms.rs"]
mod rooms;
#[path = "../api/search.rs"]
mod search;
#[path = "../api/sessions.rs"]
mod sessions;
#[path = "../api/settings.rs"]
mod settings;
#[path = "../api/streams.rs"]
mod streams;
#[path = "../api/typing.rs"]
mod typing;
mod unreachable;
#[path = "../api/unread.rs"]
mod unread;
#[path = "../api/uploads.rs"]
mod uploads;
