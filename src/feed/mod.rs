//! A viewer's feed: the exact sequence of events one user sees in one room,
//! shared by SSE streams and long-polls (`rooms.rs`: in several rooms at
//! once, for the stream of many rooms).
//!
//! The recipe that makes resume exact:
//! 1. subscribe to the room's channel (done by `Hub::enter`, before this);
//! 2. read stored events with `id > last` from the database, in pages, and send;
//! 3. forward live events, skipping any stored event with `id <= last`.
//!
//! Subscribing before reading closes the race with the writer (an event
//! committed in between is in the channel); the id check removes the
//! overlap. Ids only grow, so a viewer never sees one twice or out of order.
//!
//! Step 2 reads from memory instead when the room's recent events reach
//! back to the cursor (`hub/recent.rs`): a poll or a reconnecting stream
//! usually resumes from a few events back.
//!
//! Lag policy: when a receiver falls behind the channel's capacity, it does
//! not drop events and does not buffer them either: it goes back to step 2
//! from its last delivered id and catches up from the database. A slow reader
//! therefore costs a database read, never memory or a lost message.
//!
//! `next` is cancel-safe: state only changes after an await has completed,
//! so a stream may race it against keep-alive ticks and shutdown.

mod rooms;

pub use rooms::RoomsFeed;

use std::{collections::VecDeque, sync::Arc};

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use prometheus::IntCounter;

use crate::{
    db::{Db, StoreResult},
    events::Event,
    hub::{Hub, ReadPosition, Wave},
    metrics::Metrics,
};

/// Stored events read from the database per step of a catch-up.
const CATCH_UP_PAGE: usize = 256;

pub struct Feed {
    db: Db,
    hub: Hub,
    lag_recoveries: IntCounter,
    room_id: String,
    user_id: String,
    rx: broadcast::Receiver<Arc<Event>>,
    /// The room's waves: a feed waits for the next one, not for each event.
    wave: Arc<Wave>,
    /// Id of the last stored event delivered (or the starting cursor).
    last: i64,
    catching_up: bool,
    /// After a lag, the current `members` snapshot follows the catch-up
    /// (snapshots are not stored, so the missed ones cannot be replayed).
    resync_members: bool,
    backlog: VecDeque<Arc<Event>>,
    finished: bool,
    /// A cursor beyond what this node had published: `published` then, to
    /// start from should the database not know the cursor either.
    ahead_of: Option<i64>,
    /// The viewer's read position in the room: what is delivered is read.
    read: ReadPosition,
}

impl Feed {
    /// A feed from `cursor`: replay of every visible stored event after it,
    /// then live; without a cursor, live from `published` (the newest id
    /// published when `rx` was subscribed, see `Hub::enter`). Nothing after
    /// `published` can be missing from the channel, so a cursor at or past
    /// it needs no database read at all.
    pub fn open(
        (db, hub, metrics): (&Db, &Hub, &Metrics),
        room_id: String,
        user_id: String,
        (rx, wave, read): (broadcast::Receiver<Arc<Event>>, Arc<Wave>, ReadPosition),
        published: i64,
        cursor: Option<i64>,
    ) -> Feed {
        // A cursor beyond what this node has published: another node may be
        // further on (the client comes from there), or the database was
        // replaced and the cursor names nothing ever stored, which would
        // skip every new event. The first catch-up asks the database which.
        let start = cursor.unwrap_or(published);
        let ahead_of = (start > published).then_some(published);
        let mut feed = Feed {
            db: db.clone(),
            hub: hub.clone(),
            lag_recoveries: metrics.lag_recoveries.clone(),
            room_id,
            user_id,
            rx,
            wave,
            last: start,
            catching_up: start < published || ahead_of.is_some(),
            resync_members: false,
            backlog: VecDeque::new(),
            finished: false,
            ahead_of,
            read,
        };
        if feed.catching_up && feed.ahead_of.is_none() {
            let source = match hub.recent_after(&feed.room_id, start) {
                Some(missed) => {
                    let news: Vec<_> = missed.into_iter().filter(|e| feed.is_news(e)).collect();
                    feed.backlog.extend(news);
                    feed.catching_up = false;
                    "memory"
                }
                None => "database",
            };
            metrics.resumes.with_label_values(&[source]).inc();
        }
        feed
    }

