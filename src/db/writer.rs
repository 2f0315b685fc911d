//! The single writer: one thread, one database connection, every change.
//!
//! Callers name the change they want ([`Writer::post`], [`Writer::ban`],
//! [`Writer::set_owner`], [`Writer::create_session`]...) and wait for its
//! answer. The thread takes whatever is queued (up to [`MAX_BATCH`]),
//! applies the changes inside one transaction (each multi-statement change
//! in its own savepoint, so one bad change fails alone), and commits once:
//! group commit, so a burst of posts costs one fsync. Only after the commit
//! does it answer the senders and report what it committed to
//! [`AfterCommit`], in id order; a 2xx to a poster therefore always means
//! "committed". Because there is exactly one writer, report order is id
//! order, which the stream resume logic relies on.
//!
//! Storage knows nothing above it: what a committed change means for the
//! people watching (publishing, forgetting remembered access, removing a
//! deleted room's files) is the [`AfterCommit`] implementation's business
//! (`after_commit.rs`).
//!
//! The thread is the same for both backends: each brings a [`Commit`],
//! which applies a batch in one transaction on its connection.
//!
//! Where other writers share the database (gifchat nodes on one
//! PostgreSQL), the thread also reports what they committed, so that its
//! report is the whole log in id order: it keeps `caught_up`, the id up to
//! which every committed event has been reported; a batch of its own whose
//! ids start further on first reports the events in between (the backend
//! reads them in the batch's transaction, where they are all committed),
//! and news of other writers' commits ([`Writer::news`], from the
//! backend's listener) has it read the log up to them.

use std::thread;

use prometheus::IntCounter;
use tokio::sync::{mpsc, oneshot};

pub use super::changes::{RoomSettings, now};
use super::{
    StoreError, StoreResult,
    changes::{Change, Done},
    presence::{PresenceChange, PresenceDone},
};
use crate::model::{EventRecord, NewEvent, Present, ReadMark, RoomRow, SessionRow, Unread, User};

/// A backend's side of the writer: its connection, on the writer thread.
pub(crate) trait Commit: Send + 'static {
    /// The newest id handed out so far (0 for a new database) and, as of
    /// that id, who is present through other nodes.
    fn start(&mut self) -> StoreResult<Start>;
    /// Applies the batch in one transaction, so that one bad change (a
    /// vanished room, say) fails alone, and commits it: one result per
    /// change, in order. A failed commit fails every change. Every event
    /// up to `caught_up` has been reported.
    fn commit(&mut self, batch: &[&Change], caught_up: i64) -> Committed;
    /// What other writers committed after `caught_up`, in id order.
    fn follow(&mut self, caught_up: i64) -> StoreResult<Followed> {
        Ok(Followed {
            logged: Vec::new(),
            through: caught_up,
        })
    }
    /// Called once, when the writer stops.
    fn close(&mut self) {}
}

/// Where the log stood when the writer started.
pub struct Start {
    pub newest: i64,
    /// Presence through other nodes, longest present first.
    pub present: Vec<Present>,
}

/// What a batch's commit did.
pub(crate) struct Committed {
    /// One per change, in order.
    pub results: Vec<StoreResult<Done>>,
    /// What other writers committed after `caught_up` and before this
    /// batch's ids, in id order.
    pub before: Vec<Logged>,
    /// Every id up to this one is now committed or will never be used.
    pub through: i64,
}

/// What other writers committed, in id order.
pub(crate) struct Followed {
    pub logged: Vec<Logged>,
    /// Every id up to this one is committed or will never be used.
    pub through: i64,
}

/// An open database's writing side, handed to [`Writer::start`]: the
/// connection, and where other writers' commits are announced (PostgreSQL).
pub struct Engine {
    commit: Box<dyn Commit>,
    news: Option<Box<dyn FnOnce(Writer) + Send>>,
}

impl Engine {
    pub(crate) fn new(commit: impl Commit) -> Self {
        Self {
            commit: Box::new(commit),
            news: None,
        }
    }

    /// `listen` is started with the writer and tells it of other writers'
    /// commits ([`Writer::news`]) until the writer stops.
    pub(crate) fn with_news(mut self, listen: impl FnOnce(Writer) + Send + 'static) -> Self {
        self.news = Some(Box::new(listen));
        self
    }
}

