//! A room's channel, and the waves in which its waiting long-polls wake.
//!
//! Every event of a room goes out through its [`RoomChannel`]: to the
//! broadcast channel every viewer reads, and to the room's [`Wave`]. A
//! stream wakes for each event; a waiting long-poll wakes for the wave
//! instead: at once for an event that is answered at once, at the
//! gathering time for a busy room's event (`pace.rs`). A poll woken per
//! event would wake, find the event's gathering time ahead, and sleep
//! again on a timer of its own until then: twice per answer, and a timer
//! per poller, where one timer per room and one wake per answer do.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    runtime::Handle,
    sync::{Notify, broadcast, futures::Notified},
    time::Instant,
};

use crate::events::Event;

/// Where a room's events go out; its clones are the same channel.
#[derive(Clone)]
pub(super) struct RoomChannel(Arc<Channel>);

struct Channel {
    /// The channel's only sender: it closes when the last `RoomChannel`
    /// is dropped (`None` only then).
    tx: Option<broadcast::Sender<Arc<Event>>>,
    wave: Arc<Wave>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        // Closed first, then the polls woken: each finds its feed ended.
        drop(self.tx.take());
        self.wave.next.notify_waiters();
    }
}

impl RoomChannel {
    pub(super) fn new(capacity: usize, runtime: Handle) -> RoomChannel {
        RoomChannel(Arc::new(Channel {
            tx: Some(broadcast::channel(capacity).0),
            wave: Arc::new(Wave {
                next: Notify::new(),
                scheduled: AtomicBool::new(false),
                runtime,
            }),
        }))
    }

    /// A receiver of every event from now on, and the room's waves.
    pub(super) fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, Arc<Wave>) {
        let rx = match &self.0.tx {
            Some(tx) => tx.subscribe(),
            // Never: `tx` is only taken as the channel is dropped.
            None => broadcast::channel(1).1,
        };
        (rx, self.0.wave.clone())
    }

    /// Sends `event` to every viewer (none is not an error), and has the
    /// waiting polls woken for it: now, or at its gathering time.
    pub(super) fn send(&self, event: Arc<Event>) {
        let at = event.gather_until;
        if let Some(tx) = &self.0.tx {
            let _ = tx.send(event);
        }
        self.0.wave.after(at);
    }
}

/// When a room's waiting long-polls wake.
pub struct Wave {
    next: Notify,
    /// A wave is due: later events ride along with it.
    scheduled: AtomicBool,
    runtime: Handle,
}

impl Wave {
    /// Resolves at the room's next wave after it is enabled (or first
    /// polled): register it before looking for events, so that none
    /// published in between is missed.
    pub fn next(&self) -> Notified<'_> {
        self.next.notified()
    }

    /// An event was sent: wakes the waiting polls at `at`, or now.
    fn after(self: &Arc<Self>, at: Option<Instant>) {
        let Some(at) = at else {
            self.next.notify_waiters();
            return;
        };
        // The due wave comes no later than `at`: every event gathered
        // since it was scheduled came after the one that scheduled it.
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let wave = self.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            // Cleared first: an event sent from here on schedules the
            // next wave rather than being left to this one.
            wave.scheduled.store(false, Ordering::Release);
            wave.next.notify_waiters();
        });
    }
}

#[cfg(test)]
mod tests {
    use std::{pin::pin, time::Duration};

    use super::*;
    use crate::model::{Audience, Kind};

    fn event(gather_until: Option<Instant>) -> Arc<Event> {
        let mut event = Event::transient_json(Kind::Chat, Audience::Room, "{}".into());
        event.gather_until = gather_until;
        Arc::new(event)
    }

    /// Whether `wave` has come within `within`.
    async fn came(wave: impl Future<Output = ()>, within: Duration) -> bool {
        tokio::time::timeout(within, wave).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_at_once_wakes_the_polls_at_once() {
        let channel = RoomChannel::new(16, Handle::current());
        let (_rx, wave) = channel.subscribe();
        let mut next = pin!(wave.next());
        next.as_mut().enable();
        channel.send(event(None));
        assert!(came(next, Duration::ZERO).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_rooms_events_wake_the_polls_once_at_the_first_ones_gathering_time() {
        let channel = RoomChannel::new(16, Handle::current());
        let (rx, wave) = channel.subscribe();
        let start = Instant::now();
        let gather = Duration::from_millis(50);
        let mut next = pin!(wave.next());
        next.as_mut().enable();
        channel.send(event(Some(start + gather)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        channel.send(event(Some(start + Duration::from_millis(20) + gather)));

        assert!(!came(next.as_mut(), Duration::from_millis(29)).await);
        assert!(
            came(next, Duration::from_millis(2)).await,
            "at the first's time"
        );
        assert_eq!(Instant::now() - start, gather);
        assert_eq!(rx.len(), 2, "both events wait for it in the channel");

        // The wave was the second event's too: nothing more comes for it.
        let again = wave.next();
        assert!(!came(again, Duration::from_secs(1)).await);

        // The next event schedules the next wave.
        let mut next = pin!(wave.next());
        next.as_mut().enable();
        let at = Instant::now() + gather;
        channel.send(event(Some(at)));
        assert!(came(next, gather * 2).await);
        assert_eq!(Instant::now(), at);
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_dropped_wakes_the_polls_and_closes_their_receivers() {
        let channel = RoomChannel::new(16, Handle::current());
        let (mut rx, wave) = channel.subscribe();
        let copy = channel.clone();
        let next = wave.next();
        drop(channel);
        use broadcast::error::TryRecvError;
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        drop(copy);
        assert!(came(next, Duration::ZERO).await);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
    }
}