    /// The next event for this viewer; `None` once the feed has ended
    /// (after `kicked` or `room-deleted`, or when the room's channel closed).
    pub async fn next(&mut self) -> StoreResult<Option<Arc<Event>>> {
        loop {
            if let Some(found) = self.at_hand().await? {
                return Ok(found);
            }
            match self.rx.recv().await {
                Ok(event) => {
                    if let Some(event) = self.admit(event) {
                        return Ok(Some(event));
                    }
                }
                Err(RecvError::Lagged(_)) => self.start_catch_up(),
                Err(RecvError::Closed) => self.finished = true,
            }
        }
    }

    /// As [`Self::next`], but woken by the room's waves (`hub/waves.rs`)
    /// rather than by each event: for a long-poll, which answers a busy
    /// room's events at their wave anyway.
    pub async fn next_in_wave(&mut self) -> StoreResult<Option<Arc<Event>>> {
        let wave = self.wave.clone();
        loop {
            // Made before looking: a wave from here on wakes it.
            let next_wave = wave.next();
            if let Some(found) = self.at_hand().await? {
                return Ok(found);
            }
            next_wave.await;
        }
    }

    /// What [`Self::next`] has without waiting on the room: an event, or
    /// the end (`Some`), or nothing yet (`None`); a catch-up reads the
    /// database meanwhile.
    async fn at_hand(&mut self) -> StoreResult<Option<Option<Arc<Event>>>> {
        loop {
            if let Some(event) = self.ready() {
                return Ok(Some(Some(event)));
            }
            if self.finished {
                return Ok(Some(None));
            }
            if !self.catching_up {
                return Ok(None);
            }
            self.catch_up().await?;
        }
    }

    /// An event that can be delivered without waiting, if any.
    pub fn ready(&mut self) -> Option<Arc<Event>> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(self.deliver(event));
        }
        while !self.catching_up && !self.finished {
            match self.rx.try_recv() {
                Ok(event) => {
                    if let Some(event) = self.admit(event) {
                        return Some(event);
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.start_catch_up(),
                Err(TryRecvError::Closed) => self.finished = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        None
    }

    /// When replaying, fetches the next page from the database now, so that
    /// `ready` can hand it out without waiting for anything live.
    pub async fn prefetch(&mut self) -> StoreResult<()> {
        if self.catching_up && self.backlog.is_empty() {
            self.catch_up().await?;
        }
        Ok(())
    }

    /// Id of the last stored event delivered.
    pub fn last_id(&self) -> i64 {
        self.last
    }

    fn start_catch_up(&mut self) {
        self.lag_recoveries.inc();
        self.catching_up = true;
        self.resync_members = true;
    }

    async fn catch_up(&mut self) -> StoreResult<()> {
        if let Some(published) = self.ahead_of.take()
            && self.last > self.db.newest_id().await?
        {
            // Nothing ever stored has that id: live from where this node was.
            self.last = published;
            self.catching_up = false;
            return Ok(());
        }
        let (room_id, user_id, after) = (self.room_id.clone(), self.user_id.clone(), self.last);
        let page = self
            .db
            .events_after(&room_id, &user_id, after, CATCH_UP_PAGE)
            .await?;
        if page.len() < CATCH_UP_PAGE {
            self.catching_up = false;
        }
        self.backlog
            .extend(page.iter().map(|record| Arc::new(Event::stored(record))));
        if !self.catching_up
            && std::mem::take(&mut self.resync_members)
            && let Some(snapshot) = self.hub.current_snapshot(&self.room_id)
        {
            self.backlog.push_back(snapshot);
        }
        Ok(())
    }

    /// Filters a live event: already delivered, or not for this viewer.
    fn admit(&mut self, event: Arc<Event>) -> Option<Arc<Event>> {
        self.is_news(&event).then(|| self.deliver(event))
    }

    /// For this viewer, and not delivered yet.
    fn is_news(&self, event: &Event) -> bool {
        let seen = event.id.is_some_and(|id| id <= self.last);
        !seen && event.audience.admits(&self.user_id)
    }

    fn deliver(&mut self, event: Arc<Event>) -> Arc<Event> {
        if let Some(id) = event.id {
            self.last = id;
            self.read.reached(id);
        }
        if event.kind.is_final() {
            self.finished = true;
            self.backlog.clear();
        }
        event
    }
}
