//! A room's pace: the events of a busy room go to long-polls in waves.
//!
//! Every long-poll answer is a whole request: its head, its session, its
//! access check, its write. In a room that talks faster than a poller's
//! round trip, answering each message the moment it comes sends one
//! answer per message per poller, and the server spends itself on the
//! requests rather than the messages. So a stored event (a message, a
//! reaction, a notice) that follows another within [`BUSY`] carries a
//! gathering time, [`GATHER`] after it: a poll that would answer with it
//! first waits until then, and answers with everything that came
//! meanwhile. A quiet room's event (the first in a second) is answered at
//! once. Streams are not held: they write each event on a connection that
//! is already open.

use std::time::Duration;

use tokio::time::Instant;

/// How long a poll answering a busy room waits for more of its events.
pub const GATHER: Duration = Duration::from_millis(50);
/// An event this soon after the room's last one finds the room busy.
pub const BUSY: Duration = Duration::from_secs(1);

/// When the room last had a stored event.
#[derive(Debug, Default)]
pub struct Pace {
    last: Option<Instant>,
}

impl Pace {
    /// A stored event is published `now`: its gathering time, if the room
    /// is busy.
    pub fn stored(&mut self, now: Instant) -> Option<Instant> {
        let busy = self.last.is_some_and(|last| now - last < BUSY);
        self.last = Some(now);
        busy.then_some(now + GATHER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_an_event_soon_after_another_is_gathered() {
        let mut pace = Pace::default();
        assert_eq!(pace.stored(Instant::now()), None, "the first is at once");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = Instant::now();
        assert_eq!(pace.stored(now), Some(now + GATHER));
        tokio::time::sleep(BUSY).await;
        assert_eq!(pace.stored(Instant::now()), None, "quiet again");
        tokio::time::sleep(BUSY - Duration::from_millis(1)).await;
        assert!(pace.stored(Instant::now()).is_some());
    }
}