/// What a committed change means for the people watching: called on the
/// writer thread, in commit (so id) order, before the change's sender is
/// answered (posts excepted: see [`run`]). Implemented by the live side
/// (`after_commit.rs`); storage never reaches above itself.
pub trait AfterCommit: Send + 'static {
    /// At start-up: the newest id stored before this process ran, and who
    /// is present through other nodes as of it.
    fn started(&self, newest_id: i64, present: &[Present]);
    /// A stored event: a post, a notice, a kick's or a hand-over's notice.
    fn stored(&self, record: &EventRecord);
    /// A room was created.
    fn room_created(&self, room: &RoomRow);
    /// A room's settings changed (reported before the notice saying so).
    fn room_changed(&self, room: &RoomRow);
    /// A room was deleted (`existed`: it was there to delete), with the
    /// URLs of the GIFs its events referred to.
    fn room_deleted(&self, room_id: &str, existed: bool, gifs: &[String]);
    /// A room has a new owner (reported before the notice saying so).
    fn owner_changed(&self, room_id: &str, owner: &User);
    /// A user was banned from a room (reported after the notice saying so).
    fn banned(&self, room_id: &str, user_id: &str);
    /// A user gave a private room's password.
    fn admitted(&self, room_id: &str, user_id: &str);
    /// A user set their display name.
    fn renamed(&self, user: &User);
    /// A GIF message was deleted (reported after its `delete` event).
    fn gif_erased(&self, url: &str);
    /// Users' read positions moved (here or on another node).
    fn read(&self, moved: &[Unread]);
    /// `user` is typing in the room, through another node (never stored).
    fn typing(&self, room_id: &str, user: &User);
    /// A round of presence (this node's, or a dead node's removed here),
    /// reported before the notices it stored.
    fn presence(&self, done: &PresenceDone);
    /// Another writer (another node) changed something that is no event.
    fn changed_elsewhere(&self, change: &Changed);
}

/// What another writer committed, in the log's order.
#[derive(Debug)]
pub enum Logged {
    Event(EventRecord),
    Change(Changed),
}

/// What another writer changed besides storing events.
#[derive(Debug, Clone)]
pub enum Changed {
    RoomCreated(RoomRow),
    /// The room's settings changed (the notice saying so comes next).
    RoomChanged(RoomRow),
    RoomDeleted {
        room_id: String,
    },
    /// The room has a new owner (the notice saying so comes next).
    Owner {
        room_id: String,
        owner: User,
    },
    /// A user was banned (after the notice saying so).
    Banned {
        room_id: String,
        user_id: String,
    },
    /// A user gave a private room's password.
    Admitted {
        room_id: String,
        user_id: String,
    },
    /// A user's read position moved.
    Read(Unread),
    Renamed(User),
    /// `user` arrived in (or departed from) the room through `node`
    /// (before the notice saying so, if it was one).
    Presence {
        room: RoomRow,
        node: String,
        user: User,
        arrived: bool,
    },
}

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Changes that may wait for the writer before senders are slowed down.
const QUEUE: usize = 8192;

enum Job {
    Apply {
        // Boxed: changes vary in size, and the queue holds thousands.
        change: Box<Change>,
        reply: oneshot::Sender<StoreResult<Done>>,
    },
    /// Another writer committed, through `hint` when it is known: read the
    /// log up to there.
    Follow { hint: Option<i64> },
    /// Someone is typing in a room, through another node.
    Typing { room_id: String, user: User },
    /// Finish what is queued, checkpoint, stop.
    Stop { reply: oneshot::Sender<()> },
}

/// What a post was.
#[derive(Debug)]
pub enum Post {
    /// Stored now.
    New(EventRecord),
    /// A repeat: the event stored the first time.
    Repeat(EventRecord),
}

impl Post {
    pub fn record(&self) -> &EventRecord {
        match self {
            Post::New(record) | Post::Repeat(record) => record,
        }
    }
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
    /// Starts the thread on `engine`, which reports what it commits to
    /// `after`; returns once `after` knows the newest id stored. `stored`
    /// counts committed events for `/metrics`.
    pub async fn start(
        engine: Engine,
        after: impl AfterCommit,
        stored: IntCounter,
    ) -> Result<(Writer, WriterThread), crate::BoxError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (ready, started) = oneshot::channel();
        let Engine { commit, news } = engine;
        let handle = thread::Builder::new()
            .name("gifchat-writer".into())
            .spawn(move || {
                let mut engine = commit;
                match engine.start() {
                    Ok(Start { newest, present }) => {
                        after.started(newest, &present);
                        let _ = ready.send(Ok(()));
                        run(engine, queue, after, stored, newest);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })?;
        started
            .await
            .map_err(|_| StoreError::Stopped)
            .and_then(|started| started)?;
        let writer = Writer { jobs };
        if let Some(listen) = news {
            listen(writer.clone());
        }
        Ok((writer, WriterThread(handle)))
    }

    /// Applies one change; answers once it is committed and reported.
    async fn apply(&self, change: Change) -> StoreResult<Done> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Apply {
                change: Box::new(change),
                reply,
            })
            .await
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Applies a change that stores an event and returns that event.
    async fn event(&self, change: Change) -> StoreResult<EventRecord> {
        match self.apply(change).await? {
            Done::Event(record) => Ok(record),
            other => Err(unexpected(other)),
        }
    }

