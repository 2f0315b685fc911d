//! What both backends make of their rows beyond single columns: the
//! mentions a message stores (as JSON text: ids and names), and the
//! reactions folded onto the messages of a history page.

use serde::{Deserialize, Serialize};

use crate::model::{EventRecord, Quote, Reactions, User};

/// A mentioned user as stored: the colors follow from the id.
#[derive(Serialize, Deserialize)]
struct Mentioned {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// The mentions column: `NULL` for none.
pub(crate) fn mentions_column(users: &[User]) -> Option<String> {
    if users.is_empty() {
        return None;
    }
    let stored: Vec<Mentioned> = users
        .iter()
        .map(|u| Mentioned {
            id: u.id.clone(),
            name: u.name.clone(),
        })
        .collect();
    serde_json::to_string(&stored).ok()
}

/// The users of a mentions column. One that does not parse (written by
/// hand, say) mentions nobody rather than failing the whole read.
pub(crate) fn mentions_of(column: Option<String>) -> Vec<User> {
    let Some(text) = column else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<Mentioned>>(&text) {
        Ok(stored) => stored
            .into_iter()
            .map(|m| User::new(m.id, m.name))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "a stored mentions column does not parse");
            Vec::new()
        }
    }
}

/// The quote of a reply, from the replied-to message's columns (its
/// author's id and name, its text and GIF, whether it was deleted).
pub(crate) fn quote_of(
    reply_to: Option<i64>,
    (user_id, user_name): (Option<String>, Option<String>),
    (chat, gif): (Option<String>, Option<String>),
    deleted: bool,
) -> Option<Box<Quote>> {
    Some(Box::new(Quote {
        id: reply_to?,
        // Gone with its room never happens (a reply is in the same room);
        // gone all the same, it reads as deleted.
        deleted: deleted || user_id.is_none(),
        user: user_id.map(|id| User::new(id, user_name)),
        chat,
        gif,
    }))
}

/// One row of `reactions`, in the order they were given.
pub(crate) struct ReactionRow {
    pub event_id: i64,
    pub reaction: String,
    pub user: User,
}

/// Folds `rows` (ordered by when each was given) onto `events`: each
/// message's reactions in the order they were first given, with who gave
/// them.
pub(crate) fn fold_reactions(events: &mut [EventRecord], rows: Vec<ReactionRow>) {
    for row in rows {
        let Some(event) = events.iter_mut().find(|e| e.id == row.event_id) else {
            continue;
        };
        match event
            .reactions
            .iter_mut()
            .find(|r| r.reaction == row.reaction)
        {
            Some(given) => {
                given.count += 1;
                given.users.push(row.user);
            }
            None => event.reactions.push(Reactions {
                reaction: row.reaction,
                count: 1,
                users: vec![row.user],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_survive_the_column_and_none_is_null() {
        let users = vec![
            User::new("alice123".into(), Some("Alice".into())),
            User::new("bob45678".into(), None),
        ];
        assert_eq!(mentions_of(mentions_column(&users)), users);
        assert_eq!(mentions_column(&[]), None);
        assert!(mentions_of(Some("not json".into())).is_empty());
    }

    #[test]
    fn reactions_fold_in_the_order_first_given() {
        let mut events = vec![EventRecord {
            id: 1,
            ..EventRecord::default()
        }];
        let row = |reaction: &str, user: &str| ReactionRow {
            event_id: 1,
            reaction: reaction.into(),
            user: User::new(user.into(), None),
        };
        let rows = vec![row("👍", "a"), row("🎉", "b"), row("👍", "c")];
        fold_reactions(&mut events, rows);
        let folded: Vec<(&str, usize)> = events[0]
            .reactions
            .iter()
            .map(|r| (r.reaction.as_str(), r.count))
            .collect();
        assert_eq!(folded, [("👍", 2), ("🎉", 1)]);
        assert_eq!(events[0].reactions[0].users[1].id, "c");
    }
}
