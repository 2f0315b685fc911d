//! Who is present in a room: the `members` snapshot.

use serde::Serialize;

use super::{Kind, User};

/// `members` snapshot body, also the answer of `GET /rooms/{id}/members`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MembersSnapshot {
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
