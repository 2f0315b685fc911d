//! The feed of several rooms at once (`GET /events?rooms=...`): one
//! sequence of every listed room's events, stored events in id order
//! across rooms, resumable from one global id.
//!
//! Each room has its own channel, and a wake-up on one of them says
//! nothing about the others. What makes the order exact is that the writer
//! publishes in id order, one event after the other: once event Y of one
//! room has been received, every event with a lower id is already in its
//! room's channel. So after a wake-up the feed drains every channel, again
//! and again until a pass finds nothing new, and only then hands out what
//! it holds, sorted by id: anything published later has a higher id than
//! all of it. An unstored event (`members`, `kicked`, `room-deleted`)
//! stays right after the stored event it followed in its own room.
//!
//! Replay (a cursor, or a channel that lagged) reads every listed room from
//! the database in one id-ordered query, page by page, and then goes live;
//! the channels, subscribed before anything was read, hold what was
//! committed meanwhile, and the id check drops what the replay gave already.
//!
//! A room that ends (`room-deleted`, or `kicked` for this viewer) leaves
//! the feed: its presence is released, the other rooms go on. A room whose
//! channel closes was deleted: if its notice was lost to a lag, the feed
//! says it again.

use std::{collections::VecDeque, sync::Arc};

use futures_util::future::select_all;
use prometheus::IntCounter;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::{
    db::{Db, StoreResult},
    events::Event,
    hub::{Entry, Hub, Presence, ReadPosition},
    model::{Audience, Kind, RoomNotice},
};

/// Stored events read from the database per step of a replay.
const CATCH_UP_PAGE: usize = 256;

/// One room of the feed: its channel, the presence the feed holds, and
/// the viewer's read position there (what is delivered is read).
struct Watched {
    room_id: Arc<str>,
    rx: broadcast::Receiver<Arc<Event>>,
    read: ReadPosition,
    _presence: Presence,
}

pub struct RoomsFeed {
    db: Db,
    hub: Hub,
    lag_recoveries: IntCounter,
    user_id: String,
    rooms: Vec<Watched>,
    /// Id of the last stored event delivered (or the starting cursor).
    last: i64,
    catching_up: bool,
    /// After a lag, every room's `members` snapshot follows the replay.
    resync_members: bool,
    /// Ready to hand out, in order, each with its room.
    backlog: VecDeque<(Arc<str>, Arc<Event>)>,
}

impl RoomsFeed {
    /// A feed of the rooms entered (`entries`, with their ids), from
    /// `cursor`, or live when there is none.
    pub fn open(
        (db, hub, lag_recoveries): (&Db, &Hub, IntCounter),
        user_id: String,
        entries: Vec<(String, Entry)>,
        cursor: Option<i64>,
    ) -> RoomsFeed {
        // Rooms were entered one after the other: an event of a room
        // entered later may have been published between the first
        // subscription and its own. Live starts from the first, and reads
        // what came since from the database.
        let first = entries.iter().map(|(_, e)| e.published).min().unwrap_or(0);
        let newest = entries.iter().map(|(_, e)| e.published).max().unwrap_or(0);
        let last = cursor.unwrap_or(first);
        let rooms = entries
            .into_iter()
            .map(|(room_id, entry)| Watched {
                room_id: room_id.into(),
                rx: entry.rx,
                read: entry.read,
                _presence: entry.presence,
            })
            .collect();
        RoomsFeed {
            db: db.clone(),
            hub: hub.clone(),
            lag_recoveries,
            user_id,
            rooms,
            last,
            catching_up: last < newest || cursor.is_some(),
            resync_members: false,
            backlog: VecDeque::new(),
        }
    }

    /// Id of the last stored event delivered (or the starting cursor).
    pub fn last_id(&self) -> i64 {
        self.last
    }

    /// The next event for this viewer, with its room. With no room left
    /// it waits forever (the stream goes on with the lobby).
    pub async fn next(&mut self) -> StoreResult<(Arc<str>, Arc<Event>)> {
        loop {
            if let Some((room_id, event)) = self.backlog.pop_front() {
                if let Some(event) = self.deliver(&room_id, event) {
                    return Ok((room_id, event));
                }
                continue;
            }
            if self.rooms.is_empty() {
                return std::future::pending().await;
            }
            if self.catching_up {
                self.catch_up().await?;
                continue;
            }
            self.gather().await;
        }
    }

    /// An event that can be delivered without waiting, if any, with its
    /// room.
    pub fn ready(&mut self) -> Option<(Arc<str>, Arc<Event>)> {
        loop {
            if self.backlog.is_empty() && !self.catching_up && !self.rooms.is_empty() {
                self.drain(Vec::new());
            }
            let (room_id, event) = self.backlog.pop_front()?;
            if let Some(event) = self.deliver(&room_id, event) {
                return Some((room_id, event));
            }
        }
    }

