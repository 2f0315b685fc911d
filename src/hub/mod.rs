//! The hub: who is watching what, and the channels that reach them.
//!
//! One `tokio::broadcast` channel per room that someone is present in, and
//! one for the lobby. The writer publishes committed events here in id
//! order; streams and polls subscribe (see `feed.rs` for how a viewer turns
//! a subscription plus the database into an exact, gap-free sequence).
//!
//! `Hub` is a cheap handle around `Arc<Shared>`; its methods hide the
//! locking. The state sits behind a std `Mutex`, never held across an
//! `.await`: every critical section is a few map operations, so a blocking
//! lock is cheaper than an async one.
//!
//! - `presence`: who is in each room: entering (capacity), leaving after a
//!   grace period, kicks, snapshots, rooms nobody enters.
//! - `grace`: departures once the grace period has passed, one queue for
//!   the hub.
//! - `roster`: one room's members in arrival order, the snapshot list cached.
//! - `folding`: a room's changes of each second become one round of
//!   notices, snapshot and lobby update.
//! - `recent`: a room's recent stored events, for resuming without the database.
//! - `admission`: who may be in a room, remembered while it is in memory.
//! - `addresses`: the client addresses each user came to a room from, for
//!   a kick that keeps them out.
//! - `lobby`: the lobby channel and its version counter for long-polls.
//! - `reads`: what each user has been delivered of each room, for unread
//!   counts, and the lobby's `room-activity` and `read` events.
//! - `typing`: who is typing, as ephemeral events, throttled per user.
//! - `pace`: a busy room's messages go to long-polls in waves.
//! - `waves`: a room's channel, which wakes its waiting long-polls once
//!   per wave rather than once per event.
//!
//! The hub sits above storage: the writer reports what it committed to it
//! (`after_commit.rs`), and it never holds the writer. What presence needs
//! stored (this node's arrivals and departures, from which the store
//! decides notices, heir and an empty room's deletion) it hands out as
//! [`Round`]s on a channel, which whoever wires the server passes to the
//! writer (`lib.rs`), and waits for them to be stored.

mod addresses;
mod admission;
mod folding;
mod grace;
mod lobby;
mod pace;
mod presence;
mod reads;
mod recent;
mod roster;
mod typing;
mod waves;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, atomic::AtomicU64},
    time::Duration,
};

use tokio::{
    runtime::Handle,
    sync::{mpsc, oneshot},
};

pub use admission::{BanMark, Known};
pub use lobby::{Changes, LobbyWatch};
pub use presence::{Entry, Presence};
pub use reads::ReadPosition;
pub use waves::Wave;

use crate::{
    events::Event,
    model::{Audience, EventRecord, Kind, Present, RoomNotice, RoomRow, User},
};

/// Tunables the hub needs from the configuration.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long a user stays present after their last connection ends.
    pub leave_grace: Duration,
    /// How long a page view or a post keeps a user without a connection
    /// present (`Hub::visit`); zero: not at all.
    pub visit_window: Duration,
    /// Events a room channel holds for its slowest receiver. A receiver
    /// that falls further behind is told it lagged and catches up from
    /// the database, so this bounds memory per room, not correctness.
    pub room_channel_capacity: usize,
}

/// Cheap handle to the shared hub state.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    lobby: lobby::Lobby,
    config: HubConfig,
    /// Timers are spawned from the writer thread and from `Drop`, which may
    /// run outside the runtime's context: they go through this handle.
    runtime: Handle,
    /// Where presence hands what it needs stored (see the module docs).
    rounds: mpsc::UnboundedSender<Round>,
    /// Bans published here (`kicked`), counted, in any room: what
    /// [`admission::BanMark`] reads.
    bans: AtomicU64,
}

#[derive(Default)]
struct State {
    rooms: HashMap<String, presence::RoomState>,
    /// Rooms deleted while this process runs: a late arrival must not bring
    /// one back to life in memory.
    deleted: HashSet<String>,
    /// Where each user came to each room from (`addresses.rs`).
    addresses: addresses::Addresses,
    /// Every user's read position in each room (`reads.rs`).
    reads: reads::ReadCells,
    /// Members whose grace period is running (`grace.rs`).
    graces: grace::Graces,
    /// Id of the newest stored event published (or stored before start-up):
    /// every stored event up to it has reached the channels, so a viewer
    /// who subscribes now and has seen up to here needs nothing from the database.
    published: i64,
}

/// One round of this node's arrivals and departures in a room, to store,
/// and where to say that it is (or why not).
pub struct Round {
    pub room_id: String,
    pub arrived: Vec<User>,
    pub departed: Vec<User>,
    pub stored: oneshot::Sender<Result<(), String>>,
}

/// The other end of the hub's rounds (see the module docs).
pub type RoundsToStore = mpsc::UnboundedReceiver<Round>;

