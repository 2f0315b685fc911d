//! Presence: who is in a room right now.
//!
//! Presence is counted per user, not per connection, and across nodes.
//! Each stream and each outstanding poll holds a [`Presence`] guard; when a
//! user's last guard on this node drops, their departure from this node is
//! scheduled after the grace period and cancelled if they come back first,
//! so reloads do not flap. A page view or a post without such a guard (a
//! page without JavaScript, a curl poster) is a visit: it keeps its user
//! present for the visit window, renewed by the next one; a stream or poll
//! that opens takes over from it. Other nodes' arrivals and departures come from
//! the log (`after_commit.rs`).
//!
//! Every change is handed to `folding.rs`, which turns the changes of each
//! second into one round: this node's arrivals and departures stored (the
//! store decides the notices, the heir, the empty room: `db/presence.rs`),
//! one snapshot, one lobby update.

use std::{sync::Arc, time::Instant};

use bytes::{BufMut, BytesMut};
use tokio::sync::broadcast;

use super::{
    Hub, HubError,
    admission::{Admissions, BanMark},
    recent::Recent,
    roster::{Roster, SNAPSHOT_LIST_CAP},
    waves::{RoomChannel, Wave},
};
use crate::{
    events::Event,
    model::{Audience, Kind, MembersSnapshot, RoomNotice, RoomRow, User},
};

pub(super) struct RoomState {
    pub(super) tx: RoomChannel,
    pub(super) room: RoomRow,
    /// Present users, on any node, in arrival order.
    pub(super) members: Roster,
    /// The room is being deleted: nobody may enter any more.
    pub(super) closing: bool,
    /// Users who arrived on, and departed from, this node since the last
    /// round was stored.
    pub(super) arrived: Vec<User>,
    pub(super) departed: Vec<User>,
    pub(super) flush_scheduled: bool,
    pub(super) last_flush: Option<Instant>,
    /// The current `members` snapshot, rendered once, dropped on change.
    pub(super) snapshot: Option<Arc<Event>>,
    /// Bumped whenever a snapshot goes out to the room (at most once per
    /// the folding interval), so a poll that missed it gets it next time. Not
    /// on every change: in a room that thousands are joining, every poll
    /// would otherwise answer at once with a new snapshot.
    pub(super) snapshot_version: u64,
    /// The room's stored events since it was entered (`recent.rs`).
    pub(super) recent: Recent,
    /// Who may be here, as last read (`admission.rs`).
    pub(super) admissions: Admissions,
    /// When each user last had a `typing` event sent (`typing.rs`).
    pub(super) typing: std::collections::HashMap<String, tokio::time::Instant>,
    /// When the room last had a message (`pace.rs`).
    pub(super) pace: super::pace::Pace,
}

/// Holding one keeps its user present in its room.
pub struct Presence {
    hub: Hub,
    room_id: String,
    user_id: String,
}

/// What entering a room gives a stream or poll.
pub struct Entry {
    pub presence: Presence,
    /// Subscribed before anything is read from the database: see `feed.rs`.
    pub rx: broadcast::Receiver<Arc<Event>>,
    /// When a waiting long-poll wakes (`waves.rs`).
    pub wave: Arc<Wave>,
    /// The current `members` snapshot.
    pub snapshot: Arc<Event>,
    /// The user's read position in the room, for the feed to move.
    pub read: super::ReadPosition,
    /// Newest stored id published when `rx` subscribed: a cursor at or
    /// past it has nothing to read from the database, and a live start begins
    /// here.
    pub published: i64,
}

impl RoomState {
    /// `published`: the newest stored id so far; the room's events up to
    /// it are in the database only.
    fn new(room: RoomRow, channel: RoomChannel, published: i64) -> Self {
        Self {
            tx: channel,
            room,
            members: Roster::default(),
            closing: false,
            arrived: Vec::new(),
            departed: Vec::new(),
            flush_scheduled: false,
            last_flush: None,
            snapshot: None,
            snapshot_version: 0,
            recent: Recent::new(published),
            admissions: Admissions::default(),
            typing: Default::default(),
            pace: Default::default(),
        }
    }

