//! Presence as stored: which users are in which room through which node.
//!
//! Each node keeps its own connections and grace periods in memory (the
//! hub) and hands the store one round of arrivals and departures per room
//! at a time. What a round means for everyone (who really joined, who
//! really left, who inherits the room, whether it is now empty) depends on
//! every node's rows, so it is decided here, in the writer's transaction,
//! from the room's rows read under the room's lock: with several nodes each
//! change is decided once, by whichever transaction makes it. Both backends
//! read the rows, ask [`plan`], and write what it says.
//!
//! A user is present while any node has a row for them. A node that stops
//! renewing its lease is dead: another node removes its rows as departures
//! (`db::Reads::stale_presence`), so its users leave, once, if they are
//! nowhere else.

use crate::model::{EventRecord, RoomRow, User};

/// One round of a node's arrivals and departures in one room.
#[derive(Debug)]
pub struct PresenceChange {
    pub room_id: String,
    /// Whose rows: this node's (`None`), or those of a dead node, which
    /// another node removes.
    pub node: Option<String>,
    /// Users now present through the node (first connection there).
    pub arrived: Vec<User>,
    /// Users gone from the node (last connection there, after the grace).
    pub departed: Vec<User>,
}

/// What a round did, as committed.
#[derive(Debug, Clone)]
pub struct PresenceDone {
    /// The room as it is now (its owner may be the heir).
    pub room: RoomRow,
    /// Whose rows changed: this node's (`None`) or a dead node's.
    pub node: Option<String>,
    /// Rows added and removed: the users now present, or not any more,
    /// through that node.
    pub arrived: Vec<User>,
    pub departed: Vec<User>,
    /// "alice joined" and "bob left", when anyone really did.
    pub joined: Option<EventRecord>,
    pub left: Option<EventRecord>,
    /// "carol is now the owner", when the owner left everywhere (the
    /// room's owner is carol).
    pub heir: Option<EventRecord>,
    /// The room emptied: deleted (with its GIFs' URLs), unless it was
    /// emptied by a node's death, which leaves it to be re-entered.
    pub deleted: Option<Vec<String>>,
}

impl PresenceDone {
    /// Rows written for `node`, nothing announced yet.
    pub(crate) fn rows(
        room: RoomRow,
        node: Option<String>,
        arrived: Vec<User>,
        departed: Vec<User>,
    ) -> Self {
        Self {
            room,
            node,
            arrived,
            departed,
            joined: None,
            left: None,
            heir: None,
            deleted: None,
        }
    }
}

/// A stored row: `user` is present through `node`.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub user: User,
    pub node: String,
}

/// What to write for a round.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Rows to add and remove for the round's node.
    pub insert: Vec<User>,
    pub delete: Vec<User>,
    /// Users present nowhere before who are now, and the reverse.
    pub joined: Vec<User>,
    pub left: Vec<User>,
    /// Who inherits the room when its owner left: the user present longest.
    pub heir: Option<User>,
    /// Nobody is present any more.
    pub empty: bool,
}

