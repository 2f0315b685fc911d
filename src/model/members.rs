//! Who is present in a room: the `members` snapshot.

use serde::Serialize;

use super::{Kind, RoomRow, User};

/// A user present in a room through a node (another gifchat process on
/// the same database).
#[derive(Debug, Clone)]
pub struct Present {
    pub room: RoomRow,
    pub user: User,
    pub node: String,
}

/// `members` snapshot body, also the answer of `GET /rooms/{id}/members`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MembersSnapshot {
    /// The room's id (which room, on a stream of several).
    pub room: String,
    /// Users present now (exact, even when `members` is capped).
    pub count: usize,
    /// The room's capacity.
    #[schema(minimum = 2, maximum = 10_000)]
    pub max: u32,
    pub owner: User,
    /// Who is present, in order of arrival: the first 500.
    #[schema(max_items = 500)]
    pub members: Vec<User>,
}

/// A `members` event as a poll answer carries it: the snapshot with its
/// `type` in front. Rendered by hand from the roster's cached list (see
/// `RoomState::snapshot`); a test holds the two together.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MembersEvent {
    #[serde(rename = "type")]
    #[schema(schema_with = members_kind)]
    pub kind: Kind,
    #[serde(flatten)]
    pub snapshot: MembersSnapshot,
}

fn members_kind() -> utoipa::openapi::schema::Schema {
    Kind::schema_of(&[Kind::Members])
}

/// Notices name at most this many users and count the rest.
const NAMED_IN_NOTICE: usize = 3;

/// "alice joined", "alice and bob left", "alice, bob, carol and 12 others
/// joined": the stored notice of one round of arrivals or departures.
pub fn presence_notice(users: &[User], verb: &str) -> String {
    let names: Vec<&str> = users
        .iter()
        .take(NAMED_IN_NOTICE)
        .map(User::label)
        .collect();
    let rest = users.len() - names.len();
    let listed = match (names.as_slice(), rest) {
        ([], _) => String::new(),
        ([one], 0) => (*one).to_owned(),
        ([first @ .., last], 0) => format!("{} and {last}", first.join(", ")),
        (all, 1) => format!("{} and 1 other", all.join(", ")),
        (all, n) => format!("{} and {n} others", all.join(", ")),
    };
    format!("{listed} {verb}")
}

/// The notice of a room passing to `heir` because its owner left.
pub fn heir_notice(heir: &User) -> String {
    format!("{} is now the owner", heir.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Vec<User> {
        (0..n)
            .map(|i| User::new(format!("u{i}"), Some(format!("user{i}"))))
            .collect()
    }

    #[test]
    fn notices_name_up_to_three_users_and_count_the_rest() {
        assert_eq!(presence_notice(&users(1), "joined"), "user0 joined");
        assert_eq!(presence_notice(&users(2), "left"), "user0 and user1 left");
        assert_eq!(
            presence_notice(&users(3), "joined"),
            "user0, user1 and user2 joined"
        );
        assert_eq!(
            presence_notice(&users(4), "joined"),
            "user0, user1, user2 and 1 other joined"
        );
        assert_eq!(
            presence_notice(&users(15), "joined"),
            "user0, user1, user2 and 12 others joined"
        );
    }
}
