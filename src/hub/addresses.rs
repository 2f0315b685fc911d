//! The client addresses each user came to each room from, on this node, so
//! that an owner's kick can keep them out as well (`block_address`): a
//! squatter with a fresh cookie is a new user, but not a new address.
//! A few addresses per user, a bounded number of users per room (the
//! oldest forgotten first); forgotten with the room.

use std::{collections::HashMap, net::IpAddr};

/// Addresses kept per user: the latest.
const PER_USER: usize = 4;
/// Users kept per room.
const PER_ROOM: usize = 10_000;

#[derive(Default)]
pub(super) struct Addresses {
    rooms: HashMap<String, Room>,
}

#[derive(Default)]
struct Room {
    users: HashMap<String, Seen>,
    /// Bumped per new user: the smallest is the oldest.
    next: u64,
}

struct Seen {
    addrs: Vec<IpAddr>,
    order: u64,
}

impl Addresses {
    pub(super) fn seen(&mut self, room_id: &str, user_id: &str, addr: IpAddr) {
        let room = match self.rooms.get_mut(room_id) {
            Some(room) => room,
            None => self.rooms.entry(room_id.to_owned()).or_default(),
        };
        if let Some(seen) = room.users.get_mut(user_id) {
            if !seen.addrs.contains(&addr) {
                if seen.addrs.len() == PER_USER {
                    seen.addrs.remove(0);
                }
                seen.addrs.push(addr);
            }
            return;
        }
        if room.users.len() >= PER_ROOM {
            let oldest = room
                .users
                .iter()
                .min_by_key(|(_, seen)| seen.order)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                room.users.remove(&oldest);
            }
        }
        room.next += 1;
        let seen = Seen {
            addrs: vec![addr],
            order: room.next,
        };
        room.users.insert(user_id.to_owned(), seen);
    }

    pub(super) fn of(&self, room_id: &str, user_id: &str) -> Vec<IpAddr> {
        let seen = self
            .rooms
            .get(room_id)
            .and_then(|room| room.users.get(user_id));
        seen.map(|seen| seen.addrs.clone()).unwrap_or_default()
    }

    pub(super) fn forget(&mut self, room_id: &str) {
        self.rooms.remove(room_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_few_addresses_are_kept_per_user_and_room() {
        let mut addresses = Addresses::default();
        for n in 1..=6u8 {
            addresses.seen("r", "u", IpAddr::from([10, 0, 0, n]));
        }
        addresses.seen("r", "u", IpAddr::from([10, 0, 0, 6]));
        let kept = addresses.of("r", "u");
        assert_eq!(kept.len(), PER_USER);
        assert_eq!(kept.first(), Some(&IpAddr::from([10, 0, 0, 3])));
        assert!(addresses.of("other", "u").is_empty());
        addresses.forget("r");
        assert!(addresses.of("r", "u").is_empty());
    }
}
