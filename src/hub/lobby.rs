//! The lobby channel: room-created / room-updated / room-deleted for every
//! lobby stream, and a version counter that lobby long-polls wait on.
//!
//! Versions are `<boot>-<counter>`: the boot part changes at every start, so
//! a version from before a restart never looks current.

use std::{sync::Arc, time::Duration};

use rand::{Rng, distr::Alphanumeric};
use tokio::sync::{broadcast, watch};

use crate::events::Event;

/// Lobby events are small and rare; a lagging lobby stream re-syncs with a
/// full `rooms` snapshot, so a short buffer is enough.
const LOBBY_CHANNEL_CAPACITY: usize = 256;

pub struct Lobby {
    tx: broadcast::Sender<Arc<Event>>,
    version: watch::Sender<u64>,
    boot: String,
}

/// A lobby long-poll's view of the version counter.
pub struct LobbyWatch {
    rx: watch::Receiver<u64>,
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
            version: watch::channel(0).0,
            boot,
        }
    }

    pub fn send(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
        self.version.send_modify(|v| *v += 1);
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
        format!("{}-{}", self.boot, *self.rx.borrow())
    }

    /// Returns once the lobby differs from `seen` (at once when it already
    /// does, or when `seen` is missing or from another boot), or after
    /// `timeout`. Returns the version to report.
    pub async fn wait_for_change(&mut self, seen: Option<&str>, timeout: Duration) -> String {
        let seen_counter = seen
            .and_then(|v| v.strip_prefix(&self.boot))
            .and_then(|v| v.strip_prefix('-'))
            .and_then(|v| v.parse::<u64>().ok());
        let Some(seen_counter) = seen_counter else {
            return self.current();
        };
        let changed = self.rx.wait_for(|now| *now != seen_counter);
        let _ = tokio::time::timeout(timeout, changed).await;
        self.current()
    }
}