/// What the hub refuses.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The room is gone, or going.
    #[error("no such room")]
    NoSuchRoom,
    /// The room has as many members as it may.
    #[error("the room is full")]
    RoomFull,
    /// The room is locked, and the user is not in it.
    #[error("the room is locked")]
    Locked,
    /// A ban was published after the entry's admission was checked: the
    /// check may have let in the very user banned, whose `kicked` went out
    /// before they would be subscribed. Check again.
    #[error("a ban came in while entering")]
    BannedSince,
}

impl Hub {
    /// Must be called inside the tokio runtime. The rounds presence needs
    /// stored come out of the second half.
    pub fn new(config: HubConfig) -> (Hub, RoundsToStore) {
        let (rounds, to_store) = mpsc::unbounded_channel();
        let hub = Hub {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                lobby: lobby::Lobby::new(),
                config,
                runtime: Handle::current(),
                rounds,
                bans: AtomicU64::new(0),
            }),
        };
        (hub, to_store)
    }

    /// Has a round stored, and waits until it is.
    async fn store(
        &self,
        room_id: &str,
        arrived: Vec<User>,
        departed: Vec<User>,
    ) -> Result<(), String> {
        let (stored, answer) = oneshot::channel();
        let round = Round {
            room_id: room_id.to_owned(),
            arrived,
            departed,
            stored,
        };
        if self.shared.rounds.send(round).is_err() {
            return Err("nothing stores presence".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the notes were dropped".into()))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain maps behind, still
        // consistent enough to serve: recover instead of poisoning forever.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes a committed event to the room's viewers (writer only,
    /// so in id order).
    pub fn publish_stored(&self, record: &EventRecord) {
        // Rendered, and sent (which wakes every waiting viewer), outside
        // the lock: a big room's wake-ups must not stall arrivals.
        let mut event = Event::stored(record);
        let now = tokio::time::Instant::now();
        let tx = {
            let mut state = self.state();
            state.published = state.published.max(record.id);
            state.rooms.get_mut(&record.room).map(|room| {
                event.gather_until = room.pace.stored(now);
                let event = Arc::new(event);
                if record.kind == Kind::Delete {
                    // The deleted words are in memory too (the message,
                    // its edits, replies quoting it): resumes from before
                    // the delete read the database, where they are gone.
                    room.recent.forget(record.id - 1);
                }
                room.recent.push(event.clone());
                (room.tx.clone(), event)
            })
        };
        // A viewer entering between the two sees `published` already
        // counting this event and the event in its channel: its id check
        // drops the copy. No receivers is not an error.
        if let Some((tx, event)) = tx {
            tx.send(event);
        }
        if record.kind.is_message() {
            self.room_activity(record);
        }
    }

    /// Every stored event of the room after `cursor`, from memory, when
    /// they are all there (`recent.rs`); `None` when they must be read from
    /// the database. Whispers are in it: the feed filters for its viewer.
    pub fn recent_after(&self, room_id: &str, cursor: i64) -> Option<Vec<Arc<Event>>> {
        self.state().rooms.get(room_id)?.recent.after(cursor)
    }

    /// At start-up, before any request: the newest id already stored, and
    /// who is present through other nodes as of it.
    pub fn started(&self, newest: i64, present: &[Present]) {
        {
            let mut state = self.state();
            state.published = state.published.max(newest);
        }
        for Present { room, user, node } in present {
            self.presence_elsewhere(room, node, user, true);
        }
    }

    /// A room was created (here or on another node): the lobby hears of it.
    pub fn room_created(&self, room: &RoomRow) {
        self.shared.lobby.send(Event::transient(
            Kind::RoomCreated,
            Audience::Room,
            &room.public(0),
        ));
    }

    /// A room was deleted: its viewers and the lobby hear of it.
    pub fn room_deleted(&self, room_id: &str) {
        // In a room, poll answers mix these with stored events, so the body
        // says its type and never uses `id` (a stored event's number).
        let in_room = RoomNotice {
            kind: Kind::RoomDeleted,
            room: room_id.to_owned(),
        };
        let mut state = self.state();
        state.deleted.insert(room_id.to_owned());
        state.addresses.forget(room_id);
        if let Some(room) = state.rooms.remove(room_id) {
            let event = Event::transient(Kind::RoomDeleted, Audience::Room, &in_room);
            room.tx.send(Arc::new(event));
        }
        drop(state);
        let in_lobby = serde_json::json!({ "id": room_id });
        self.shared.lobby.send(Event::transient(
            Kind::RoomDeleted,
            Audience::Room,
            &in_lobby,
        ));
    }

    /// The number of users present in each room that has any.
    pub fn member_counts(&self) -> HashMap<String, usize> {
        self.state()
            .rooms
            .iter()
            .map(|(id, room)| (id.clone(), room.members.len()))
            .collect()
    }

    pub fn member_count(&self, room_id: &str) -> usize {
        self.state()
            .rooms
            .get(room_id)
            .map_or(0, |room| room.members.len())
    }

    pub fn lobby(&self) -> &lobby::Lobby {
        &self.shared.lobby
    }
}