    /// Applies a change that answers nothing but its commit.
    async fn done(&self, change: Change) -> StoreResult<()> {
        self.apply(change).await.map(|_| ())
    }

    /// Stores a member's message, whisper or GIF, if its sender may post in
    /// the room: checked in the same transaction, so a post racing a kick
    /// is either stored before the ban or refused after it (`Refused`). A
    /// repeat of a post (the same `client_id` by the same user in the room)
    /// stores nothing and answers the event stored the first time.
    pub async fn post(&self, event: NewEvent) -> StoreResult<Post> {
        match self.apply(Change::Post(event)).await? {
            Done::Event(record) => Ok(Post::New(record)),
            Done::Repeat(record) => Ok(Post::Repeat(record)),
            other => Err(unexpected(other)),
        }
    }

    /// Stores a change to a message (a `reaction`, `unreaction`, `edit`
    /// or `delete` by its user, about its `target`), if the message allows
    /// it: checked in the same transaction (`targets.rs`), so a change
    /// racing a delete is refused (`Message`). A reaction the user has
    /// given already stores nothing and answers the event that gave it.
    pub async fn change_message(&self, change: NewEvent) -> StoreResult<Post> {
        match self.apply(Change::Modify(change)).await? {
            Done::Event(record) | Done::Erased { record, .. } => Ok(Post::New(record)),
            Done::Repeat(record) => Ok(Post::Repeat(record)),
            other => Err(unexpected(other)),
        }
    }

    /// Stores an event as it is (a `system` notice).
    pub async fn notice(&self, event: NewEvent) -> StoreResult<EventRecord> {
        self.event(Change::Append(event)).await
    }

    /// Gives a room a bot that posts with the key hashed as `key_hash`.
    pub async fn create_bot(&self, room_id: &str, key_hash: String, bot: User) -> StoreResult<()> {
        self.done(Change::CreateBot {
            room_id: room_id.to_owned(),
            key_hash,
            bot,
        })
        .await
    }

    /// A bot's key stops working; whether there was one.
    pub async fn delete_bot(&self, room_id: &str, key_hash: String) -> StoreResult<bool> {
        let change = Change::DeleteBot {
            room_id: room_id.to_owned(),
            key_hash,
        };
        match self.apply(change).await? {
            Done::Deleted { existed, .. } => Ok(existed),
            other => Err(unexpected(other)),
        }
    }

    /// Changes a room's settings, with the notice saying so; a password
    /// set on an open room admits whoever is present. The notice.
    pub async fn room_settings(&self, settings: RoomSettings) -> StoreResult<EventRecord> {
        match self.apply(Change::Settings(settings)).await? {
            Done::Settings { notice, .. } => Ok(notice),
            other => Err(unexpected(other)),
        }
    }

    /// Moves read positions on (never back); reports each that moved with
    /// its unread count.
    pub async fn mark_read(&self, marks: Vec<ReadMark>) -> StoreResult<Vec<Unread>> {
        match self.apply(Change::MarkRead(marks)).await? {
            Done::Read(moved) => Ok(moved),
            other => Err(unexpected(other)),
        }
    }

    /// Creates a room; its creator is admitted to it.
    pub async fn create_room(&self, room: RoomRow) -> StoreResult<RoomRow> {
        match self.apply(Change::CreateRoom(room)).await? {
            Done::Room(room) => Ok(room),
            other => Err(unexpected(other)),
        }
    }

    /// Remembers that a user gave a private room's password.
    pub async fn admit(&self, room_id: &str, user_id: &str) -> StoreResult<()> {
        self.done(Change::Admit {
            room_id: room_id.to_owned(),
            user_id: user_id.to_owned(),
        })
        .await
    }

    /// Bans `user` from the notice's room, and the client `addresses`
    /// (for the room's life), with the notice saying so.
    pub async fn ban(
        &self,
        user: User,
        addresses: Vec<String>,
        notice: NewEvent,
    ) -> StoreResult<EventRecord> {
        self.event(Change::Ban {
            user,
            addresses,
            notice,
        })
        .await
    }

