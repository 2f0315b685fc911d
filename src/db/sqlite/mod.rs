//! The SQLite backend: the embedded default, one file.
//!
//! - `schema`: versioned migrations (`user_version`), applied at open.
//! - `reads`: the [`Reads`](crate::db::Reads), on an r2d2 pool run on the
//!   blocking thread pool; `rooms`, `events`, `sessions`: their SQL.
//! - [`SqliteEngine`]: the writer's connection (`synchronous=FULL`), which
//!   commits each batch in one immediate transaction; `apply`: what each
//!   change does in SQL.
//! - [`backup`]: a consistent copy of a live database (`gifchat backup`).
//!
//! The database runs in WAL mode, so readers never wait for the writer.
//! Its folder and files are private to the server's user (0700 and 0600):
//! they hold sessions and password hashes.

mod apply;
pub mod copy;
pub mod events;
mod reads;
pub mod rooms;
pub mod schema;
mod sessions;

pub use reads::SqliteReads;

use std::{path::Path, time::Duration};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::{
    Db, Engine, StoreError, StoreResult,
    changes::{Change, Done},
    writer::{Commit, Committed, Start},
};

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "gifchat.sqlite3";

/// How long a connection waits on a lock before SQLite reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection gets, reader or writer.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Makes the database file `path` (and its WAL and shared-memory files,
/// which SQLite creates with the database's mode) 0600 and its folder
/// 0700. Creates what is missing; tightens what is there.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = folder.unwrap_or(Path::new("."));
    super::make_private_dir(folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            if file.exists() {
                super::restrict(file, 0o600)?;
            }
        }
    }
    Ok(())
}

/// Opens (and migrates) the database file `path`: the reads' pool and the
/// writer's connection.
pub fn open(path: &Path) -> Result<(Db, Engine), crate::BoxError> {
    make_private(path)?;
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    configure(&conn)?;
    schema::migrate(&mut conn)?;
    drop(conn);

    let manager = SqliteConnectionManager::file(path)
        .with_flags(
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_init(|conn| configure(conn));
    let connections = read_connections();
    let pool = r2d2::Pool::builder()
        .max_size(connections as u32)
        // r2d2 would run `SELECT 1` (parsed anew each time) before every
        // read to check the connection; a local SQLite file does not drop
        // connections the way a server does, and a read that fails says so.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;

    let conn = Connection::open(path)?;
    configure(&conn)?;
    // The writer alone decides durability: FULL makes a commit survive
    // power loss, and group commit keeps its cost per batch, not per post.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok((
        Db::new(SqliteReads::new(pool, connections)),
        Engine::new(SqliteEngine { conn }),
    ))
}

/// Connections in the read pool, and so reads at once: twice the cores
/// (a read is mostly CPU on pages in cache; the second covers one that
/// waits on the disk), at least four.
fn read_connections() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).max(4)
}

/// The writer's connection.
pub struct SqliteEngine {
    conn: Connection,
}

impl Commit for SqliteEngine {
    /// Nobody is present at start: every room gets the time a new one has
    /// to be entered before it is deleted as vacant.
    fn start(&mut self) -> StoreResult<Start> {
        self.conn.execute_batch(schema::PRESENCE)?;
        self.conn
            .prepare("UPDATE rooms SET vacant_since = ?1")?
            .execute([super::changes::now()])?;
        Ok(Start {
            newest: events::newest_id(&self.conn)?,
            present: Vec::new(),
        })
    }

    /// The only writer of its file: nothing was committed by others.
    fn commit(&mut self, batch: &[&Change], caught_up: i64) -> Committed {
        let results = commit(&mut self.conn, batch);
        let through = results
            .iter()
            .filter_map(|result| match result {
                Ok(Done::Event(record)) => Some(record.id),
                _ => None,
            })
            .fold(caught_up, i64::max);
        Committed {
            results,
            before: Vec::new(),
            through,
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
        }
    }
}

/// Applies the batch in one transaction, each change in a savepoint so one
/// bad change (a vanished room, say) fails alone.
fn commit(conn: &mut Connection, batch: &[&Change]) -> Vec<StoreResult<Done>> {
    let size = batch.len();
    let mut attempt = || -> rusqlite::Result<Vec<StoreResult<Done>>> {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(size);
        for &change in batch {
            if change.writes_once() {
                // One statement is atomic on its own: a failed one leaves
                // nothing behind, so it needs no savepoint (two statements
                // parsed and run per change otherwise). Some errors (I/O,
                // a full disk) roll back the whole transaction, though:
                // then the batch fails as a whole, as a failed commit does.
                let result = apply::apply(&tx, change);
                if result.is_err() && tx.is_autocommit() {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                        Some("the transaction was rolled back".into()),
                    ));
                }
                results.push(result);
                continue;
            }
            let savepoint = tx.savepoint()?;
            match apply::apply(&savepoint, change) {
                Ok(done) => {
                    savepoint.commit()?;
                    results.push(Ok(done));
                }
                // Dropping the savepoint rolls this change back.
                Err(e) => results.push(Err(e)),
            }
        }
        tx.commit()?;
        Ok(results)
    };
    match attempt() {
        Ok(results) => results,
        Err(e) => {
            tracing::error!(error = %e, changes = size, "commit failed");
            (0..size)
                .map(|_| Err(StoreError::Database(format!("commit failed: {e}").into())))
                .collect()
        }
    }
}

/// What an online backup holds.
pub struct Snapshot {
    pub events: i64,
    pub rooms: i64,
    /// The URL of every GIF its events refer to.
    pub gifs: Vec<String>,
}

/// Copies the database `path` into `to_dir` with SQLite's online
/// backup, in one step, so from one read snapshot: the server may keep
/// writing (WAL), and the copy is consistent. The copy is private like the
/// original.
pub fn backup(path: &Path, to_dir: &Path) -> StoreResult<Snapshot> {
    let source = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    configure(&source)?;
    let to = to_dir.join(DB_FILE);
    make_private(&to).map_err(StoreError::database)?;
    let mut copy = Connection::open(&to)?;
    rusqlite::backup::Backup::new(&source, &mut copy)?.step(-1)?;
    // One file, no WAL beside it: the copy is whole in `gifchat.sqlite3`.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    let count = |table: &str| -> rusqlite::Result<i64> {
        copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
    };
    Ok(Snapshot {
        events: count("events")?,
        rooms: count("rooms")?,
        gifs: events::gif_urls(&copy)?,
    })
}
