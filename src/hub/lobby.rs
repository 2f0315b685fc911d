//! The lobby channel: room-created / room-updated / room-deleted for every
//! lobby stream (and the events of unread counts: `room-activity`,
//! `read`), and the version that lobby long-polls wait on.
//!
//! Versions are `<boot>-<list>-<activity>`: the boot part changes at every
//! start, so a version from before a restart never looks current; the
//! list counter moves when the room list does, the activity counter when
//! a message is posted anywhere (a poll then brings new unread counts, not
//! the whole list). A `read` moves neither: it is for one user, whose
//! stream hears it, and whose polls get their counts anew with the next
//! change.

use std::{sync::Arc, time::Duration};

use rand::{Rng, distr::Alphanumeric};
use tokio::sync::{broadcast, watch};

use crate::events::Event;

/// Lobby events are small and rare; a lagging lobby stream re-syncs with a
/// full `rooms` snapshot, so a short buffer is enough.
const LOBBY_CHANNEL_CAPACITY: usize = 256;

pub struct Lobby {
    tx: broadcast::Sender<Arc<Event>>,
    version: watch::Sender<Version>,
    boot: String,
}

/// The list and activity counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Version {
    pub list: u64,
    pub activity: u64,
}

/// A lobby long-poll's view of the version counters.
pub struct LobbyWatch {
    rx: watch::Receiver<Version>,
    boot: String,
}

impl Lobby {
    pub fn new() -> Lobby {
        let boot = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(8)
            .map(char::from)
            .collect();
        Lobby {
            tx: broadcast::channel(LOBBY_CHANNEL_CAPACITY).0,
            version: watch::channel(Version::default()).0,
            boot,
        }
    }

    /// A change of the room list.
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
        self.version.send_modify(|v| v.list += 1);
    }

    /// A message posted somewhere: unread counts changed.
    pub fn send_activity(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
        self.version.send_modify(|v| v.activity += 1);
    }

    /// An event for the lobby's streams alone (a user's `read`).
    pub fn notify(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    pub fn watch(&self) -> LobbyWatch {
        LobbyWatch {
            rx: self.version.subscribe(),
            boot: self.boot.clone(),
        }
    }
}

impl LobbyWatch {
    pub fn current(&self) -> String {
        let now = *self.rx.borrow();
        format!("{}-{}-{}", self.boot, now.list, now.activity)
    }

    /// The counters `seen` (a version reported before) names, when it is
    /// of this boot.
    pub fn parse(&self, seen: Option<&str>) -> Option<Version> {
        let rest = seen?.strip_prefix(&self.boot)?.strip_prefix('-')?;
        let (list, activity) = rest.split_once('-')?;
        Some(Version {
            list: list.parse().ok()?,
            activity: activity.parse().ok()?,
        })
    }

    /// The version now, and what differs between `seen` and it: the list
    /// (also when `seen` is missing or from another boot), or only the
    /// activity. Read at once, so that a poll reports the very version
    /// whose news it carries (a later one would hide a change from it).
    pub fn changes(&self, seen: Option<&str>) -> (String, Changes) {
        let now = *self.rx.borrow();
        let changes = match self.parse(seen) {
            None => Changes::List,
            Some(seen) if seen.list != now.list => Changes::List,
            Some(seen) if seen.activity != now.activity => Changes::Activity,
            Some(_) => Changes::None,
        };
        (
            format!("{}-{}-{}", self.boot, now.list, now.activity),
            changes,
        )
    }

    /// Returns once the lobby differs from `seen` (at once when it already
    /// does, or when `seen` is missing or from another boot), or after
    /// `timeout`. Returns the version to report.
    pub async fn wait_for_change(&mut self, seen: Option<&str>, timeout: Duration) -> String {
        let Some(seen) = self.parse(seen) else {
            return self.current();
        };
        let changed = self.rx.wait_for(|now| *now != seen);
        let _ = tokio::time::timeout(timeout, changed).await;
        self.current()
    }
}

/// How the lobby differs from a version seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes {
    None,
    /// Unread counts may have moved; the list did not.
    Activity,
    List,
}
