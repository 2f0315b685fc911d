//! The members of one room: who, since when, through which nodes, and the
//! member list of the `members` snapshot, kept cheap when thousands are
//! present.
//!
//! A member is present through this node (`here`: a stream or poll of
//! theirs is here, or was within the grace period), through other nodes
//! (`elsewhere`, as their stored presence says), or both; they stay a
//! member while either holds.
//!
//! Arrival order is kept as it happens (a `BTreeMap` by arrival number), so
//! the longest-present member (the heir) and the first
//! [`SNAPSHOT_LIST_CAP`] members (the snapshot's list) are read without
//! sorting. The list's JSON is rendered once and kept until the list itself
//! changes: in a big room an arrival or a departure far down the order
//! changes only the count, so a new snapshot costs a copy of bytes, not a
//! sort and a serialization of hundreds of users.

use std::collections::{BTreeMap, HashMap};

use bytes::{BufMut, Bytes, BytesMut};

use crate::model::User;

/// A `members` snapshot lists at most this many users (`count` stays exact).
pub const SNAPSHOT_LIST_CAP: usize = 500;

pub(super) struct Member {
    pub(super) user: User,
    /// Present through this node: a stream or poll of theirs is here (or
    /// was, within the grace period), or they visited within the window.
    pub(super) here: bool,
    /// Other nodes this user is present through.
    pub(super) elsewhere: Vec<String>,
    /// Streams and polls of theirs on this node.
    pub(super) connections: usize,
    pub(super) since: u64,
    /// Bumped on every arrival, so a pending leave can tell it is stale.
    pub(super) generation: u64,
    /// Until when their latest visit (a page view, a post) keeps them
    /// here, while no stream or poll of theirs does.
    pub(super) visiting_until: Option<tokio::time::Instant>,
    /// When the grace after their last connection here ends (`grace.rs`).
    pub(super) grace_until: Option<tokio::time::Instant>,
    /// The grace queue holds them.
    pub(super) grace_queued: bool,
    /// The snapshot version this user's polls last received (`u64::MAX`:
    /// none yet, so the first poll gets one at once).
    pub(super) polled_version: u64,
}

#[derive(Default)]
pub(super) struct Roster {
    members: HashMap<String, Member>,
    /// Arrival number → user id: the first has been present longest.
    order: BTreeMap<u64, String>,
    next_since: u64,
    /// The rendered JSON array of the listed users, while it is current.
    listed: Option<Listed>,
}

struct Listed {
    json: Bytes,
    /// How many users it names, and the arrival number of the last one.
    len: usize,
    last_since: u64,
}

