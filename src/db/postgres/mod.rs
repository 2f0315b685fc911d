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
mod listen;
mod reads;
pub mod schema;

pub use reads::PgReads;

use std::{future::Future, future::poll_fn, task::Poll, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::maybe_done;
use tokio::runtime::Handle;

use super::{
    Db, Engine, StoreError, StoreResult,
    changes::{Change, Done},
    writer::{Commit, Committed, Followed, Logged, Start},
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
            node: format!("{:016x}", rand::random::<u64>()),
        })
        .with_news(listen::start(url.to_owned())),
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
    /// This process's name in `nodes` and `presence`: new on every start,
    /// so a restarted node's old presence expires with its old lease.
    node: String,
}

impl Commit for PgEngine {
    /// The newest id and the presence rows from one snapshot, so that the
    /// log after that id is exactly what changed since.
    fn start(&mut self) -> StoreResult<Start> {
        self.runtime.block_on(async {
            let mut client = self.pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let row = tx.query_one("SELECT last FROM event_ids", &[]).await?;
            let newest = row.try_get(0)?;
            let present = reads::present(&tx).await?;
            tx.commit().await?;
            tracing::info!(node = self.node, "this node's name in the database");
            Ok(Start { newest, present })
        })
    }

    fn commit(&mut self, batch: &[&Change], caught_up: i64) -> Committed {
        self.runtime
            .block_on(commit(&self.pool, batch, caught_up, &self.node))
    }

    fn follow(&mut self, caught_up: i64) -> StoreResult<Followed> {
        self.runtime.block_on(async {
            let client = self.pool.get().await?;
            // Committed: every id up to it is settled.
            let row = client.query_one("SELECT last FROM event_ids", &[]).await?;
            let through: i64 = row.try_get(0)?;
            if through <= caught_up {
                return Ok(Followed {
                    logged: Vec::new(),
                    through: caught_up,
                });
            }
            Ok(Followed {
                logged: reads::log(&client, caught_up, through).await?,
                through,
            })
        })
    }
}

/// What a transaction that committed did: the results, what others
/// committed before its own ids, and the id committed through.
type Attempted = (Vec<StoreResult<Done>>, Vec<Logged>, i64);

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

/// Applies the batch in one transaction and commits it. Most changes are
/// posts and sessions, one statement each: a run of them is pipelined (sent
/// together, in order, and answered together: one round trip for the run,
/// not one per change) and needs no savepoint (each costs two round trips).
/// Only when a statement failed is the batch run again with a savepoint
/// around every change.
async fn commit(pool: &Pool, batch: &[&Change], caught_up: i64, node: &str) -> Committed {
    let outcome = match attempt(pool, batch, caught_up, node, false).await {
        Err(Failed::Aborted(cause)) => {
            tracing::debug!(error = %cause, "a change failed: committing each alone");
            attempt(pool, batch, caught_up, node, true).await
        }
        outcome => outcome,
    };
    match outcome {
        Ok((results, before, through)) => Committed {
            results,
            before,
            through,
        },
        Err(Failed::Aborted(cause) | Failed::Whole(cause)) => {
            tracing::error!(error = %cause, changes = batch.len(), "commit failed");
            let unreachable = matches!(cause, StoreError::Unreachable(_));
            let message = cause.to_string();
            let results = batch
                .iter()
                .map(|_| {
                    let cause = format!("commit failed: {message}").into();
                    Err(if unreachable {
                        StoreError::Unreachable(cause)
                    } else {
                        StoreError::Database(cause)
                    })
                })
                .collect();
            Committed {
                results,
                before: Vec::new(),
                through: caught_up,
            }
        }
    }
}

/// One try at the batch; `each_alone` puts every change in a savepoint.
/// Once the batch's ids are taken, every lower id is committed: those of
/// other writers after `caught_up` are read in the same transaction, to be
/// reported before the batch's own. A batch that stores events announces
/// its last id on commit (`NOTIFY`), for the other nodes' listeners.
async fn attempt(
    pool: &Pool,
    batch: &[&Change],
    caught_up: i64,
    node: &str,
    each_alone: bool,
) -> Result<Attempted, Failed> {
    let mut client = pool.get().await.map_err(|e| Failed::Whole(e.into()))?;
    let mut tx = client.transaction().await?;
    let needed: usize = batch.iter().map(|change| apply::ids_needed(change)).sum();
    let (first, through, before) = match needed {
        0 => (0, caught_up, Vec::new()),
        _ => {
            let first = apply::reserve_ids(&tx, needed).await?;
            let before = match first > caught_up + 1 {
                true => reads::log(&tx, caught_up, first - 1)
                    .await
                    .map_err(Failed::Whole)?,
                false => Vec::new(),
            };
            (first, first + needed as i64 - 1, before)
        }
    };
    let mut ids = first;
    let mut results = Vec::with_capacity(batch.len());
    let mut rest = batch;
    while let Some((&first, after)) = rest.split_first() {
        let run = match each_alone {
            true => 0,
            false => rest
                .iter()
                .take_while(|change| apply::single_statement(change).is_some())
                .count(),
        };
        if run > 0 {
            let (now, later) = rest.split_at(run);
            for result in pipelined(&tx, now, &mut ids, node).await? {
                if let Err(cause @ (StoreError::Database(_) | StoreError::Unreachable(_))) = result
                {
                    return Err(Failed::Aborted(cause));
                }
                results.push(result);
            }
            rest = later;
            continue;
        }
        let savepoint = tx.savepoint("change").await?;
        let id = take_ids(first, &mut ids);
        let result = apply::apply(&savepoint, first, id, node).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
        rest = after;
    }
    if needed > 0 {
        listen::announce(&tx, through).await?;
    }
    tx.commit().await?;
    Ok((results, before, through))
}

/// Applies single-statement changes pipelined, in order: their statements
/// are prepared first (once per connection), so that each change's first
/// poll sends its statement at once, and the futures are first polled in
/// the batch's order.
async fn pipelined(
    tx: &deadpool_postgres::Transaction<'_>,
    changes: &[&Change],
    ids: &mut i64,
    node: &str,
) -> Result<Vec<StoreResult<Done>>, tokio_postgres::Error> {
    let mut prepared = Vec::new();
    for sql in changes.iter().filter_map(|c| apply::single_statement(c)) {
        if !prepared.contains(&sql) {
            tx.prepare_cached(sql).await?;
            prepared.push(sql);
        }
    }
    let mut pending: Vec<_> = changes
        .iter()
        .map(|&change| {
            let id = take_ids(change, ids);
            Box::pin(maybe_done(apply::apply(tx, change, id, node)))
        })
        .collect();
    poll_fn(|cx| {
        let mut done = true;
        for change in &mut pending {
            done &= change.as_mut().poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    Ok(pending
        .iter_mut()
        .map(|change| {
            change
                .as_mut()
                .take_output()
                .unwrap_or_else(|| Err(StoreError::Database("a change was not applied".into())))
        })
        .collect())
}

/// The first of the ids `change` takes from this batch's block, whose next
/// free id is `next`.
fn take_ids(change: &Change, next: &mut i64) -> i64 {
    let first = *next;
    *next += apply::ids_needed(change) as i64;
    first
}