    fn snapshot_body(&self) -> MembersSnapshot {
        MembersSnapshot {
            room: self.room.id.clone(),
            count: self.members.len(),
            max: self.room.max,
            owner: self.room.owner.clone(),
            members: self
                .members
                .by_arrival()
                .take(SNAPSHOT_LIST_CAP)
                .map(|m| m.user.clone())
                .collect(),
        }
    }

    /// The `members` event, rendered at most once per change. It is the
    /// [`MembersSnapshot`] JSON with `"type": "members"` in front (so a
    /// poll answer's elements all say their type), put together from the
    /// roster's cached list: every arrival in a big room needs a new one
    /// (the count changed), and the list is most of its bytes.
    pub(super) fn snapshot(&mut self) -> Arc<Event> {
        if let Some(snapshot) = &self.snapshot {
            return snapshot.clone();
        }
        let list = self.members.listed_json();
        let owner = crate::events::to_json(&self.room.owner);
        let room = crate::events::to_json(&self.room.id);
        let mut json = BytesMut::with_capacity(list.len() + owner.len() + room.len() + 64);
        json.put_slice(b"{\"type\":\"members\",\"room\":");
        json.put_slice(&room);
        json.put_slice(
            format!(
                ",\"count\":{},\"max\":{},\"owner\":",
                self.members.len(),
                self.room.max
            )
            .as_bytes(),
        );
        json.put_slice(&owner);
        json.put_slice(b",\"members\":");
        json.put_slice(&list);
        json.put_u8(b'}');
        let snapshot = Arc::new(Event::transient_json(
            Kind::Members,
            Audience::Room,
            json.freeze(),
        ));
        self.snapshot = Some(snapshot.clone());
        snapshot
    }
}

impl Hub {
    /// Makes `user` present in `room` and subscribes to it. Fails when
    /// the room is full of other users, or is being deleted.
    pub fn enter(&self, room: &RoomRow, user: &User, checked: BanMark) -> Result<Entry, HubError> {
        let mut state = self.state();
        if state.deleted.contains(&room.id) {
            return Err(HubError::NoSuchRoom);
        }
        if self.banned_since(checked) {
            return Err(HubError::BannedSince);
        }
        let published = state.published;
        let read = state.reads.position(&room.id, &user.id);
        let entry = self.room_state(&mut state, room);
        if entry.closing {
            return Err(HubError::NoSuchRoom);
        }
        let newcomer = !entry.members.contains(&user.id) && entry.room.owner.id != user.id;
        if entry.room.locked && newcomer {
            return Err(HubError::Locked);
        }
        match entry.members.get_mut(&user.id) {
            Some(member) => {
                member.connections += 1;
                member.generation += 1;
                member.grace_until = None;
                if !member.here {
                    member.here = true;
                    entry.arrived.push(user.clone());
                    self.changed(&room.id, entry);
                }
            }
            None => {
                if entry.members.len() >= entry.room.max as usize {
                    return Err(HubError::RoomFull);
                }
                entry.members.insert(user.clone());
                entry.arrived.push(user.clone());
                self.changed(&room.id, entry);
            }
        }
        let (rx, wave) = entry.tx.subscribe();
        Ok(Entry {
            presence: Presence {
                hub: self.clone(),
                room_id: room.id.clone(),
                user_id: user.id.clone(),
            },
            rx,
            wave,
            snapshot: entry.snapshot(),
            read,
            published,
        })
    }

    /// A page view or a post by `user`: present for the visit window,
    /// unless a stream or poll of theirs here already says exactly when
    /// they leave. Nothing fails: a visit to a full room (or one being
    /// deleted) just adds no presence.
    pub fn visit(&self, room: &RoomRow, user: &User) {
        let window = self.shared.config.visit_window;
        if window.is_zero() {
            return;
        }
        let mut state = self.state();
        if state.deleted.contains(&room.id) {
            return;
        }
        let entry = self.room_state(&mut state, room);
        if entry.closing {
            return;
        }
        let known = entry.members.contains(&user.id);
        if !known && entry.members.len() >= entry.room.max as usize {
            return;
        }
        let until = tokio::time::Instant::now() + window;
        let (timer_running, arrived) = match entry.members.get_mut(&user.id) {
            Some(member) if member.connections > 0 => return,
            Some(member) => {
                // A pending departure (a grace period) is stale now.
                member.generation += 1;
                member.grace_until = None;
                let arrived = !member.here;
                member.here = true;
                (member.visiting_until.replace(until).is_some(), arrived)
            }
            None => {
                entry.members.insert_visitor(user.clone(), until);
                (false, true)
            }
        };
        if arrived {
            entry.arrived.push(user.clone());
            self.changed(&room.id, entry);
        }
        drop(state);
        if !timer_running {
            let ends = self
                .clone()
                .end_visit(room.id.clone(), user.id.clone(), until);
            self.shared.runtime.spawn(ends);
        }
    }