    /// Hands the notice's room to `owner`, with the notice saying so.
    pub async fn set_owner(&self, owner: User, notice: NewEvent) -> StoreResult<EventRecord> {
        self.event(Change::SetOwner { owner, notice }).await
    }

    /// Deletes a room with its events; whether it was there to delete.
    pub async fn delete_room(&self, room_id: &str) -> StoreResult<bool> {
        let change = Change::DeleteRoom {
            room_id: room_id.to_owned(),
        };
        match self.apply(change).await? {
            Done::Deleted { existed, .. } => Ok(existed),
            other => Err(unexpected(other)),
        }
    }

    /// A user set their display name: rooms they own show it.
    pub async fn rename(&self, user: User) -> StoreResult<()> {
        self.done(Change::Rename { user }).await
    }

    /// Inserts a new session: `SessionTaken` if its id is in use.
    pub async fn create_session(&self, row: SessionRow) -> StoreResult<()> {
        self.done(Change::CreateSession(row)).await
    }

    /// Inserts or replaces a session.
    pub async fn save_session(&self, row: SessionRow) -> StoreResult<()> {
        self.done(Change::SaveSession(row)).await
    }

    pub async fn delete_session(&self, id: &str) -> StoreResult<()> {
        self.done(Change::DeleteSession { id: id.to_owned() }).await
    }

    /// Deletes sessions that expired before `now` (Unix seconds).
    pub async fn delete_expired_sessions(&self, now: i64) -> StoreResult<()> {
        self.done(Change::DeleteExpiredSessions { now }).await
    }

    /// Stores a round of presence: rows, notices, heir, an emptied room's
    /// deletion, as `presence.rs` decides.
    pub async fn presence(&self, change: PresenceChange) -> StoreResult<PresenceDone> {
        match self.apply(Change::Presence(change)).await? {
            Done::Presence(done) => Ok(*done),
            other => Err(unexpected(other)),
        }
    }

    /// Renews this node's lease; whether it had run out (its presence may
    /// have been removed by others, and must be stored again).
    pub async fn renew_lease(&self, lease: std::time::Duration) -> StoreResult<bool> {
        match self.apply(Change::RenewLease { lease }).await? {
            Done::Lease { lost } => Ok(lost),
            other => Err(unexpected(other)),
        }
    }

    /// Forgets dead nodes whose presence is all removed.
    pub async fn forget_dead_nodes(&self) -> StoreResult<()> {
        self.done(Change::ForgetDeadNodes).await
    }

    /// Deletes the room if nobody has been in it for `ttl`; whether it did.
    pub async fn delete_if_vacant(
        &self,
        room_id: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<bool> {
        let change = Change::DeleteIfVacant {
            room_id: room_id.to_owned(),
            ttl,
        };
        match self.apply(change).await? {
            Done::Deleted { existed, .. } => Ok(existed),
            other => Err(unexpected(other)),
        }
    }

    /// Another writer committed (through `hint`, when the news says):
    /// the thread reads the log up to there and reports it. Never waits: a
    /// full queue means the thread is busy, and its next batch reads the
    /// log anyway. False once the writer has stopped.
    pub fn news(&self, hint: Option<i64>) -> bool {
        !matches!(
            self.jobs.try_send(Job::Follow { hint }),
            Err(mpsc::error::TrySendError::Closed(_))
        )
    }

    /// Someone is typing in a room, through another node: the live side
    /// hears it in turn with what is committed. Never waits (a full queue
    /// drops it: it is only a "typing").
    pub fn typing_elsewhere(&self, room_id: String, user: User) {
        let _ = self.jobs.try_send(Job::Typing { room_id, user });
    }

    /// Asks the thread to finish what is queued, close the database (SQLite
    /// checkpoints its WAL) and stop. Later changes answer `Stopped`.
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Stop { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }
}

fn unexpected(done: Done) -> StoreError {
    StoreError::Database(format!("the writer answered {done:?}").into())
}

/// The thread: batches, commits, reports. Every change is reported before
/// it is answered, in id order: whoever was answered sees what they did in
/// what they ask next (a poll sent the moment a post is answered has the
/// post; a lobby stream opened after it does not hear of it late).
/// Answering posters first, as this once did to spare them the wake-ups of
/// a big room, let those requests miss it.
fn run(
    mut engine: Box<dyn Commit>,
    mut queue: mpsc::Receiver<Job>,
    after: impl AfterCommit,
    stored: IntCounter,
    mut caught_up: i64,
) {
    let mut stop = None;
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(64);
        // Whether to read the log for other writers' events after the batch.
        let mut follow = false;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Apply { change, reply } => batch.push((change, reply)),
                Job::Follow { hint } => follow |= hint.is_none_or(|hint| hint > caught_up),
                Job::Typing { room_id, user } => after.typing(&room_id, &user),
                Job::Stop { reply } => {
                    stop = Some(reply);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            caught_up = commit_and_report(&mut *engine, batch, &after, &stored, caught_up);
        }
        if follow {
            caught_up = follow_others(&mut *engine, &after, caught_up);
        }
        if stop.is_some() {
            break;
        }
    }
    queue.close();
    engine.close();
    drop(engine);
    if let Some(reply) = stop {
        let _ = reply.send(());
    }
}

