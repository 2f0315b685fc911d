//! A room's recent stored events, in memory, so that a viewer resuming
//! from a recent cursor (every long-poll, a stream reconnecting after a
//! network blip, a whole room reconnecting after a restart of its proxy)
//! is answered without reading the database.
//!
//! The room's state keeps it from the moment someone enters: every stored
//! event of the room published after that goes in, in id order, under the
//! hub's lock that also advances `published`. So everything of the room
//! after [`Recent::since`] is here, and a cursor at or after it can be
//! answered from memory; an older one goes to the database.

use std::{collections::VecDeque, sync::Arc};

use crate::events::Event;

/// Stored events kept per room: a replay page's worth.
pub const RECENT_EVENTS: usize = 256;

pub(super) struct Recent {
    /// Every stored event of the room with an id above this is in
    /// `events`.
    since: i64,
    events: VecDeque<Arc<Event>>,
}

impl Recent {
    /// A room whose events up to `since` (the newest id published so far)
    /// are in the database only.
    pub(super) fn new(since: i64) -> Recent {
        Recent {
            since,
            events: VecDeque::new(),
        }
    }

    /// Keeps a stored event just published (ids only grow).
    pub(super) fn push(&mut self, event: Arc<Event>) {
        if self.events.len() == RECENT_EVENTS
            && let Some(Some(oldest)) = self.events.pop_front().map(|e| e.id)
        {
            self.since = oldest;
        }
        self.events.push_back(event);
    }

    /// Forgets every event kept: from now on, only cursors at or after
    /// `since` (the newest id published before the next one pushed) are
    /// answered from memory.
    pub(super) fn forget(&mut self, since: i64) {
        self.events.clear();
        self.since = since;
    }

    /// Every stored event after `cursor`, oldest first, when all of them
    /// are here.
    pub(super) fn after(&self, cursor: i64) -> Option<Vec<Arc<Event>>> {
        if cursor < self.since {
            return None;
        }
        let start = self
            .events
            .partition_point(|e| e.id.is_some_and(|id| id <= cursor));
        Some(self.events.range(start..).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventRecord, Kind};

    fn stored(id: i64) -> Arc<Event> {
        Arc::new(Event::stored(&EventRecord {
            id,
            kind: Kind::Chat,
            room: "r".into(),
            user: None,
            chat: Some(format!("message {id}")),
            ..EventRecord::default()
        }))
    }

    fn ids(events: Option<Vec<Arc<Event>>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().filter_map(|e| e.id).collect())
    }

    #[test]
    fn answers_cursors_from_its_start_on_and_refuses_older_ones() {
        let mut recent = Recent::new(10);
        for id in [12, 15, 16] {
            recent.push(stored(id));
        }
        assert_eq!(ids(recent.after(10)), Some(vec![12, 15, 16]));
        assert_eq!(ids(recent.after(13)), Some(vec![15, 16]));
        assert_eq!(ids(recent.after(16)), Some(vec![]));
        assert_eq!(ids(recent.after(9)), None, "event 10 may be missing");
    }

    #[test]
    fn forgets_the_oldest_and_then_refuses_cursors_before_it() {
        let mut recent = Recent::new(0);
        for id in 1..=(RECENT_EVENTS as i64 + 2) {
            recent.push(stored(id));
        }
        assert_eq!(ids(recent.after(1)), None);
        let kept = ids(recent.after(2)).unwrap();
        assert_eq!(kept.len(), RECENT_EVENTS);
        assert_eq!(kept.first(), Some(&3));
    }

    #[test]
    fn after_forgetting_only_cursors_from_then_on_are_answered() {
        let mut recent = Recent::new(0);
        for id in [1, 2, 3] {
            recent.push(stored(id));
        }
        recent.forget(3);
        recent.push(stored(4));
        assert_eq!(ids(recent.after(3)), Some(vec![4]));
        assert_eq!(
            ids(recent.after(2)),
            None,
            "event 3 is in the database only"
        );
    }
}
