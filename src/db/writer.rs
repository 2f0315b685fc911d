//! The single writer: one thread, one SQLite connection, every change.
//!
//! Handlers send a [`Change`] and wait for its answer. The thread takes
//! whatever is queued (up to [`MAX_BATCH`]), applies the changes inside one
//! transaction (each multi-statement change in its own savepoint, so one
//! bad change fails alone), and commits once: group commit, so a burst of
//! posts costs one fsync. Only after the commit does it answer the senders
//! and publish the results to the hub, in id order; a 2xx to a poster
//! therefore always means "committed". Because there is exactly one
//! writer, publish order is id order, which the stream resume logic relies on.

use std::{
    path::{Path, PathBuf},
    thread,
};

use prometheus::IntCounter;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

// The vocabulary of changes lives in `changes.rs`; handlers name it
// through the writer they send it to.
use super::changes::apply;
pub use super::changes::{Change, Done, now};
use crate::{
    db,
    error::{AppError, AppResult},
    hub::Hub,
    model::{EventRecord, NewEvent, RoomRow},
    uploads,
};

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Changes that may wait for the writer before senders are slowed down.
const QUEUE: usize = 8192;

enum Job {
    Apply {
        // Boxed: changes vary in size, and the queue holds thousands.
        change: Box<Change>,
        reply: oneshot::Sender<AppResult<Done>>,
    },
    /// Finish what is queued, checkpoint, stop.
    Stop { reply: oneshot::Sender<()> },
}

/// Cheap handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Waits for the writer thread to finish (after [`Writer::shutdown`]).
pub struct WriterThread(thread::JoinHandle<()>);

impl WriterThread {
    pub fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
    }
}

impl Writer {
    /// Opens the write connection and starts the thread.
    /// `uploads_dir` is where a deleted room's files are removed from.
    /// `stored` counts committed events for `/metrics`.
    pub fn start(
        data_dir: &Path,
        uploads_dir: &Path,
        hub: Hub,
        stored: IntCounter,
    ) -> Result<(Writer, WriterThread), crate::BoxError> {
        let conn = Connection::open(data_dir.join(db::DB_FILE))?;
        db::configure(&conn)?;
        // The writer alone decides durability: FULL makes a commit survive
        // power loss, and group commit keeps its cost per batch, not per post.
        conn.pragma_update(None, "synchronous", "FULL")?;
        hub.stored_before_start(db::events::newest_id(&conn)?);
        let (jobs, queue) = mpsc::channel(QUEUE);
        let uploads_dir = uploads_dir.to_owned();
        let handle = thread::Builder::new()
            .name("gifchat-writer".into())
            .spawn(move || run(conn, queue, hub, uploads_dir, stored))?;
        Ok((Writer { jobs }, WriterThread(handle)))
    }