/// A batch of this writer's: committed, answered and reported, after the
/// events other writers committed before it. The id reported through.
fn commit_and_report(
    engine: &mut dyn Commit,
    batch: Vec<(Box<Change>, oneshot::Sender<StoreResult<Done>>)>,
    after: &impl AfterCommit,
    stored: &IntCounter,
    caught_up: i64,
) -> i64 {
    let changes: Vec<&Change> = batch.iter().map(|(change, _)| &**change).collect();
    let Committed {
        results,
        before,
        through,
    } = engine.commit(&changes, caught_up);
    drop(changes);
    for logged in &before {
        report_logged(after, logged);
    }
    let events: usize = results
        .iter()
        .map(|result| match result {
            Ok(Done::Event(_) | Done::Erased { .. } | Done::Settings { .. }) => 1,
            Ok(Done::Presence(done)) => [&done.joined, &done.left, &done.heir]
                .into_iter()
                .flatten()
                .count(),
            _ => 0,
        })
        .sum();
    stored.inc_by(events as u64);
    for ((change, reply), result) in batch.into_iter().zip(results) {
        if let Ok(done) = &result {
            report(after, &change, done);
        }
        let _ = reply.send(result);
    }
    through.max(caught_up)
}

/// Reports what other writers committed since `caught_up`; the id
/// reported through.
fn follow_others(engine: &mut dyn Commit, after: &impl AfterCommit, caught_up: i64) -> i64 {
    match engine.follow(caught_up) {
        Ok(Followed { logged, through }) => {
            for logged in &logged {
                report_logged(after, logged);
            }
            through.max(caught_up)
        }
        Err(e) => {
            // The listener's backstop asks again shortly.
            tracing::warn!(error = %e, "reading other writers' events failed");
            caught_up
        }
    }
}

/// Tells `after` what another writer committed.
fn report_logged(after: &impl AfterCommit, logged: &Logged) {
    match logged {
        Logged::Event(record) => after.stored(record),
        Logged::Change(change) => after.changed_elsewhere(change),
    }
}

/// Tells `after` what a committed change did.
fn report(after: &impl AfterCommit, change: &Change, done: &Done) {
    match (change, done) {
        (_, Done::Event(record)) => {
            // A new owner is known before the notice goes out: whoever reads
            // "bob is now the owner" and asks for the members next must find
            // bob the owner.
            if let Change::SetOwner { owner, .. } = change {
                after.owner_changed(&record.room, owner);
            }
            after.stored(record);
            // The kicked user's stream gets the notice, then `kicked`, and
            // ends. (Their posts were refused from the commit on: the
            // writer checks bans in the transaction that stores a post.)
            if let Change::Ban { user, .. } = change {
                after.banned(&record.room, &user.id);
            }
        }
        (_, Done::Erased { record, gif }) => {
            after.stored(record);
            if let Some(url) = gif {
                after.gif_erased(url);
            }
        }
        (_, Done::Room(room)) => after.room_created(room),
        (
            Change::DeleteRoom { room_id } | Change::DeleteIfVacant { room_id, .. },
            Done::Deleted { existed, gifs },
        ) => {
            after.room_deleted(room_id, *existed, gifs);
        }
        (_, Done::Presence(done)) => {
            after.presence(done);
            for notice in [&done.joined, &done.left].into_iter().flatten() {
                after.stored(notice);
            }
            if let Some(notice) = &done.heir {
                after.owner_changed(&done.room.id, &done.room.owner);
                after.stored(notice);
            }
            if let Some(gifs) = &done.deleted {
                after.room_deleted(&done.room.id, true, gifs);
            }
        }
        (_, Done::Read(moved)) => after.read(moved),
        (_, Done::Settings { room, notice }) => {
            after.room_changed(room);
            after.stored(notice);
        }
        (Change::Rename { user }, _) => after.renamed(user),
        (Change::Admit { room_id, user_id }, _) => after.admitted(room_id, user_id),
        _ => {}
    }
}