    /// When replaying, reads the next page from the database now, so that
    /// `ready` can hand it out without waiting for anything live.
    pub async fn prefetch(&mut self) -> StoreResult<()> {
        if self.catching_up && self.backlog.is_empty() && !self.rooms.is_empty() {
            self.catch_up().await?;
        }
        Ok(())
    }

    /// Waits for any room's channel, then drains them all.
    async fn gather(&mut self) {
        let waits = self.rooms.iter_mut().map(|room| Box::pin(room.rx.recv()));
        let (first, index, waits) = select_all(waits).await;
        drop(waits);
        match first {
            Ok(event) => self.drain(vec![(index, event)]),
            Err(RecvError::Lagged(_)) => self.start_catch_up(),
            Err(RecvError::Closed) => self.drain(Vec::new()),
        }
    }

    /// Takes what every channel holds, pass after pass until one finds
    /// nothing new (see the module docs), into the backlog, in order;
    /// `received` is what a wait already took.
    fn drain(&mut self, received: Vec<(usize, Arc<Event>)>) {
        let mut drained: Vec<Vec<Arc<Event>>> = vec![Vec::new(); self.rooms.len()];
        for (index, event) in received {
            drained[index].push(event);
        }
        let mut ended = Vec::new();
        let mut found = true;
        while found {
            found = false;
            for (index, room) in self.rooms.iter_mut().enumerate() {
                loop {
                    match room.rx.try_recv() {
                        Ok(event) => {
                            drained[index].push(event);
                            found = true;
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(_)) => {
                            // The replay covers what was drained: stored
                            // events from the database, snapshots anew.
                            self.start_catch_up();
                            return;
                        }
                        Err(TryRecvError::Closed) => {
                            if !ended.contains(&index) {
                                ended.push(index);
                            }
                            break;
                        }
                    }
                }
            }
        }
        // A channel closes when its room is deleted; the notice saying so
        // may have been lost to a lag: it is said again, and ends the room.
        for index in ended {
            let notice = RoomNotice {
                kind: Kind::RoomDeleted,
                room: self.rooms[index].room_id.to_string(),
            };
            let event = Event::transient(Kind::RoomDeleted, Audience::Room, &notice);
            drained[index].push(Arc::new(event));
        }
        self.merge(drained);
    }

    /// Puts each room's drained events into the backlog, stored events by
    /// id across rooms, each unstored one right after the stored event it
    /// followed in its room.
    fn merge(&mut self, drained: Vec<Vec<Arc<Event>>>) {
        let mut keyed = Vec::new();
        for (room, events) in self.rooms.iter().zip(drained) {
            let mut key = 0;
            for event in events {
                key = event.id.unwrap_or(key);
                keyed.push((key, room.room_id.clone(), event));
            }
        }
        // Stable: a room's own order holds among equal keys.
        keyed.sort_by_key(|(key, _, _)| *key);
        self.backlog
            .extend(keyed.into_iter().map(|(_, room, event)| (room, event)));
    }

    fn start_catch_up(&mut self) {
        self.lag_recoveries.inc();
        self.catching_up = true;
        self.resync_members = true;
    }

    async fn catch_up(&mut self) -> StoreResult<()> {
        let room_ids: Vec<String> = self.rooms.iter().map(|r| r.room_id.to_string()).collect();
        let page = self
            .db
            .events_after_in(&room_ids, &self.user_id, self.last, CATCH_UP_PAGE)
            .await?;
        if page.len() < CATCH_UP_PAGE {
            self.catching_up = false;
        }
        for record in &page {
            self.backlog
                .push_back((record.room.as_str().into(), Arc::new(Event::stored(record))));
        }
        if !self.catching_up && std::mem::take(&mut self.resync_members) {
            for room in &self.rooms {
                if let Some(snapshot) = self.hub.current_snapshot(&room.room_id) {
                    self.backlog.push_back((room.room_id.clone(), snapshot));
                }
            }
        }
        Ok(())
    }

    /// `event` if this viewer has not had it and may see it; a final one
    /// (`room-deleted`, `kicked`) takes its room out of the feed.
    fn deliver(&mut self, room_id: &str, event: Arc<Event>) -> Option<Arc<Event>> {
        let seen = event.id.is_some_and(|id| id <= self.last);
        if seen || !event.audience.admits(&self.user_id) {
            return None;
        }
        if let Some(id) = event.id {
            self.last = id;
            if let Some(room) = self.rooms.iter().find(|room| &*room.room_id == room_id) {
                room.read.reached(id);
            }
        }
        if event.kind.is_final() {
            self.rooms.retain(|room| &*room.room_id != room_id);
            self.backlog.retain(|(room, _)| &**room != room_id);
        }
        Some(event)
    }
}
