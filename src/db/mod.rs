//! Storage: the SQLite database in the data dir.
//!
//! - `schema`: versioned migrations, applied at start.
//! - [`Db`]: every read the server makes, each a method (`reads.rs`), run on
//!   the r2d2 pool on the blocking thread pool, never on the async executor;
//!   `rooms`, `events`: their SQL.
//! - `writer`: the single writer thread that owns the write connection and
//!   commits every change, one typed method each (see its docs for group
//!   commit and the after-commit report); `changes`: what each change does
//!   in SQL.
//!
//! Storage speaks its own errors ([`StoreError`]); what they mean to a
//! client is decided at the HTTP edge. The database runs in WAL mode, so
//! readers never wait for the writer.
//! Its folder and files are private to the server's user (0700 and 0600):
//! they hold sessions and password hashes.

mod changes;
mod error;
pub mod events;
mod reads;
pub mod rooms;
pub mod schema;
mod sessions;
mod url;
pub mod writer;

pub use error::{StoreError, StoreResult};
pub use url::DatabaseUrl;

use std::{path::Path, time::Duration};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

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

/// Makes `data_dir` and the database files in it private to this user:
/// the folder 0700, the database (and its WAL and shared-memory files,
/// which SQLite creates with the database's mode) 0600. Creates what is
/// missing; tightens what is there.
pub fn make_private(data_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        restrict(data_dir, 0o700)?;
        let path = data_dir.join(DB_FILE);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = data_dir.join(format!("{DB_FILE}{suffix}"));
            if file.exists() {
                restrict(&file, 0o600)?;
            }
        }
        fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
            let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if now & !mode != 0 {
                tracing::info!(path = %path.display(), from = format!("{now:o}"), to = format!("{mode:o}"), "making private");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(())
        }
    }
    Ok(())
}

/// Opens (and migrates) the database, returning the read pool.
pub fn open_pool(data_dir: &Path) -> Result<Pool, Box<dyn std::error::Error + Send + Sync>> {
    make_private(data_dir)?;
    let path = data_dir.join(DB_FILE);
    let mut conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    configure(&conn)?;
    schema::migrate(&mut conn)?;
    drop(conn);

    let manager = SqliteConnectionManager::file(&path)
        .with_flags(
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_init(|conn| configure(conn));
    let pool = r2d2::Pool::builder()
        .max_size(16)
        // r2d2 would run `SELECT 1` (parsed anew each time) before every
        // read to check the connection; a local SQLite file does not drop
        // connections the way a server does, and a read that fails says so.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;
    Ok(pool)
}

/// A cheap handle for reads on the pool; the reads are its methods
/// (`reads.rs`).
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || -> StoreResult<T> {
            let conn = pool.get()?;
            Ok(work(&conn)?)
        })
        .await?
    }
}

/// What an online backup holds.
pub struct Snapshot {
    pub events: i64,
    pub rooms: i64,
    /// The URL of every GIF its events refer to.
    pub gifs: Vec<String>,
}

/// Copies the database of `data_dir` into `to_dir` with SQLite's online
/// backup, in one step, so from one read snapshot: the server may keep
/// writing (WAL), and the copy is consistent. The copy is private like the
/// original.
pub fn backup(data_dir: &Path, to_dir: &Path) -> StoreResult<Snapshot> {
    let source = Connection::open_with_flags(
        data_dir.join(DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    configure(&source)?;
    make_private(to_dir).map_err(StoreError::database)?;
    let mut copy = Connection::open(to_dir.join(DB_FILE))?;
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
