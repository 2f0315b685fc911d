//! Departures after the grace period: when a user's last stream or poll on
//! this node ends, they leave the room `leave_grace` later, unless one of
//! theirs is back by then.
//!
//! One queue for the whole hub, ordered by when each grace ends, and one
//! task that sleeps until the first. A long-poller lets go of its presence
//! after every answer, many times a second in a busy room: a task and a
//! timer per release cost more than the poll itself, and a thousand
//! pollers kept a thousand sleeping tasks alive. A member is in the queue
//! at most once; a later release only moves the end of their grace
//! (`Member::grace_until`), which the queue reads when it gets to them.
//!
//! A new entry ends a full grace from now, so it never comes before those
//! already queued: the sweeping task never needs waking early, and it ends
//! when the queue is empty (the next entry starts another).

use std::{cmp::Reverse, collections::BinaryHeap};

use tokio::time::Instant;

use super::{Hub, State, roster::Member};

/// Members whose grace is running, by when it ends.
#[derive(Default)]
pub(super) struct Graces {
    queue: BinaryHeap<Reverse<Due>>,
    /// A task is sweeping the queue.
    sweeping: bool,
}

/// A member to look at once their grace may have ended.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    room_id: String,
    user_id: String,
}

impl Graces {
    /// Queues a look at a member at `at`; `true` when a sweeping task must
    /// be started for it.
    #[must_use]
    fn queue(&mut self, at: Instant, room_id: &str, user_id: &str) -> bool {
        self.queue.push(Reverse(Due {
            at,
            room_id: room_id.to_owned(),
            user_id: user_id.to_owned(),
        }));
        !std::mem::replace(&mut self.sweeping, true)
    }

    /// Members queued.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.queue.peek()?.0.at > now {
            return None;
        }
        self.queue.pop().map(|Reverse(due)| due)
    }
}

impl Hub {
    /// `user_id`'s last connection to the room on this node has ended:
    /// they leave when the grace period has passed, unless back by then.
    pub(super) fn start_grace(
        &self,
        graces: &mut Graces,
        member: &mut Member,
        room_id: &str,
        user_id: &str,
    ) {
        let until = Instant::now() + self.shared.config.leave_grace;
        member.grace_until = Some(until);
        if std::mem::replace(&mut member.grace_queued, true) {
            return;
        }
        if graces.queue(until, room_id, user_id) {
            self.shared.runtime.spawn(self.clone().sweep_graces());
        }
    }

    /// Ends each grace as it comes due, until none is left.
    async fn sweep_graces(self) {
        loop {
            let next = {
                let mut state = self.state();
                match state.graces.queue.peek() {
                    Some(Reverse(due)) => due.at,
                    None => {
                        state.graces.sweeping = false;
                        return;
                    }
                }
            };
            tokio::time::sleep_until(next).await;
            let mut state = self.state();
            let now = Instant::now();
            while let Some(due) = state.graces.pop_due(now) {
                self.end_grace(&mut state, due, now);
            }
        }
    }

    /// The member of `due` leaves if their grace has ended and nothing of
    /// theirs came back; is queued again if a later release moved it on.
    fn end_grace(&self, state: &mut State, due: Due, now: Instant) {
        let State { rooms, graces, .. } = state;
        let Some(room) = rooms.get_mut(&due.room_id) else {
            return;
        };
        let Some(member) = room.members.get_mut(&due.user_id) else {
            return;
        };
        match member.grace_until {
            Some(until) if until > now => {
                // Sweeping already: no task to start.
                let _ = graces.queue(until, &due.room_id, &due.user_id);
            }
            Some(_) if member.connections == 0 && member.here => {
                member.grace_queued = false;
                member.grace_until = None;
                self.depart(room, &due.user_id);
            }
            _ => {
                member.grace_queued = false;
                member.grace_until = None;
            }
        }
    }
}