    /// Ends a member's visit once its window has passed, however often
    /// later visits moved it on: one timer per visiting member, not one
    /// per page view or post.
    async fn end_visit(self, room_id: String, user_id: String, mut until: tokio::time::Instant) {
        let generation = loop {
            tokio::time::sleep_until(until).await;
            let mut state = self.state();
            let Some(member) = state
                .rooms
                .get_mut(&room_id)
                .and_then(|room| room.members.get_mut(&user_id))
            else {
                return;
            };
            match member.visiting_until {
                Some(later) if later > until => until = later,
                _ => {
                    member.visiting_until = None;
                    break member.generation;
                }
            }
        };
        // Gone, unless a stream or poll of theirs is here by now.
        self.leave_if_still_gone(&room_id, &user_id, generation);
    }

    /// The room's state, made when first needed.
    fn room_state<'a>(&self, state: &'a mut State, room: &RoomRow) -> &'a mut RoomState {
        let published = state.published;
        let capacity = self.shared.config.room_channel_capacity;
        state.rooms.entry(room.id.clone()).or_insert_with(|| {
            let channel = RoomChannel::new(capacity, self.shared.runtime.clone());
            RoomState::new(room.clone(), channel, published)
        })
    }

    /// `user` arrived in the room through another node (`arrived`), or
    /// departed from it there.
    pub fn presence_elsewhere(&self, room: &RoomRow, node: &str, user: &User, arrived: bool) {
        let mut state = self.state();
        if state.deleted.contains(&room.id) {
            return;
        }
        let entry = self.room_state(&mut state, room);
        // Whether the members changed, not only the nodes of one.
        let changed = match entry.members.get_mut(&user.id) {
            Some(member) if arrived => {
                if !member.elsewhere.iter().any(|n| n == node) {
                    member.elsewhere.push(node.to_owned());
                }
                false
            }
            Some(member) => {
                member.elsewhere.retain(|n| n != node);
                entry.members.remove_if_gone(&user.id)
            }
            None if arrived => {
                entry
                    .members
                    .insert_elsewhere(user.clone(), node.to_owned());
                true
            }
            None => false,
        };
        if changed {
            self.changed(&room.id, entry);
        }
    }

    /// This node's lease ran out, so the other nodes may have removed its
    /// presence: everyone present here is stored again (an arrival already
    /// stored is no second join).
    pub fn lease_lost(&self) {
        let mut state = self.state();
        let State { rooms, .. } = &mut *state;
        for (room_id, room) in rooms.iter_mut() {
            let here: Vec<User> = room
                .members
                .by_arrival()
                .filter(|m| m.here)
                .map(|m| m.user.clone())
                .collect();
            if !here.is_empty() {
                room.arrived.extend(here);
                self.changed(room_id, room);
            }
        }
    }

    /// The current snapshot of a room (empty when nobody is present).
    pub fn members(&self, room: &RoomRow) -> MembersSnapshot {
        match self.state().rooms.get(&room.id) {
            Some(state) => state.snapshot_body(),
            None => MembersSnapshot {
                room: room.id.clone(),
                count: 0,
                max: room.max,
                owner: room.owner.clone(),
                members: Vec::new(),
            },
        }
    }

    /// The user behind `user_id`, if present in the room now.
    pub fn member(&self, room_id: &str, user_id: &str) -> Option<User> {
        let state = self.state();
        let member = state.rooms.get(room_id)?.members.get(user_id)?;
        Some(member.user.clone())
    }

    /// Whether `user` would be turned away as one too many.
    pub fn is_full_for(&self, room: &RoomRow, user: &User) -> bool {
        self.state().rooms.get(&room.id).is_some_and(|state| {
            state.members.len() >= state.room.max as usize && !state.members.contains(&user.id)
        })
    }

    /// The current `members` event of a room with anyone present.
    pub fn current_snapshot(&self, room_id: &str) -> Option<Arc<Event>> {
        self.state().rooms.get_mut(room_id).map(RoomState::snapshot)
    }

    /// The members snapshot if this user's polls have not had the latest
    /// one yet; marks it as had.
    pub fn unpolled_snapshot(&self, room_id: &str, user_id: &str) -> Option<Arc<Event>> {
        let mut state = self.state();
        let room = state.rooms.get_mut(room_id)?;
        let version = room.snapshot_version;
        let member = room.members.get_mut(user_id)?;
        if member.polled_version == version {
            return None;
        }
        member.polled_version = version;
        Some(room.snapshot())
    }

    /// The owner changed (committed): the snapshot and the lobby follow.
    pub fn owner_changed(&self, room_id: &str, owner: &User) {
        let mut state = self.state();
        if let Some(room) = state.rooms.get_mut(room_id) {
            room.room.owner = owner.clone();
            room.admissions.forget(None);
            self.changed(room_id, room);
        }
    }

    /// A room's settings changed (committed): its members and the lobby
    /// see the new ones; remembered access is read again (a password may
    /// have been set).
    pub fn room_changed(&self, row: &RoomRow) {
        let mut state = self.state();
        match state.rooms.get_mut(&row.id) {
            Some(room) => {
                room.room = row.clone();
                room.admissions.forget(None);
                self.changed(&row.id, room);
            }
            None => {
                drop(state);
                let public = row.public(0);
                self.lobby()
                    .send(Event::transient(Kind::RoomUpdated, Audience::Room, &public));
            }
        }
    }

    /// `user_id` came to the room from `addr` (`addresses.rs`).
    pub fn seen_at(&self, room_id: &str, user_id: &str, addr: std::net::IpAddr) {
        self.state().addresses.seen(room_id, user_id, addr);
    }

    /// The addresses `user_id` came to the room from, as far as this node
    /// knows.
    pub fn addresses(&self, room_id: &str, user_id: &str) -> Vec<std::net::IpAddr> {
        self.state().addresses.of(room_id, user_id)
    }

    /// The ids of everyone present in the room, on any node.
    pub fn member_ids(&self, room_id: &str) -> Vec<String> {
        let state = self.state();
        let Some(room) = state.rooms.get(room_id) else {
            return Vec::new();
        };
        room.members
            .by_arrival()
            .map(|m| m.user.id.clone())
            .collect()
    }

    /// Whether `user` may not come into the room now: it is locked, and
    /// they are neither present nor its owner.
    pub fn locked_out(&self, room: &RoomRow, user: &User) -> bool {
        let state = self.state();
        let (locked, owner, present) = match state.rooms.get(&room.id) {
            Some(now) => (
                now.room.locked,
                &now.room.owner.id,
                now.members.contains(&user.id),
            ),
            None => (room.locked, &room.owner.id, false),
        };
        locked && !present && *owner != user.id
    }

    /// A user was banned (committed): their streams get `kicked` and close,
    /// and they stop being a member at once, without a leave notice.
    pub fn kicked(&self, room_id: &str, user_id: &str) {
        let mut state = self.state();
        // Counted even when the room is not in memory: an entry checked
        // before this ban may be about to bring it there.
        self.count_ban();
        if let Some(room) = state.rooms.get_mut(room_id) {
            // Everyone's: the ban may keep an address out, whoever uses it.
            room.admissions.forget(None);
            // Whatever this node had not stored yet of them is moot: the
            // ban removed their presence everywhere.
            room.arrived.retain(|u| u.id != user_id);
            room.departed.retain(|u| u.id != user_id);
            let body = RoomNotice {
                kind: Kind::Kicked,
                room: room_id.to_owned(),
            };
            let notice = Event::transient(Kind::Kicked, Audience::User(user_id.to_owned()), &body);
            room.tx.send(Arc::new(notice));
            if room.members.remove(user_id).is_some() {
                self.changed(room_id, room);
            }
        }
    }

    /// A user set a display name: member lists show it from now on.
    pub fn renamed(&self, user: &User) {
        let mut state = self.state();
        let State { rooms, .. } = &mut *state;
        for (room_id, room) in rooms.iter_mut() {
            let mut touched = room.members.rename(user);
            if room.room.owner.id == user.id {
                room.room.owner = user.clone();
                touched = true;
            }
            if touched {
                self.changed(room_id, room);
            }
        }
    }

    /// Ends one connection of a user; the last one schedules the leave.
    fn release(&self, room_id: &str, user_id: &str) {
        let mut state = self.state();
        let State { rooms, graces, .. } = &mut *state;
        let Some(member) = rooms
            .get_mut(room_id)
            .and_then(|room| room.members.get_mut(user_id))
        else {
            return;
        };
        member.connections = member.connections.saturating_sub(1);
        if member.connections == 0 {
            self.start_grace(graces, member, room_id, user_id);
        }
    }

    fn leave_if_still_gone(&self, room_id: &str, user_id: &str, generation: u64) {
        let mut state = self.state();
        let Some(room) = state.rooms.get_mut(room_id) else {
            return;
        };
        let Some(member) = room.members.get(user_id) else {
            return;
        };
        if member.connections > 0 || member.generation != generation || !member.here {
            return;
        }
        self.depart(room, user_id);
    }

    /// A member present through this node is not any more.
    pub(super) fn depart(&self, room: &mut RoomState, user_id: &str) {
        let Some(member) = room.members.get_mut(user_id) else {
            return;
        };
        member.here = false;
        room.departed.push(member.user.clone());
        room.members.remove_if_gone(user_id);
        let room_id = room.room.id.clone();
        self.changed(&room_id, room);
    }
}