/// Decides a round: `rows` are the room's rows, longest present first;
/// `node` is whose arrivals and departures they are. Arrivals are applied
/// before departures, so a user who came and went within one round is
/// both joined and left, as they were seen.
pub(crate) fn plan(
    owner_id: &str,
    mut rows: Vec<Row>,
    node: &str,
    arrived: &[User],
    departed: &[User],
) -> Plan {
    let mut plan = Plan::default();
    let present = |rows: &[Row], user_id: &str| rows.iter().any(|r| r.user.id == user_id);
    for user in arrived {
        if rows.iter().any(|r| r.node == node && r.user.id == user.id) {
            continue;
        }
        if !present(&rows, &user.id) {
            plan.joined.push(user.clone());
        }
        rows.push(Row {
            user: user.clone(),
            node: node.to_owned(),
        });
        plan.insert.push(user.clone());
    }
    for user in departed {
        let Some(at) = rows
            .iter()
            .position(|r| r.node == node && r.user.id == user.id)
        else {
            continue;
        };
        let row = rows.remove(at);
        // Added and removed in one round: neither written.
        match plan.insert.iter().position(|u| u.id == user.id) {
            Some(added) => {
                plan.insert.remove(added);
            }
            None => plan.delete.push(row.user.clone()),
        }
        if !present(&rows, &user.id) {
            plan.left.push(row.user);
        }
    }
    if plan.left.iter().any(|u| u.id == owner_id) {
        plan.heir = rows.first().map(|r| r.user.clone());
    }
    plan.empty = rows.is_empty() && !plan.left.is_empty();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> User {
        User::new(id.into(), None)
    }

    fn row(id: &str, node: &str) -> Row {
        Row {
            user: user(id),
            node: node.into(),
        }
    }

    fn ids(users: &[User]) -> Vec<&str> {
        users.iter().map(|u| u.id.as_str()).collect()
    }

    #[test]
    fn a_user_on_two_nodes_joins_once_and_leaves_once() {
        let on_a = plan("owner", vec![row("owner", "a")], "a", &[user("bo")], &[]);
        assert_eq!(ids(&on_a.joined), ["bo"]);
        let rows = vec![row("owner", "a"), row("bo", "a")];
        let on_b = plan("owner", rows.clone(), "b", &[user("bo")], &[]);
        assert!(on_b.joined.is_empty(), "already present through a");
        assert_eq!(ids(&on_b.insert), ["bo"]);
        let rows = vec![row("owner", "a"), row("bo", "a"), row("bo", "b")];
        let gone_from_a = plan("owner", rows, "a", &[], &[user("bo")]);
        assert!(gone_from_a.left.is_empty(), "still present through b");
        assert_eq!(ids(&gone_from_a.delete), ["bo"]);
        let rows = vec![row("owner", "a"), row("bo", "b")];
        let gone_from_b = plan("owner", rows, "b", &[], &[user("bo")]);
        assert_eq!(ids(&gone_from_b.left), ["bo"]);
        assert!(!gone_from_b.empty);
    }

    #[test]
    fn the_owner_leaving_everywhere_passes_the_room_to_the_longest_present() {
        let rows = vec![row("owner", "a"), row("ann", "b"), row("bo", "a")];
        let plan = plan("owner", rows, "a", &[], &[user("owner")]);
        assert_eq!(plan.heir.map(|u| u.id), Some("ann".into()));
        let rows = vec![row("owner", "a"), row("owner", "b"), row("ann", "b")];
        let still_there = super::plan("owner", rows, "a", &[], &[user("owner")]);
        assert_eq!(
            still_there.heir, None,
            "the owner is still present through b"
        );
    }

    #[test]
    fn the_last_departure_empties_the_room_and_rounds_are_idempotent() {
        let rows = vec![row("ann", "a")];
        let last = plan("ann", rows, "a", &[], &[user("ann")]);
        assert!(last.empty);
        assert_eq!(last.heir, None);
        // A departure already written (a second node sweeping the same dead
        // node) finds no row: nothing to do, nobody left twice.
        let again = plan("ann", vec![row("bo", "b")], "a", &[], &[user("ann")]);
        assert_eq!(again, Plan::default());
        // An arrival already written is no second join.
        let twice = plan("ann", vec![row("ann", "a")], "a", &[user("ann")], &[]);
        assert_eq!(twice, Plan::default());
    }

    #[test]
    fn a_visit_within_one_round_is_seen_but_writes_nothing() {
        let plan = plan(
            "owner",
            vec![row("owner", "a")],
            "a",
            &[user("bo")],
            &[user("bo")],
        );
        assert_eq!(ids(&plan.joined), ["bo"]);
        assert_eq!(ids(&plan.left), ["bo"]);
        assert!(plan.insert.is_empty() && plan.delete.is_empty());
        assert!(!plan.empty);
    }
}
