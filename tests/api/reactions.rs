//! Reactions: stored `reaction` / `unreaction` events, folded into every
//! message of history and the page, live on streams and polls, seen as
//! their message is.

use serde_json::{Value, json};

use crate::helpers::{Client, Sse, TestApp, room_with, user_id};

fn path(room: &str, event: &Value) -> String {
    format!("/rooms/{room}/events/{}/reactions", event["id"])
}

async fn react(client: &Client, room: &str, event: &Value, reaction: &str) -> (u16, Value) {
    let answer = client
        .post_json(&path(room, event), json!({ "reaction": reaction }))
        .await;
    (answer.status.as_u16(), answer.json())
}

/// The reactions a message of the room's history shows `client`: each
/// reaction with its count and the names of who gave it.
async fn folded(client: &Client, room: &str, id: &Value) -> Vec<(String, u64, Vec<String>)> {
    let history = client.history(room).await;
    let message = history
        .iter()
        .find(|e| &e["id"] == id)
        .expect("the message is in history");
    message["reactions"]
        .as_array()
        .expect("every message has its reactions")
        .iter()
        .map(|r| {
            let names = r["users"].as_array().unwrap().iter();
            (
                r["reaction"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
                names
                    .map(|u| u["name"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// The messages and changes to them a stream delivers until the one whose
/// text is `last`, as `(type, target, chat)`.
async fn changes_until(sse: &mut Sse, last: &str) -> Vec<(String, Value, Value)> {
    let mut seen = Vec::new();
    loop {
        let event = sse.next().await.expect("events keep coming");
        if event.id.is_none() || matches!(event.kind(), "cursor" | "system") {
            continue;
        }
        let body = event.json();
        seen.push((
            event.kind().to_owned(),
            body["target"].clone(),
            body["chat"].clone(),
        ));
        if body["chat"] == last {
            return seen;
        }
    }
}

#[tokio::test]
async fn reactions_fold_into_history_and_arrive_live() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    let hello = alice.say(&room, "hello").await;
    assert_eq!(hello["reactions"], json!([]), "a new message has none");

    let (status, given) = react(bob, &room, &hello, "👍").await;
    assert_eq!(status, 201, "{given}");
    assert_eq!(given["type"], "reaction");
    assert_eq!(given["target"], hello["id"]);
    assert_eq!(given["chat"], "👍");
    assert_eq!(given["user"]["name"], "bob");
    assert_eq!(react(alice, &room, &hello, "👍").await.0, 201);
    assert_eq!(react(alice, &room, &hello, "🎉").await.0, 201);
    // The same again changes nothing: the event that gave it.
    let (status, again) = react(bob, &room, &hello, " 👍 ").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], given["id"]);

    let expected = vec![
        (
            "👍".to_owned(),
            2,
            vec!["bob".to_owned(), "alice".to_owned()],
        ),
        ("🎉".to_owned(), 1, vec!["alice".to_owned()]),
    ];
    assert_eq!(folded(alice, &room, &hello["id"]).await, expected);
    // The page's JSON shows the message as it is now too.
    let page = bob.get_json(&format!("/rooms/{room}")).await.json();
    let shown = page["events"].as_array().unwrap().iter();
    let shown: Vec<_> = shown.filter(|e| e["id"] == hello["id"]).collect();
    assert_eq!(shown[0]["reactions"][0]["count"], 2);
    // The changes themselves are in the log, not in history.
    assert!(
        bob.history(&room)
            .await
            .iter()
            .all(|e| e["type"] != "reaction")
    );

    let taken = bob
        .delete(&format!("{}/%F0%9F%91%8D", path(&room, &hello)))
        .await;
    assert_eq!(taken.status.as_u16(), 200, "{}", taken.text);
    assert_eq!(taken.json()["type"], "unreaction");
    let again = bob
        .delete(&format!("{}/%F0%9F%91%8D", path(&room, &hello)))
        .await;
    again.assert_error(404, "not_found");
    let expected = vec![
        ("👍".to_owned(), 1, vec!["alice".to_owned()]),
        ("🎉".to_owned(), 1, vec!["alice".to_owned()]),
    ];
    assert_eq!(folded(bob, &room, &hello["id"]).await, expected);

    // Live, in order, on both streams.
    alice.say(&room, "done").await;
    for sse in &mut streams {
        let seen = changes_until(sse, "done").await;
        let kinds: Vec<&str> = seen.iter().map(|(kind, _, _)| kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "chat",
                "reaction",
                "reaction",
                "reaction",
                "unreaction",
                "chat"
            ]
        );
        assert!(
            seen[1..5]
                .iter()
                .all(|(_, target, _)| target == &hello["id"])
        );
    }

    // A poll from before the message replays the same changes.
    let polled = bob
        .get_json(&format!("/rooms/{room}/poll?after=0&timeout=1"))
        .await
        .json();
    let kinds: Vec<&str> = polled["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|kind| kind.contains("reaction"))
        .collect();
    assert_eq!(kinds, ["reaction", "reaction", "reaction", "unreaction"]);
}

#[tokio::test]
async fn a_whispers_reactions_are_seen_by_its_two_users_only() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let whisper = alice
        .post_json(
            &format!("/rooms/{room}/whispers"),
            json!({ "to": user_id(bob).await, "chat": "psst" }),
        )
        .await
        .json();
    let (status, given) = react(bob, &room, &whisper, "🤫").await;
    assert_eq!(status, 201, "{given}");
    assert_eq!(
        given["to"]["name"], "alice",
        "seen by the whisper's other user"
    );
    // Carol cannot see the whisper, so cannot react to it either.
    let (status, refused) = react(carol, &room, &whisper, "👀").await;
    assert_eq!(status, 404, "{refused}");
    alice.say(&room, "public").await;

    for (sse, sees) in streams.iter_mut().zip([true, true, false]) {
        let kinds: Vec<String> = changes_until(sse, "public")
            .await
            .into_iter()
            .map(|(kind, _, _)| kind)
            .collect();
        let expected: &[&str] = match sees {
            true => &["whisper", "reaction", "chat"],
            false => &["chat"],
        };
        assert_eq!(kinds, expected);
    }
    let polled = carol
        .get_json(&format!("/rooms/{room}/poll?after=0&timeout=1"))
        .await
        .text;
    assert!(
        !polled.contains("🤫") && !polled.contains("psst"),
        "{polled}"
    );
    assert_eq!(folded(alice, &room, &whisper["id"]).await[0].1, 1);
}

#[tokio::test]
async fn reactions_are_held_to_their_bounds_and_to_messages() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob"]).await;
    let alice = &clients[0];
    let hello = alice.say(&room, "hello").await;
    for bad in ["", "   ", "seventeen letters"] {
        let answer = alice
            .post_json(&path(&room, &hello), json!({ "reaction": bad }))
            .await;
        answer.assert_error(422, "invalid");
    }
    let missing = json!({ "id": hello["id"].as_i64().unwrap() + 1000 });
    let answer = alice
        .post_json(&path(&room, &missing), json!({ "reaction": "👍" }))
        .await;
    answer.assert_error(404, "not_found");
    let answer = alice
        .post_json(
            &format!("/rooms/{room}/events/x/reactions"),
            json!({ "reaction": "👍" }),
        )
        .await;
    answer.assert_error(400, "bad_request");
    // A notice is no message.
    let notice = alice
        .post_json(
            &format!("/rooms/{room}/owner"),
            json!({ "user": user_id(&clients[1]).await }),
        )
        .await
        .json();
    assert_eq!(notice["type"], "system");
    let answer = alice
        .post_json(&path(&room, &notice), json!({ "reaction": "👍" }))
        .await;
    answer.assert_error(409, "conflict");
    // A message of another room is not this room's.
    let other = alice.new_room("Other", 5, None).await;
    let answer = alice
        .post_json(&path(&other, &hello), json!({ "reaction": "👍" }))
        .await;
    answer.assert_error(404, "not_found");
    // Nothing was stored by any of it.
    assert_eq!(folded(alice, &room, &hello["id"]).await, vec![]);
}
