//! The schema, as a list of migrations applied in order at start-up. The
//! database's `user_version` records how many have run; a migration is never
//! edited once released, only followed by a new one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: rooms, their events, admissions to private rooms, bans, sessions.
    r#"
    CREATE TABLE rooms (
        id            TEXT PRIMARY KEY,
        title         TEXT NOT NULL,
        max_members   INTEGER NOT NULL,
        password_hash TEXT,
        owner_id      TEXT NOT NULL,
        owner_name    TEXT,
        created_at    TEXT NOT NULL
    );
    -- AUTOINCREMENT: ids of deleted rooms' events are never handed out again.
    CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        user_id    TEXT,
        user_name  TEXT,
        chat       TEXT,
        gif        TEXT,
        gif_width  INTEGER,
        gif_height INTEGER,
        gif_frames INTEGER,
        to_id      TEXT,
        to_name    TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_by_room ON events(room_id, id);
    CREATE TABLE admissions (
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE bans (
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID;
    -- tower-sessions records: JSON data, expiry as a Unix timestamp.
    CREATE TABLE sessions (
        id     TEXT PRIMARY KEY,
        data   TEXT NOT NULL,
        expiry INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions(expiry);
    "#,
    // 2: a post's client_id; one per user and room.
    r#"
    ALTER TABLE events ADD COLUMN client_id TEXT;
    CREATE UNIQUE INDEX events_by_client_id ON events(room_id, user_id, client_id)
        WHERE client_id IS NOT NULL;
    "#,
    // 3: since when nobody has been in a room (null while someone is).
    r#"
    ALTER TABLE rooms ADD COLUMN vacant_since TEXT;
    "#,
    // 4: what people expect of a chat: a room locked against newcomers,
    // changes to a message (`target`),
    // replies, mentions (JSON), a message's edited and deleted times, the
    // reactions it has now (`added_by`: the event that gave each), what
    // each user has read of each room, the rooms' bots, and the words of messages as they
    // are now, for search (FTS5, kept by triggers: a delete or an edit
    // takes the old words out).
    r#"
    ALTER TABLE rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN target INTEGER;
    ALTER TABLE events ADD COLUMN reply_to INTEGER;
    ALTER TABLE events ADD COLUMN mentions TEXT;
    ALTER TABLE events ADD COLUMN edited_at TEXT;
    ALTER TABLE events ADD COLUMN deleted_at TEXT;
    CREATE INDEX events_by_target ON events(target) WHERE target IS NOT NULL;
    CREATE TABLE reactions (
        event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL,
        reaction  TEXT NOT NULL,
        user_name TEXT,
        added_by  INTEGER NOT NULL,
        PRIMARY KEY (event_id, user_id, reaction)
    ) WITHOUT ROWID;
    CREATE TABLE reads (
        user_id   TEXT NOT NULL,
        room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        last_read INTEGER NOT NULL,
        PRIMARY KEY (user_id, room_id)
    ) WITHOUT ROWID;
    -- Client addresses a kick kept out of a room, for the room's life.
    CREATE TABLE address_bans (
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        addr       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (room_id, addr)
    ) WITHOUT ROWID;
    -- A bot's key is kept as its hash only: the key is a bearer secret.
    CREATE TABLE bots (
        key_hash   TEXT PRIMARY KEY,
        room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE events_fts USING fts5(
        chat, content = 'events', content_rowid = 'id', tokenize = 'unicode61'
    );
    INSERT INTO events_fts (rowid, chat)
        SELECT id, chat FROM events WHERE kind IN ('chat', 'whisper') AND chat IS NOT NULL;
    CREATE TRIGGER events_fts_insert AFTER INSERT ON events
        WHEN new.kind IN ('chat', 'whisper') AND new.chat IS NOT NULL BEGIN
        INSERT INTO events_fts (rowid, chat) VALUES (new.id, new.chat);
    END;
    CREATE TRIGGER events_fts_update AFTER UPDATE OF chat ON events
        WHEN new.kind IN ('chat', 'whisper') BEGIN
        INSERT INTO events_fts (events_fts, rowid, chat)
            SELECT 'delete', old.id, old.chat WHERE old.chat IS NOT NULL;
        INSERT INTO events_fts (rowid, chat)
            SELECT new.id, new.chat WHERE new.chat IS NOT NULL;
    END;
    CREATE TRIGGER events_fts_delete AFTER DELETE ON events
        WHEN old.kind IN ('chat', 'whisper') AND old.chat IS NOT NULL BEGIN
        INSERT INTO events_fts (events_fts, rowid, chat) VALUES ('delete', old.id, old.chat);
    END;
    "#,
];

/// Who is present, through this process: kept by the writer's connection
/// only (`presence.rs`), gone with it, so it starts empty on every run.
pub const PRESENCE: &str = "
    CREATE TEMP TABLE IF NOT EXISTS presence (
        since     INTEGER PRIMARY KEY,
        room_id   TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        user_name TEXT,
        node      TEXT NOT NULL,
        UNIQUE (room_id, user_id, node)
    );";

/// Applies every migration the database has not seen yet, each in its own
/// transaction together with the `user_version` bump.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }
}
