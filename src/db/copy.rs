//! `gifchat copy-database --from <URL> --to <URL>`: a whole installation's
//! database (rooms, events with their ids, admissions, bans, sessions and
//! the id counter) from one backend to another, typically from SQLite up
//! to PostgreSQL.
//!
//! The source is read in one read-only transaction, so the copy is one
//! consistent snapshot even if a server still writes to it; the target is
//! written in one transaction, so a copy that fails leaves it as it was:
//! empty. A target that holds anything is refused.
//!
//! Each backend reads (`export`) and writes (`import`) rows in the terms
//! of this module: [`TABLES`], their [`Value`]s, sent as [`Chunk`]s
//! through a bounded channel, so a big history never sits in memory whole.

use tokio::sync::mpsc;

use super::{DatabaseUrl, StoreError, StoreResult, postgres, sqlite};

/// A table both schemas share, with the columns that are copied, in order.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

impl Table {
    /// `INSERT INTO <name> (<columns>) VALUES (<placeholders>)`, where
    /// `placeholder(n)` writes the n-th (from 1).
    pub fn insert_sql(&self, placeholder: impl Fn(usize) -> String) -> String {
        let values: Vec<String> = (1..=self.columns.len()).map(placeholder).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.name,
            self.columns.join(", "),
            values.join(", ")
        )
    }

    /// `SELECT <columns> FROM <name> ORDER BY <first column>`.
    pub fn select_sql(&self) -> String {
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            self.columns.join(", "),
            self.name,
            self.columns[0]
        )
    }
}

/// Every table, in an order that satisfies the foreign keys (rooms before
/// what refers to them).
pub const TABLES: &[Table] = &[
    Table {
        name: "rooms",
        columns: &[
            "id",
            "title",
            "max_members",
            "password_hash",
            "owner_id",
            "owner_name",
            "created_at",
            "locked",
        ],
    },
    Table {
        name: "admissions",
        columns: &["room_id", "user_id"],
    },
    Table {
        name: "bans",
        columns: &["room_id", "user_id", "created_at"],
    },
    Table {
        name: "sessions",
        columns: &["id", "data", "expiry"],
    },
    Table {
        name: "events",
        columns: &[
            "id",
            "room_id",
            "kind",
            "user_id",
            "user_name",
            "chat",
            "gif",
            "gif_width",
            "gif_height",
            "gif_frames",
            "to_id",
            "to_name",
            "created_at",
            "client_id",
            "target",
            "reply_to",
            "mentions",
            "edited_at",
            "deleted_at",
        ],
    },
    Table {
        name: "reactions",
        columns: &["event_id", "user_id", "reaction", "user_name", "added_by"],
    },
    Table {
        name: "address_bans",
        columns: &["room_id", "addr", "created_at"],
    },
    Table {
        name: "reads",
        columns: &["user_id", "room_id", "last_read"],
    },
    Table {
        name: "bots",
        columns: &["key_hash", "room_id", "user_id", "name", "created_at"],
    },
];

/// One stored value: every column of [`TABLES`] is an integer or text.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// What the source sends the target.
#[derive(Debug)]
pub enum Chunk {
    /// Rows of `TABLES[table]`.
    Rows { table: usize, rows: Vec<Vec<Value>> },
    /// The newest id ever handed out, which may be above every stored
    /// event's (deleted rooms' events): the copy hands out none of them
    /// again. Sent last.
    NewestId(i64),
}

/// Rows per chunk.
pub const CHUNK_ROWS: usize = 1000;

/// What was copied.
#[derive(Debug, Default, PartialEq)]
pub struct Copied {
    /// Rows per table, in the order of [`TABLES`].
    pub rows: Vec<(&'static str, u64)>,
    pub newest_id: i64,
}

/// Copies the database `from` into the empty database `to`.
pub async fn copy(from: &DatabaseUrl, to: &DatabaseUrl) -> Result<Copied, crate::BoxError> {
    if from == to {
        return Err("--from and --to name the same database".into());
    }
    let (chunks, received) = mpsc::channel(4);
    let reading = tokio::spawn(export(from.clone(), chunks));
    let written = import(to, received).await;
    // A source that failed ends its chunks early: its error is the cause.
    reading.await??;
    written
}

async fn export(from: DatabaseUrl, chunks: mpsc::Sender<Chunk>) -> StoreResult<()> {
    match from {
        DatabaseUrl::Sqlite(path) => {
            tokio::task::spawn_blocking(move || sqlite::copy::export(&path, &chunks)).await?
        }
        DatabaseUrl::Postgres(url) => postgres::copy::export(&url, &chunks).await,
    }
}

async fn import(
    to: &DatabaseUrl,
    chunks: mpsc::Receiver<Chunk>,
) -> Result<Copied, crate::BoxError> {
    match to {
        DatabaseUrl::Sqlite(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite::copy::import(&path, chunks)).await?
        }
        DatabaseUrl::Postgres(url) => postgres::copy::import(url, chunks).await,
    }
}

/// The refusal for a target that holds something.
pub fn not_empty(rows: &[(&str, i64)]) -> crate::BoxError {
    let held: Vec<String> = rows
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(table, count)| format!("{count} {table}"))
        .collect();
    format!(
        "the target database is not empty ({}): copy into a new, empty database",
        held.join(", ")
    )
    .into()
}

/// Counts what `import` wrote, table by table.
#[derive(Default)]
pub struct Tally(Vec<u64>);

impl Tally {
    pub fn add(&mut self, table: usize, rows: usize) {
        if self.0.len() < TABLES.len() {
            self.0.resize(TABLES.len(), 0);
        }
        self.0[table] += rows as u64;
    }

    pub fn done(mut self, newest_id: i64) -> Copied {
        self.0.resize(TABLES.len(), 0);
        Copied {
            rows: TABLES.iter().map(|t| t.name).zip(self.0).collect(),
            newest_id,
        }
    }
}

/// A source that ended without its last chunk: the target must not commit.
pub fn cut_short() -> StoreError {
    StoreError::Database("the source ended before its last chunk".into())
}
