//! The PostgreSQL backend (`--database postgres://…`), on tokio-postgres
//! with deadpool's pools.
//!
//! - `schema`: versioned migrations (`gifchat_schema`), applied at open
//!   under an advisory lock.
//! - `reads`: the [`Reads`](crate::db::Reads) on a pool of connections,
//!   statements prepared once per connection.
//! - [`PgEngine`]: the writer's own connection; each batch is one
//!   transaction, so a 2xx means committed here too (group commit).
//!   `apply`: what each change does in SQL, and why event ids come from a
//!   counter row rather than a sequence.

mod apply;
pub mod copy;
mod reads;
pub mod schema;

pub use reads::PgReads;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;

use super::{
    Db, Engine, StoreError, StoreResult,
    changes::{Change, Done},
    writer::Commit,
};

/// Connections the reads may hold at once.
const READ_CONNECTIONS: usize = 16;
/// How long a connection attempt may take, and how long a read waits for a
/// free connection, before the request is answered "unavailable".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to (and migrates) the database at `url`: the reads' pool and
/// the writer's connection.
pub async fn open(url: &str) -> Result<(Db, Engine), crate::BoxError> {
    let reads = pool(url, READ_CONNECTIONS)?;
    // The writer has a connection of its own: reads never keep it waiting.
    let writer = pool(url, 1)?;
    schema::migrate(&mut writer.get().await?).await?;
    Ok((
        Db::new(PgReads { pool: reads }),
        Engine::new(PgEngine {
            pool: writer,
            runtime: Handle::current(),
        }),
    ))
}

/// A pool of at most `size` connections to `url`.
pub fn pool(url: &str, size: usize) -> Result<Pool, crate::BoxError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    if config.get_application_name().is_none() {
        config.application_name("gifchat");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            // A connection that broke is replaced when it is next taken.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(CONNECT_TIMEOUT))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .build()?)
}

/// The writer's connection. The writer thread is not a runtime thread, so
/// it drives each batch's queries to completion on the server's runtime
/// with `block_on`: the thread is shared with SQLite, and it has nothing
/// else to do while its batch commits.
pub struct PgEngine {
    pool: Pool,
    runtime: Handle,
}

impl Commit for PgEngine {
    fn newest_id(&mut self) -> StoreResult<i64> {
        self.runtime.block_on(async {
            let client = self.pool.get().await?;
            let row = client.query_one("SELECT last FROM event_ids", &[]).await?;
            Ok(row.try_get(0)?)
        })
    }

    fn commit(&mut self, batch: &[&Change]) -> Vec<StoreResult<Done>> {
        self.runtime.block_on(commit(&self.pool, batch))
    }
}

/// Why a batch's transaction did not commit.
enum Failed {
    /// A statement failed, which aborts the whole transaction here (unlike
    /// SQLite, where a failed statement undoes only itself): try again with
    /// each change in a savepoint, so that one fails alone.
    Aborted(StoreError),
    /// The connection or the commit failed: every change fails.
    Whole(StoreError),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(cause: tokio_postgres::Error) -> Self {
        Self::Whole(cause.into())
    }
}

/// Applies the batch in one transaction and commits it. Most batches are
/// posts and sessions, one statement each, and go without savepoints
/// (each costs two round trips); only when a statement fails is the batch
/// run again with a savepoint around every change.
async fn commit(pool: &Pool, batch: &[&Change]) -> Vec<StoreResult<Done>> {
    let outcome = match attempt(pool, batch, false).await {
        Err(Failed::Aborted(cause)) => {
            tracing::debug!(error = %cause, "a change failed: committing each alone");
            attempt(pool, batch, true).await
        }
        outcome => outcome,
    };
    match outcome {
        Ok(results) => results,
        Err(Failed::Aborted(cause) | Failed::Whole(cause)) => {
            tracing::error!(error = %cause, changes = batch.len(), "commit failed");
            let unreachable = matches!(cause, StoreError::Unreachable(_));
            let message = cause.to_string();
            batch
                .iter()
                .map(|_| {
                    let cause = format!("commit failed: {message}").into();
                    Err(if unreachable {
                        StoreError::Unreachable(cause)
                    } else {
                        StoreError::Database(cause)
                    })
                })
                .collect()
        }
    }
}

/// One try at the batch; `each_alone` puts every change in a savepoint.
async fn attempt(
    pool: &Pool,
    batch: &[&Change],
    each_alone: bool,
) -> Result<Vec<StoreResult<Done>>, Failed> {
    let mut client = pool.get().await.map_err(|e| Failed::Whole(e.into()))?;
    let mut tx = client.transaction().await?;
    let mut results = Vec::with_capacity(batch.len());
    for &change in batch {
        if !each_alone && change.writes_once() {
            let result = apply::apply(&tx, change).await;
            if let Err(cause @ (StoreError::Database(_) | StoreError::Unreachable(_))) = result {
                return Err(Failed::Aborted(cause));
            }
            results.push(result);
            continue;
        }
        let savepoint = tx.savepoint("change").await?;
        let result = apply::apply(&savepoint, change).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}
