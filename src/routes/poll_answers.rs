//! Room poll answers shared by a room's pollers.
//!
//! A busy room's pollers are answered in waves (`hub/pace.rs`): each with
//! the same events, the same `Arc`s from the room's channel, after the
//! same cursor. So the body of the first answer of a wave is kept, and
//! every other poller of the wave sends the same bytes instead of copying
//! each event's JSON into a body of its own. An answer whose events differ
//! in any way (a whisper, a snapshot of its own, another cursor) is
//! rendered for itself, as before.

use std::{
    hash::BuildHasher,
    sync::{Arc, Mutex, MutexGuard},
};

use bytes::Bytes;

use crate::events::Event;

/// Rooms whose last answer is kept at once; rooms whose ids fall in the
/// same slot take turns (and render more often).
const SLOTS: usize = 64;

/// The last answer body of a few rooms each.
pub struct PollAnswers {
    slots: Box<[Mutex<Option<Kept>>]>,
    hasher: std::hash::RandomState,
}

struct Kept {
    room_id: String,
    /// Held, so that no other event can take one's place (and address).
    events: Vec<Arc<Event>>,
    last_event_id: i64,
    body: Bytes,
}

impl Kept {
    fn answers(&self, room_id: &str, events: &[Arc<Event>], last_event_id: i64) -> bool {
        self.last_event_id == last_event_id
            && self.events.len() == events.len()
            && self
                .events
                .iter()
                .zip(events)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && self.room_id == room_id
    }
}

impl Default for PollAnswers {
    fn default() -> PollAnswers {
        PollAnswers {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl PollAnswers {
    /// The body of `room_id`'s answer with `events` and `last_event_id`:
    /// the kept one when it has the very same events, else `render`ed
    /// (and kept, when there are events to share).
    pub fn body(
        &self,
        room_id: &str,
        events: &[Arc<Event>],
        last_event_id: i64,
        render: impl FnOnce() -> Bytes,
    ) -> Bytes {
        if events.is_empty() {
            return render();
        }
        let slot = &self.slots[self.hasher.hash_one(room_id) as usize % SLOTS];
        if let Some(kept) = lock(slot).as_ref()
            && kept.answers(room_id, events, last_event_id)
        {
            return kept.body.clone();
        }
        // Rendered outside the lock: a wave's first answers may render
        // twice, but no poller waits on another's rendering.
        let body = render();
        *lock(slot) = Some(Kept {
            room_id: room_id.to_owned(),
            events: events.to_vec(),
            last_event_id,
            body: body.clone(),
        });
        body
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Audience, Kind};

    fn event(id: i64) -> Arc<Event> {
        let json = Bytes::from(format!("{{\"id\":{id}}}"));
        Arc::new(Event::transient_json(Kind::Chat, Audience::Room, json))
    }

    #[test]
    fn the_same_events_share_one_body_and_any_other_renders_its_own() {
        let answers = PollAnswers::default();
        let wave = vec![event(1), event(2)];
        let renders = std::cell::Cell::new(0);
        let body = |events: &[Arc<Event>], last| {
            answers.body("room", events, last, || {
                renders.set(renders.get() + 1);
                Bytes::from(format!("{}", renders.get()))
            })
        };
        let first = body(&wave, 2);
        assert_eq!(body(&wave.clone(), 2), first, "the same Arcs share");
        assert_eq!(renders.get(), 1);

        // Equal ids but other events (another poller's own copies).
        let copies = vec![event(1), event(2)];
        assert_ne!(body(&copies, 2), first);
        // A whisper more, or one less.
        assert_ne!(
            body(&[wave[0].clone(), event(3), wave[1].clone()], 3),
            first
        );
        assert_ne!(body(&wave[..1], 2), first);
        // Another cursor reached.
        assert_ne!(body(&wave, 5), first);
        assert_eq!(renders.get(), 5);
    }

    #[test]
    fn rooms_do_not_share_bodies() {
        let answers = PollAnswers::default();
        let wave = vec![event(1)];
        let one = answers.body("one", &wave, 1, || Bytes::from_static(b"one"));
        let other = answers.body("other", &wave, 1, || Bytes::from_static(b"other"));
        assert_eq!((&one[..], &other[..]), (&b"one"[..], &b"other"[..]));
    }
}
