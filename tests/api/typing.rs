//! Typing: an ephemeral `typing` event, no id, never stored, at most one
//! per user per 2 s, on streams and polls.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, room_with};

#[tokio::test]
async fn typing_reaches_streams_once_per_two_seconds_and_is_never_stored() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    for _ in 0..3 {
        let said = alice
            .post_json(&format!("/rooms/{room}/typing"), json!({}))
            .await;
        assert_eq!(said.status.as_u16(), 204, "{}", said.text);
    }
    alice.say(&room, "typed").await;
    let mut typing = Vec::new();
    loop {
        let event = streams[1].next().await.expect("events keep coming");
        match event.kind() {
            "typing" => {
                assert_eq!(event.id, None, "typing has no id: it moves no cursor");
                typing.push(event.json());
            }
            "chat" => break,
            _ => {}
        }
    }
    assert_eq!(typing.len(), 1, "three in a row are said once: {typing:?}");
    assert_eq!(typing[0]["type"], "typing");
    assert_eq!(typing[0]["user"]["name"], "alice");
    assert_eq!(typing[0]["room"], room.as_str());
    let history = bob.history(&room).await;
    assert!(
        history.iter().all(|e| e["type"] != "typing"),
        "never stored"
    );

    // Two seconds on, it is said again: to a waiting poll too (once the
    // poll has had what was there before).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let after = history.last().unwrap()["id"].as_i64().unwrap();
    let caught_up = bob
        .get_json(&format!("/rooms/{room}/poll?after={after}&timeout=1"))
        .await
        .json();
    let cursor = caught_up["last_event_id"].as_i64().unwrap();
    let poll = {
        let (bob, room) = (bob.clone(), room.clone());
        tokio::spawn(async move {
            bob.get_json(&format!("/rooms/{room}/poll?after={cursor}&timeout=5"))
                .await
                .json()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice
        .post_json(&format!("/rooms/{room}/typing"), json!({}))
        .await;
    let answer = poll.await.unwrap();
    let events = answer["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["type"] == "typing"), "{answer}");
    assert_eq!(answer["last_event_id"], cursor, "the cursor did not move");
}

#[tokio::test]
async fn only_members_may_say_they_are_typing() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.new_room("Private", 5, Some("secret")).await;
    let stranger = app.client();
    stranger
        .post_json(&format!("/rooms/{room}/typing"), json!({}))
        .await
        .assert_error(403, "forbidden");
}
