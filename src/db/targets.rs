//! The rules of changing a message (reactions, edits, deletes) and of
//! replying to one, decided on the message as the writer's transaction
//! reads it, so that a change racing a delete is refused, never half
//! applied. Both backends read the message and let these rules decide.

use super::error::Refusal;
use crate::model::{EventRecord, Kind, NewEvent, Quote, User};

/// Whether `change` (a `reaction`, `unreaction`, `edit` or `delete` by its
/// user) may be made to `target` in a room that `owner_id` owns; if so,
/// the `to` the stored change carries: a change to a whisper is seen by
/// the whisper's two users only, so it names the other one.
pub(crate) fn check_change(
    change: &NewEvent,
    target: Option<&EventRecord>,
    owner_id: &str,
) -> Result<Option<User>, Refusal> {
    let actor = change.user.as_ref().map_or("", |u| u.id.as_str());
    let target = target
        .filter(|t| t.room == change.room_id && !t.deleted && t.visible_to(actor))
        .ok_or(Refusal::Missing)?;
    if !target.kind.is_message() {
        return Err(Refusal::NotMessage);
    }
    let author = target.user.as_ref().map_or("", |u| u.id.as_str());
    match change.kind {
        Kind::Edit if !matches!(target.kind, Kind::Chat | Kind::Whisper) => {
            return Err(Refusal::NotText);
        }
        Kind::Edit if author != actor => return Err(Refusal::NotAuthor),
        Kind::Delete if author != actor && owner_id != actor => {
            return Err(Refusal::NotAuthorOrOwner);
        }
        _ => {}
    }
    Ok(match (&target.user, &target.to) {
        (Some(from), Some(to)) if from.id == actor => Some(to.clone()),
        (Some(from), Some(_)) => Some(from.clone()),
        _ => None,
    })
}

/// Whether `post` may reply to `original`; if so, the quote it carries.
/// A reply to a whisper is a whisper between the same two: anything else
/// would show the whisper's words to others.
pub(crate) fn check_reply(
    post: &NewEvent,
    original: Option<&EventRecord>,
) -> Result<Box<Quote>, Refusal> {
    let poster = post.user.as_ref().map_or("", |u| u.id.as_str());
    let original = original
        .filter(|o| o.room == post.room_id && !o.deleted && o.visible_to(poster))
        .ok_or(Refusal::ReplyMissing)?;
    if !original.kind.is_message() {
        return Err(Refusal::NotMessage);
    }
    if let (Some(a), Some(b)) = (&original.user, &original.to) {
        let pair = |x: &str, y: &str| (x == a.id && y == b.id) || (x == b.id && y == a.id);
        let same =
            post.kind == Kind::Whisper && post.to.as_ref().is_some_and(|to| pair(poster, &to.id));
        if !same {
            return Err(Refusal::WhisperReply);
        }
    }
    Ok(Box::new(original.quote()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> User {
        User::new(id.into(), None)
    }

    fn message(kind: Kind, from: &str, to: Option<&str>) -> EventRecord {
        EventRecord {
            id: 5,
            kind,
            room: "r".into(),
            user: Some(user(from)),
            to: to.map(user),
            chat: Some("hello".into()),
            ..EventRecord::default()
        }
    }

    fn change(kind: Kind, by: &str) -> NewEvent {
        NewEvent {
            target: Some(5),
            ..NewEvent::by(user(by), "r", kind)
        }
    }

    #[test]
    fn only_the_author_edits_and_only_text() {
        let chat = message(Kind::Chat, "alice", None);
        assert_eq!(
            check_change(&change(Kind::Edit, "alice"), Some(&chat), "o"),
            Ok(None)
        );
        let by_bob = check_change(&change(Kind::Edit, "bob"), Some(&chat), "bob");
        assert_eq!(by_bob, Err(Refusal::NotAuthor), "not even the owner");
        let gif = message(Kind::Gif, "alice", None);
        let edit_gif = check_change(&change(Kind::Edit, "alice"), Some(&gif), "o");
        assert_eq!(edit_gif, Err(Refusal::NotText));
    }

    #[test]
    fn the_author_or_the_owner_deletes() {
        let chat = message(Kind::Chat, "alice", None);
        assert!(check_change(&change(Kind::Delete, "alice"), Some(&chat), "o").is_ok());
        assert!(check_change(&change(Kind::Delete, "owner"), Some(&chat), "owner").is_ok());
        let by_carol = check_change(&change(Kind::Delete, "carol"), Some(&chat), "owner");
        assert_eq!(by_carol, Err(Refusal::NotAuthorOrOwner));
    }

    #[test]
    fn a_whisper_is_changed_by_its_two_users_only_and_so_seen() {
        let whisper = message(Kind::Whisper, "alice", Some("bob"));
        let by_bob = check_change(&change(Kind::Reaction, "bob"), Some(&whisper), "o");
        assert_eq!(by_bob.map(|to| to.map(|u| u.id)), Ok(Some("alice".into())));
        let by_alice = check_change(&change(Kind::Reaction, "alice"), Some(&whisper), "o");
        assert_eq!(by_alice.map(|to| to.map(|u| u.id)), Ok(Some("bob".into())));
        // The owner does not see it, so cannot delete it either.
        let by_owner = check_change(&change(Kind::Delete, "owner"), Some(&whisper), "owner");
        assert_eq!(by_owner, Err(Refusal::Missing));
    }

    #[test]
    fn deleted_missing_and_foreign_messages_are_not_there() {
        let mut deleted = message(Kind::Chat, "alice", None);
        deleted.deleted = true;
        let reaction = change(Kind::Reaction, "bob");
        assert_eq!(
            check_change(&reaction, Some(&deleted), "o"),
            Err(Refusal::Missing)
        );
        assert_eq!(check_change(&reaction, None, "o"), Err(Refusal::Missing));
        let mut elsewhere = message(Kind::Chat, "alice", None);
        elsewhere.room = "other".into();
        assert_eq!(
            check_change(&reaction, Some(&elsewhere), "o"),
            Err(Refusal::Missing)
        );
        let notice = EventRecord {
            kind: Kind::System,
            room: "r".into(),
            ..EventRecord::default()
        };
        assert_eq!(
            check_change(&reaction, Some(&notice), "o"),
            Err(Refusal::NotMessage)
        );
    }

    #[test]
    fn a_reply_to_a_whisper_is_a_whisper_between_the_same_two() {
        let whisper = message(Kind::Whisper, "alice", Some("bob"));
        let reply = |kind, from: &str, to: Option<&str>| NewEvent {
            reply_to: Some(5),
            to: to.map(user),
            ..NewEvent::by(user(from), "r", kind)
        };
        let back = reply(Kind::Whisper, "bob", Some("alice"));
        assert_eq!(check_reply(&back, Some(&whisper)).map(|q| q.id), Ok(5));
        let public = reply(Kind::Chat, "bob", None);
        assert_eq!(
            check_reply(&public, Some(&whisper)),
            Err(Refusal::WhisperReply)
        );
        let to_carol = reply(Kind::Whisper, "bob", Some("carol"));
        assert_eq!(
            check_reply(&to_carol, Some(&whisper)),
            Err(Refusal::WhisperReply)
        );
        let by_carol = reply(Kind::Chat, "carol", None);
        assert_eq!(
            check_reply(&by_carol, Some(&whisper)),
            Err(Refusal::ReplyMissing)
        );
        let chat = message(Kind::Chat, "alice", None);
        let quote = check_reply(&public, Some(&chat)).unwrap();
        assert_eq!(quote.chat.as_deref(), Some("hello"));
    }
}