impl Roster {
    pub(super) fn len(&self) -> usize {
        self.members.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(super) fn contains(&self, user_id: &str) -> bool {
        self.members.contains_key(user_id)
    }

    pub(super) fn get(&self, user_id: &str) -> Option<&Member> {
        self.members.get(user_id)
    }

    pub(super) fn get_mut(&mut self, user_id: &str) -> Option<&mut Member> {
        self.members.get_mut(user_id)
    }

    /// Adds a user who was not present, as the latest arrival, present
    /// through this node with one connection.
    pub(super) fn insert(&mut self, user: User) {
        self.add(user, true, 1, Vec::new());
    }

    /// Adds a user who was not present, present through this node by a
    /// visit (a page view, a post): without a connection.
    pub(super) fn insert_visitor(&mut self, user: User, until: tokio::time::Instant) {
        self.add(user, true, 0, Vec::new()).visiting_until = Some(until);
    }

    /// Adds a user who was not present, present through another node.
    pub(super) fn insert_elsewhere(&mut self, user: User, node: String) {
        self.add(user, false, 0, vec![node]);
    }

    fn add(
        &mut self,
        user: User,
        here: bool,
        connections: usize,
        elsewhere: Vec<String>,
    ) -> &mut Member {
        let since = self.next_since;
        self.next_since += 1;
        if self
            .listed
            .as_ref()
            .is_some_and(|l| l.len < SNAPSHOT_LIST_CAP)
        {
            self.listed = None;
        }
        self.order.insert(since, user.id.clone());
        let member = Member {
            user,
            here,
            elsewhere,
            connections,
            since,
            generation: 0,
            visiting_until: None,
            grace_until: None,
            grace_queued: false,
            polled_version: u64::MAX,
        };
        self.members
            .entry(member.user.id.clone())
            .insert_entry(member)
            .into_mut()
    }

    pub(super) fn remove(&mut self, user_id: &str) -> Option<Member> {
        let member = self.members.remove(user_id)?;
        self.order.remove(&member.since);
        self.forget_list_if_listed(member.since);
        Some(member)
    }

    /// Updates a member's name; whether they are a member.
    pub(super) fn rename(&mut self, user: &User) -> bool {
        let Some(member) = self.members.get_mut(&user.id) else {
            return false;
        };
        member.user = user.clone();
        let since = member.since;
        self.forget_list_if_listed(since);
        true
    }

    fn forget_list_if_listed(&mut self, since: u64) {
        if self.listed.as_ref().is_some_and(|l| since <= l.last_since) {
            self.listed = None;
        }
    }

    /// Removes a member who is present through no node any more.
    pub(super) fn remove_if_gone(&mut self, user_id: &str) -> bool {
        let gone = self
            .get(user_id)
            .is_some_and(|m| !m.here && m.elsewhere.is_empty());
        if gone {
            self.remove(user_id);
        }
        gone
    }

    /// Members in arrival order, longest present first.
    pub(super) fn by_arrival(&self) -> impl Iterator<Item = &Member> {
        self.order.values().filter_map(|id| self.members.get(id))
    }

    /// The JSON array of the first [`SNAPSHOT_LIST_CAP`] members.
    pub(super) fn listed_json(&mut self) -> Bytes {
        if let Some(listed) = &self.listed {
            return listed.json.clone();
        }
        let mut out = BytesMut::with_capacity(64 * self.len().min(SNAPSHOT_LIST_CAP) + 2);
        out.put_u8(b'[');
        let mut len = 0;
        let mut last_since = 0;
        for member in self.by_arrival().take(SNAPSHOT_LIST_CAP) {
            if len > 0 {
                out.put_u8(b',');
            }
            out.put_slice(&crate::events::to_json(&member.user));
            len += 1;
            last_since = member.since;
        }
        out.put_u8(b']');
        let json = out.freeze();
        self.listed = Some(Listed {
            json: json.clone(),
            len,
            last_since,
        });
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(i: usize) -> User {
        User::new(format!("u{i}"), None)
    }

    fn listed_ids(roster: &mut Roster) -> Vec<String> {
        let json: Vec<User> = serde_json::from_slice(&roster.listed_json()).unwrap();
        json.into_iter().map(|u| u.id).collect()
    }

    #[test]
    fn the_list_follows_arrivals_departures_and_renames() {
        let mut roster = Roster::default();
        for i in 0..SNAPSHOT_LIST_CAP + 10 {
            roster.insert(user(i));
        }
        let first = listed_ids(&mut roster);
        assert_eq!(first.len(), SNAPSHOT_LIST_CAP);
        assert_eq!(first[0], "u0");
        // A departure past the list leaves it as it was.
        roster.remove(&format!("u{}", SNAPSHOT_LIST_CAP + 5));
        assert_eq!(listed_ids(&mut roster), first);
        // A departure inside it lets the next arrival in.
        roster.remove("u3");
        let after = listed_ids(&mut roster);
        assert!(!after.contains(&"u3".to_owned()));
        assert_eq!(after.last().unwrap(), &format!("u{SNAPSHOT_LIST_CAP}"));
        // A rename of a listed member shows.
        roster.rename(&User::new("u1".into(), Some("one".into())));
        let json = roster.listed_json();
        assert!(std::str::from_utf8(&json).unwrap().contains("\"one\""));
        assert_eq!(roster.by_arrival().next().unwrap().user.id, "u0");
    }

    #[test]
    fn a_small_room_lists_every_arrival() {
        let mut roster = Roster::default();
        roster.insert(user(1));
        assert_eq!(listed_ids(&mut roster), ["u1"]);
        roster.insert(user(2));
        assert_eq!(listed_ids(&mut roster), ["u1", "u2"]);
    }
}