use super::State;

impl Drop for Presence {
    fn drop(&mut self) {
        self.hub.release(&self.room_id, &self.user_id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        hub::{HubConfig, Round, RoundsToStore},
        model::MembersEvent,
    };

    const GRACE: Duration = Duration::from_secs(5);
    const WINDOW: Duration = Duration::from_secs(60);

    fn room(max: u32) -> RoomRow {
        RoomRow {
            id: "room".into(),
            title: "t".into(),
            max,
            password_hash: None,
            owner: User::new("ann".into(), None),
            created_at: "2026-01-01T00:00:00Z".into(),
            locked: false,
        }
    }

    fn hub() -> (Hub, RoundsToStore) {
        Hub::new(HubConfig {
            leave_grace: GRACE,
            visit_window: WINDOW,
            room_channel_capacity: 16,
        })
    }

    /// The next round the hub asks to store, answered "stored".
    async fn next_round(rounds: &mut RoundsToStore) -> (Vec<String>, Vec<String>) {
        let Round {
            arrived,
            departed,
            stored,
            ..
        } = rounds.recv().await.unwrap();
        let _ = stored.send(Ok(()));
        let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect();
        (ids(arrived), ids(departed))
    }

    /// Lets spawned timers and flushes run at the paused clock's now.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_departure_is_stored_after_the_grace_period_unless_the_user_came_back() {
        let (hub, mut rounds) = hub();
        let (room, ann) = (room(10), User::new("ann".into(), None));
        let tab = hub.enter(&room, &ann, hub.ban_mark()).unwrap();
        assert_eq!(next_round(&mut rounds).await, (vec!["ann".into()], vec![]));

        // A reload: gone and back within the grace period, nothing stored.
        drop(tab);
        tokio::time::advance(GRACE / 2).await;
        let tab = hub.enter(&room, &ann, hub.ban_mark()).unwrap();
        tokio::time::advance(GRACE * 2).await;
        settle().await;
        assert!(rounds.try_recv().is_err(), "no round for a reload");
        assert_eq!(hub.member_count("room"), 1);

        drop(tab);
        tokio::time::advance(GRACE - Duration::from_millis(10)).await;
        settle().await;
        assert!(rounds.try_recv().is_err(), "still within the grace period");
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(next_round(&mut rounds).await, (vec![], vec!["ann".into()]));
        assert_eq!(hub.member_count("room"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poller_stays_while_it_polls_and_leaves_a_grace_after_its_last_poll() {
        let (hub, mut rounds) = hub();
        let (room, ann) = (room(10), User::new("ann".into(), None));
        drop(hub.enter(&room, &ann, hub.ban_mark()).unwrap());
        assert_eq!(next_round(&mut rounds).await, (vec!["ann".into()], vec![]));

        // Poll after poll for three grace periods: one answer every 50 ms,
        // the next poll 5 ms later.
        for _ in 0..300 {
            tokio::time::advance(Duration::from_millis(5)).await;
            let poll = hub.enter(&room, &ann, hub.ban_mark()).unwrap();
            tokio::time::advance(Duration::from_millis(45)).await;
            drop(poll);
        }
        settle().await;
        assert!(rounds.try_recv().is_err(), "no departure while polling");
        assert_eq!(hub.member_count("room"), 1);
        assert_eq!(
            hub.state().graces.len(),
            1,
            "one entry for the poller, not one per poll"
        );

        tokio::time::advance(GRACE - Duration::from_millis(10)).await;
        settle().await;
        assert!(
            rounds.try_recv().is_err(),
            "within the grace of the last poll"
        );
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(next_round(&mut rounds).await, (vec![], vec!["ann".into()]));
        assert_eq!(hub.member_count("room"), 0);
        settle().await;
        assert_eq!(hub.state().graces.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_visit_keeps_its_user_present_for_the_window_each_visit_renewing_it() {
        let (hub, mut rounds) = hub();
        let (room, bo) = (room(10), User::new("bo".into(), None));
        hub.visit(&room, &bo);
        assert_eq!(next_round(&mut rounds).await, (vec!["bo".into()], vec![]));
        assert_eq!(hub.member_count("room"), 1);

        let second = Duration::from_secs(1);
        tokio::time::advance(WINDOW - second).await;
        hub.visit(&room, &bo);
        tokio::time::advance(WINDOW - second).await;
        settle().await;
        assert!(rounds.try_recv().is_err(), "renewed: no departure");
        assert_eq!(hub.member_count("room"), 1);
        tokio::time::advance(second * 2).await;
        assert_eq!(next_round(&mut rounds).await, (vec![], vec!["bo".into()]));
        assert_eq!(hub.member_count("room"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_takes_over_from_a_visit_and_a_visit_adds_nothing_to_a_stream() {
        let (hub, mut rounds) = hub();
        let (room, bo) = (room(10), User::new("bo".into(), None));
        // Ann stays throughout, so the room does not empty.
        let _ann = hub
            .enter(&room, &User::new("ann".into(), None), hub.ban_mark())
            .unwrap();
        assert_eq!(next_round(&mut rounds).await.0, ["ann"]);
        // Bo's page is viewed, then its script's stream opens.
        hub.visit(&room, &bo);
        let tab = hub.enter(&room, &bo, hub.ban_mark()).unwrap();
        assert_eq!(next_round(&mut rounds).await, (vec!["bo".into()], vec![]));
        // Posting while the stream is open is no visit.
        hub.visit(&room, &bo);
        drop(tab);
        // Gone a grace period after the tab closed, not a window after.
        tokio::time::advance(GRACE + Duration::from_millis(10)).await;
        assert_eq!(next_round(&mut rounds).await, (vec![], vec!["bo".into()]));
        assert!(GRACE < WINDOW);

        // A visit within the grace period keeps the user for the window.
        let tab = hub.enter(&room, &bo, hub.ban_mark()).unwrap();
        assert_eq!(next_round(&mut rounds).await.0, ["bo"]);
        drop(tab);
        hub.visit(&room, &bo);
        tokio::time::advance(GRACE * 2).await;
        settle().await;
        assert!(rounds.try_recv().is_err(), "the visit holds");
        tokio::time::advance(WINDOW).await;
        assert_eq!(next_round(&mut rounds).await, (vec![], vec!["bo".into()]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_visit_to_a_full_room_adds_no_one() {
        let (hub, rounds) = hub();
        let room = room(2);
        let _ann = hub
            .enter(&room, &User::new("ann".into(), None), hub.ban_mark())
            .unwrap();
        let _cy = hub
            .enter(&room, &User::new("cy".into(), None), hub.ban_mark())
            .unwrap();
        hub.visit(&room, &User::new("bo".into(), None));
        assert_eq!(hub.member_count("room"), 2);
        assert!(hub.member("room", "bo").is_none());
        drop(rounds);
    }

    #[tokio::test(start_paused = true)]
    async fn the_changes_of_one_second_are_one_round() {
        let (hub, mut rounds) = hub();
        let room = room(10);
        let _first = hub
            .enter(&room, &User::new("u0".into(), None), hub.ban_mark())
            .unwrap();
        assert_eq!(next_round(&mut rounds).await.0, ["u0"]);
        let tabs: Vec<_> = (1..=5)
            .map(|i| {
                hub.enter(&room, &User::new(format!("u{i}"), None), hub.ban_mark())
                    .unwrap()
            })
            .collect();
        settle().await;
        assert!(
            rounds.try_recv().is_err(),
            "folded until a second has passed"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        let (arrived, _) = next_round(&mut rounds).await;
        assert_eq!(arrived, ["u1", "u2", "u3", "u4", "u5"]);
        drop(tabs);
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_present_through_another_node_stays_a_member_and_counts_for_capacity() {
        let (hub, mut rounds) = hub();
        let room = room(2);
        let ann = User::new("ann".into(), None);
        hub.presence_elsewhere(&room, "node-b", &ann, true);
        let tab = hub.enter(&room, &ann, hub.ban_mark()).unwrap();
        assert_eq!(hub.member_count("room"), 1, "one user on two nodes");
        assert_eq!(next_round(&mut rounds).await.0, ["ann"]);
        hub.presence_elsewhere(&room, "node-c", &User::new("bo".into(), None), true);
        assert!(matches!(
            hub.enter(&room, &User::new("cy".into(), None), hub.ban_mark()),
            Err(HubError::RoomFull)
        ));

        drop(tab);
        tokio::time::advance(GRACE * 2).await;
        assert_eq!(next_round(&mut rounds).await.1, ["ann"]);
        assert_eq!(
            hub.member_count("room"),
            2,
            "ann is still there through node b"
        );
        hub.presence_elsewhere(&room, "node-b", &ann, false);
        assert_eq!(hub.member_count("room"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_checked_before_a_ban_came_in_is_refused() {
        let (hub, mut rounds) = hub();
        let (room, bo) = (room(10), User::new("bo".into(), None));
        let tab = hub.enter(&room, &bo, hub.ban_mark()).unwrap();
        let mut rx = tab.rx;
        assert_eq!(next_round(&mut rounds).await.0, ["bo"]);

        // Bo's second tab was checked (admitted); the ban commits before it
        // enters: the first tab hears `kicked`, the second is refused.
        let checked = hub.ban_mark();
        hub.kicked("room", "bo");
        assert_eq!(rx.try_recv().unwrap().kind, Kind::Kicked);
        assert!(matches!(
            hub.enter(&room, &bo, checked),
            Err(HubError::BannedSince)
        ));
        assert_eq!(hub.member_count("room"), 0, "not a member again");
        // A ban anywhere counts, also in a room not in memory: a check
        // made before it is made again.
        let checked = hub.ban_mark();
        hub.kicked("elsewhere", "cy");
        assert!(matches!(
            hub.enter(&room, &User::new("ann".into(), None), checked),
            Err(HubError::BannedSince)
        ));
        assert!(
            hub.enter(&room, &User::new("ann".into(), None), hub.ban_mark())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_hand_rendered_members_event_is_a_members_event() {
        let owner = User::new("owner-id".into(), Some("Ana".into()));
        let room = RoomRow {
            id: "room".into(),
            title: "t".into(),
            max: 10,
            password_hash: None,
            owner: owner.clone(),
            created_at: "2026-01-01T00:00:00Z".into(),
            locked: false,
        };
        let channel = RoomChannel::new(4, tokio::runtime::Handle::current());
        let mut state = RoomState::new(room, channel, 0);
        state.members.insert(owner);
        state.members.insert(User::new("guest-id".into(), None));
        let rendered: serde_json::Value = serde_json::from_slice(&state.snapshot().json).unwrap();
        let typed = MembersEvent {
            kind: Kind::Members,
            snapshot: state.snapshot_body(),
        };
        assert_eq!(rendered, serde_json::to_value(typed).unwrap());
    }
}
