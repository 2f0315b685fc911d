//! Storage, a leaf: it imports nothing above it and speaks its own errors
//! ([`StoreError`]); what they mean to a client is decided at the HTTP edge.
//!
//! - [`Reads`] (`reads.rs`): every read the server makes, one interface,
//!   held as the cheap handle [`Db`].
//! - `targets`: the rules of reacting to, editing, deleting and replying
//!   to a message, which both backends apply in the writer's transaction;
//!   `record`: what both make of their rows (mentions, folded reactions).
//! - `writer`: the single writer thread that commits every change, one
//!   typed method each, in groups, and reports what it committed to an
//!   [`AfterCommit`](writer::AfterCommit); `changes`: the change vocabulary.
//! - Two backends behind both, chosen by `--database` ([`DatabaseUrl`]):
//!   `sqlite` (the embedded default) and `postgres`. Each owns its schema
//!   (versioned migrations), its reads and what each change does in SQL.
//! - `copy`: `gifchat copy-database`, any backend to any other.

mod changes;
pub mod copy;
mod error;
pub mod postgres;
pub mod presence;
mod reads;
mod record;
pub mod sqlite;
mod targets;
mod url;
pub mod writer;

pub use error::{Refusal, StoreError, StoreResult};
pub use reads::{Db, HistoryPage, Reads, StalePresence, Unreads};
pub use sqlite::DB_FILE;
pub use url::DatabaseUrl;
pub use writer::Engine;

use std::path::Path;

/// Opens (and migrates) the database `url` names: the reads, and the
/// engine the writer commits with.
pub async fn open(url: &DatabaseUrl) -> Result<(Db, Engine), crate::BoxError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite::open(&path)).await?
        }
        DatabaseUrl::Postgres(url) => postgres::open(url).await,
    }
}

/// Makes `folder` private to this user (0700), creating it if missing: the
/// data dir holds the cookie secret, and the SQLite database by default.
pub fn make_private_dir(folder: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    restrict(folder, 0o700)
}

/// Takes away every permission beyond `mode`.
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if now & !mode != 0 {
            tracing::info!(path = %path.display(), from = format!("{now:o}"), to = format!("{mode:o}"), "making private");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}
