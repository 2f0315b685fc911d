//! The schema on PostgreSQL, as a list of migrations applied in order at
//! start-up. `gifchat_schema` records how many have run; a migration is
//! never edited once released, only followed by a new one. The tables are
//! SQLite's (`sqlite/schema.rs`) with PostgreSQL's types, plus the
//! `event_ids` counter (see `apply.rs` for why ids come from a row).

use deadpool_postgres::Client;

const MIGRATIONS: &[&str] = &[
    // 1: rooms, their events and the counter of event ids, admissions to
    // private rooms, bans, sessions.
    r#"
    CREATE TABLE rooms (
        id            TEXT PRIMARY KEY,
        title         TEXT NOT NULL,
        max_members   BIGINT NOT NULL,
        password_hash TEXT,
        owner_id      TEXT NOT NULL,
        owner_name    TEXT,
        created_at    TEXT NOT NULL
    );
    -- One row: the newest event id handed out, never going back (ids of
    -- deleted events are not handed out again).
    CREATE TABLE event_ids (
        one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        last BIGINT NOT NULL
    );
    INSERT INTO event_ids (last) VALUES (0);
    CREATE TABLE events (
        id         BIGINT PRIMARY KEY,
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        user_id    TEXT,
        user_name  TEXT,
        chat       TEXT,
        gif        TEXT,
        gif_width  BIGINT,
        gif_height BIGINT,
        gif_frames BIGINT,
        to_id      TEXT,
        to_name    TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_by_room ON events(room_id, id);
    CREATE TABLE admissions (
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
    );
    CREATE TABLE bans (
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
    );
    -- tower-sessions records: JSON data, expiry as a Unix timestamp.
    CREATE TABLE sessions (
        id     TEXT PRIMARY KEY,
        data   TEXT NOT NULL,
        expiry BIGINT NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions(expiry);
    "#,
    // 2: a post's client_id; one per user and room.
    r#"
    ALTER TABLE events ADD COLUMN client_id TEXT;
    CREATE UNIQUE INDEX events_by_client_id ON events(room_id, user_id, client_id)
        WHERE client_id IS NOT NULL;
    "#,
    // 3: what changed besides events, for the other nodes (`apply.rs`):
    // ids from the same counter, so it reads in order with the events.
    r#"
    CREATE TABLE changes (
        id         BIGINT PRIMARY KEY,
        kind       TEXT NOT NULL,
        room_id    TEXT,
        user_id    TEXT,
        user_name  TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    "#,
    // 4: presence through each node (`db/presence.rs`), the nodes' leases,
    // whose presence a change note is about, since when nobody has been
    // in a room.
    r#"
    CREATE TABLE nodes (
        id          TEXT PRIMARY KEY,
        lease_until TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE presence (
        room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL,
        user_name TEXT,
        node_id   TEXT NOT NULL,
        since     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (room_id, user_id, node_id)
    );
    CREATE INDEX presence_by_node ON presence(node_id);
    ALTER TABLE changes ADD COLUMN node_id TEXT;
    -- A room from before (or copied in) is vacant from now on, as after a
    -- restart: its people have that long to come back.
    ALTER TABLE rooms ADD COLUMN vacant_since TIMESTAMPTZ DEFAULT now();
    "#,
    // 5: what people expect of a chat, as SQLite's migration 4; search
    // by an expression index on the words of messages (`simple`: no
    // language's stemming, as SQLite's FTS5), and the position a note of
    // a read gives the other nodes, with what is left unread.
    r#"
    ALTER TABLE rooms ADD COLUMN locked BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN target BIGINT;
    ALTER TABLE events ADD COLUMN reply_to BIGINT;
    ALTER TABLE events ADD COLUMN mentions TEXT;
    ALTER TABLE events ADD COLUMN edited_at TEXT;
    ALTER TABLE events ADD COLUMN deleted_at TEXT;
    CREATE INDEX events_by_target ON events(target) WHERE target IS NOT NULL;
    CREATE TABLE reactions (
        event_id  BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL,
        reaction  TEXT NOT NULL,
        user_name TEXT,
        added_by  BIGINT NOT NULL,
        PRIMARY KEY (event_id, user_id, reaction)
    );
    CREATE TABLE reads (
        user_id   TEXT NOT NULL,
        room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        last_read BIGINT NOT NULL,
        PRIMARY KEY (user_id, room_id)
    );
    CREATE TABLE address_bans (
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        addr       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (room_id, addr)
    );
    CREATE TABLE bots (
        key_hash   TEXT PRIMARY KEY,
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_words ON events
        USING GIN (to_tsvector('simple', coalesce(chat, '')))
        WHERE kind IN ('chat', 'whisper');
    ALTER TABLE changes ADD COLUMN mark BIGINT, ADD COLUMN unread BIGINT;
    "#,
];

/// Any number that no other program's advisory lock on the database is
/// likely to use: "gifchat" in ASCII.
const MIGRATION_LOCK: i64 = 0x0067_6966_6368_6174;

/// Applies every migration the database has not seen yet, with the
/// version bumps, in one transaction (DDL is transactional here). An
/// advisory lock makes nodes starting together migrate one after the
/// other: the second finds the work done.
pub async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS gifchat_schema (version INTEGER NOT NULL)")
        .await?;
    let done: Option<i32> = tx
        .query_one("SELECT max(version) FROM gifchat_schema", &[])
        .await?
        .get(0);
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(done.unwrap_or(0) as usize)
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO gifchat_schema (version) VALUES ($1)",
            &[&(index as i32 + 1)],
        )
        .await?;
    }
    tx.commit().await
}

/// How many migrations a database has seen.
#[cfg(test)]
pub fn latest() -> usize {
    MIGRATIONS.len()
}
