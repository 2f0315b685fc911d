//! What a post may point at besides its content: the message it replies
//! to (`reply_to`) and the people it mentions (`mentions`), as forms,
//! JSON and multipart GIF forms send them, checked and made users. Whether
//! the reply may be made is the writer's to decide (`db/targets.rs`), on
//! the message as it is when the post is stored.

use serde::Deserialize;
use utoipa::openapi::{
    Type,
    schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema},
};

use crate::{
    error::{AppError, AppResult},
    model::{RoomRow, User},
    routes::negotiate::{Loose, digits_up_to, whitespace_class, whole_text_pattern},
    state::AppState,
};

/// Most people one message mentions.
pub const MAX_MENTIONS: usize = 20;

/// The ids of `mentions`: a JSON array, or text (what forms send) with
/// the ids separated by commas or spaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdList {
    List(Vec<String>),
    Text(String),
}

/// Whether `id` can be a user's id (`^[A-Za-z0-9_-]{8,32}$`).
fn is_user_id(id: &str) -> bool {
    (8..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl IdList {
    /// For `#[serde(default, deserialize_with = "IdList::present")]`: an
    /// absent field is `None`, and `null` is refused (400) rather than
    /// taken for absence.
    pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<IdList>, D::Error> {
        <IdList as Deserialize>::deserialize(d).map(Some)
    }

    /// 422 unless every id can be a user's (in text, between the commas
    /// and spaces).
    pub fn check(&self) -> AppResult<()> {
        let malformed = match self {
            IdList::List(ids) => ids.iter().any(|id| !is_user_id(id)),
            IdList::Text(text) => text
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|id| !id.is_empty() && !is_user_id(id)),
        };
        match malformed {
            true => Err(AppError::invalid(
                "mentions are user ids: 8 to 32 letters, digits, `_` or `-`",
            )),
            false => Ok(()),
        }
    }

    /// The ids, trimmed, without empty ones or repeats, in order.
    pub fn ids(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            IdList::List(ids) => ids.iter().map(|id| id.trim()).collect(),
            IdList::Text(text) => text
                .split(|c: char| c == ',' || c.is_whitespace())
                .collect(),
        };
        let mut ids: Vec<String> = Vec::new();
        for id in raw.into_iter().filter(|id| !id.is_empty()) {
            if !ids.iter().any(|seen| seen == id) {
                ids.push(id.to_owned());
            }
        }
        ids
    }
}

/// The schema of `mentions`.
pub fn mentions_schema() -> Schema {
    let id = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_-]{8,32}$"));
    let list = ArrayBuilder::new().items(id).max_items(Some(MAX_MENTIONS));
    let space = whitespace_class();
    // Ids apart, by commas or spaces; at most 20 of them.
    let (id, gap) = ("[A-Za-z0-9_-]{8,32}", format!("(?:[,]|{space})"));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^{gap}*(?:{id}(?:{gap}+{id}){{0,19}})?{gap}*$"
        )));
    OneOfBuilder::new()
        .item(list)
        .item(text)
        .description(Some(
            "Whom the message mentions: ids of people in the room (present, or seen \
             posting in it), at most 20, as an array or as text separated by commas",
        ))
        .into()
}

/// The schema of `reply_to`.
pub fn reply_to_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(i64::MAX));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(reply_to_pattern()));
    OneOfBuilder::new()
        .item(number)
        .item(text)
        .description(Some(
            "The id of the message this one replies to: a message, GIF or whisper of this \
             room that the poster sees (a reply to a whisper is a whisper between the same two)",
        ))
        .into()
}

/// `reply_to` as text: an id (a test holds it to [`reply_to`]).
fn reply_to_pattern() -> String {
    let nineteen = digits_up_to(&i64::MAX.to_string());
    whole_text_pattern(&format!("[+]?0*(?:[1-9][0-9]{{0,17}}|{nineteen})"), true)
}

/// The id `reply_to` names: `None` when absent or empty, 422 when it is
/// not a positive whole number.
pub fn reply_to(value: Option<&Loose>) -> AppResult<Option<i64>> {
    match Loose::whole("reply_to", value)? {
        Some(id) if id < 1 => Err(AppError::invalid("reply_to must be a message's id")),
        id => Ok(id),
    }
}

/// The users `mentions` names, in order: each present in the room or
/// seen in its events. 422 for too many, 409 for someone who is not.
pub async fn mentioned(
    state: &AppState,
    room: &RoomRow,
    mentions: Option<&IdList>,
) -> AppResult<Vec<User>> {
    if let Some(mentions) = mentions {
        mentions.check()?;
    }
    let ids = mentions.map(IdList::ids).unwrap_or_default();
    if ids.len() > MAX_MENTIONS {
        return Err(AppError::invalid(format!(
            "a message mentions at most {MAX_MENTIONS} people"
        )));
    }
    let mut users = Vec::with_capacity(ids.len());
    for id in ids {
        let user = match state.hub.member(&room.id, &id) {
            Some(user) => Some(user),
            None => state.db.last_seen_user(&room.id, &id).await?,
        };
        users.push(user.ok_or_else(|| {
            AppError::conflict(format!("mentions name people in this room; {id} is not"))
        })?);
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::negotiate::tests::pattern_agrees_with;

    #[test]
    fn the_schema_of_reply_to_is_what_it_takes() {
        pattern_agrees_with(&reply_to_pattern(), |text| {
            reply_to(Some(&Loose::Text(text.into()))).is_ok()
        });
    }

    #[test]
    fn mention_lists_come_as_arrays_or_text() {
        let text = IdList::Text(" abc12345, def67890 abc12345 ".into());
        assert_eq!(text.ids(), ["abc12345", "def67890"]);
        assert!(text.check().is_ok());
        assert!(
            IdList::Text("abc, def67890".into()).check().is_err(),
            "too short"
        );
        assert!(
            IdList::List(vec!["x1234567".into(), "".into()])
                .check()
                .is_err()
        );
        assert!(IdList::List(vec![" x1234567".into()]).check().is_err());
    }

    #[test]
    fn a_reply_names_a_positive_id_or_nothing() {
        let text = |t: &str| Some(Loose::Text(t.into()));
        assert_eq!(reply_to(text("12").as_ref()).unwrap(), Some(12));
        assert_eq!(reply_to(text("").as_ref()).unwrap(), None);
        assert!(reply_to(text("0").as_ref()).is_err());
        assert!(reply_to(text("x").as_ref()).is_err());
    }
}