    /// Applies one change; answers once it is committed and published.
    pub async fn apply(&self, change: Change) -> AppResult<Done> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Apply {
                change: Box::new(change),
                reply,
            })
            .await
            .map_err(|_| AppError::Unavailable)?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }

    /// Applies a change that stores an event (`Append`, `Ban`,
    /// `SetOwner`) and returns that event.
    pub async fn event(&self, change: Change) -> AppResult<EventRecord> {
        match self.apply(change).await? {
            Done::Event(record) => Ok(record),
            other => Err(unexpected(other)),
        }
    }

    pub async fn append(&self, event: NewEvent) -> AppResult<EventRecord> {
        self.event(Change::Append(event)).await
    }

    /// Stores a member's post, once the writer has checked that its sender
    /// may post in the room (see [`Change::Post`]).
    pub async fn post(&self, event: NewEvent) -> AppResult<EventRecord> {
        self.event(Change::Post(event)).await
    }

    pub async fn create_room(&self, room: RoomRow) -> AppResult<RoomRow> {
        match self.apply(Change::CreateRoom(room)).await? {
            Done::Room(room) => Ok(room),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the thread to finish what is queued, checkpoint the WAL and
    /// stop. Later changes answer 503.
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Stop { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }
}

fn unexpected(done: Done) -> AppError {
    AppError::Internal(format!("writer answered {done:?}").into())
}

fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<Job>,
    hub: Hub,
    uploads_dir: PathBuf,
    stored: IntCounter,
) {
    let mut stop = None;
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(64);
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Apply { change, reply } => batch.push((change, reply)),
                Job::Stop { reply } => {
                    stop = Some(reply);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        let results = commit(&mut conn, batch.iter().map(|(change, _)| &**change));
        let events = results
            .iter()
            .filter(|r| matches!(r, Ok(Done::Event(_))))
            .count();
        stored.inc_by(events as u64);
        // Posters are answered before their messages are published: the
        // answer only promises the commit, and publishing a message to a
        // big room wakes thousands of viewers, whom the poster's answer
        // would otherwise queue behind. Other changes (system notices,
        // bans, owners) are published before their answer, as their
        // senders expect the hub to show them already; publishing stays
        // in id order.
        let mut messages = Vec::new();
        for ((change, reply), result) in batch.into_iter().zip(results) {
            match (&*change, result) {
                (Change::Post(_), Ok(Done::Event(record))) => {
                    let _ = reply.send(Ok(Done::Event(record.clone())));
                    messages.push(record);
                }
                (_, result) => {
                    for record in messages.drain(..) {
                        hub.publish_stored(&record);
                    }
                    if let Ok(done) = &result {
                        publish(&hub, &uploads_dir, &change, done);
                    }
                    let _ = reply.send(result);
                }
            }
        }
        for record in messages {
            hub.publish_stored(&record);
        }
        if stop.is_some() {
            break;
        }
    }
    queue.close();
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
    drop(conn);
    if let Some(reply) = stop {
        let _ = reply.send(());
    }
}

/// Applies the batch in one transaction, each change in a savepoint so one
/// bad change (a vanished room, say) fails alone.
fn commit<'a>(
    conn: &mut Connection,
    batch: impl ExactSizeIterator<Item = &'a Change> + Clone,
) -> Vec<AppResult<Done>> {
    let size = batch.len();
    let mut attempt = || -> rusqlite::Result<Vec<AppResult<Done>>> {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(size);
        for change in batch.clone() {
            if change.writes_once() {
                // One statement is atomic on its own: a failed one leaves
                // nothing behind, so it needs no savepoint (two statements
                // parsed and run per change otherwise). Some errors (I/O,
                // a full disk) roll back the whole transaction, though:
                // then the batch fails as a whole, as a failed commit does.
                let result = apply(&tx, change);
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
            match apply(&savepoint, change) {
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
                .map(|_| Err(AppError::Internal(format!("commit failed: {e}").into())))
                .collect()
        }
    }
}

/// Tells the hub what a committed change means for the people watching.
fn publish(hub: &Hub, uploads_dir: &Path, change: &Change, done: &Done) {
    match (change, done) {
        (_, Done::Event(record)) => {
            // A new owner is known to the hub before the notice goes out:
            // whoever reads "bob is now the owner" and asks for the members
            // next must find bob the owner.
            if let Change::SetOwner { owner, .. } = change {
                hub.owner_changed(&record.room, owner);
            }
            hub.publish_stored(record);
            // The kicked user's stream gets the notice, then `kicked`, and
            // ends. (Their posts were refused from the commit on: the
            // writer checks bans in the transaction that stores a post.)
            if let Change::Ban { user, .. } = change {
                hub.kicked(&record.room, &user.id);
            }
        }
        (_, Done::Room(room)) => hub.room_created(room),
        (Change::DeleteRoom { room_id }, Done::Deleted { existed, gifs }) => {
            if *existed {
                hub.room_deleted(room_id);
            }
            uploads::remove_files(uploads_dir, gifs);
        }
        (Change::Rename { user }, _) => hub.renamed(user),
        (Change::Admit { room_id, user_id }, _) => hub.admitted(room_id, user_id),
        _ => {}
    }
}
