//! Unread counts: per user and room, moved on by what streams and polls
//! deliver, by opening the room and by `POST /rooms/{id}/read`; in the
//! lobby's list, kept live by its events, kept across a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, eventually, user_id};

/// `client`'s unread count of `room` in the lobby's list.
async fn unread(client: &Client, room: &str) -> i64 {
    let list = client.get_json("/rooms").await.json();
    let room = list["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .expect("the room is listed")
        .clone();
    room["unread"]
        .as_i64()
        .expect("a known caller's list counts")
}

async fn named(app: &TestApp, name: &str) -> Client {
    let client = app.client();
    client.post_json("/me", json!({ "name": name })).await;
    client
}

/// Waits (the positions streams and polls move are stored every second)
/// until `client`'s count of `room` is `expected`.
async fn settles(client: &Client, room: &str, expected: i64) -> bool {
    eventually(Duration::from_secs(5), || async {
        unread(client, room).await == expected
    })
    .await
}

#[tokio::test]
async fn unread_counts_follow_posts_reads_and_what_was_delivered() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (named(&app, "alice").await, named(&app, "bob").await);
    let room = alice.new_room("Counted", 10, None).await;
    let mut said = Vec::new();
    for n in 0..3 {
        said.push(alice.say(&room, &format!("message {n}")).await);
    }
    assert_eq!(unread(&bob, &room).await, 3);
    assert_eq!(
        unread(&alice, &room).await,
        0,
        "one's own messages are read"
    );
    // Someone without a session gets no counts (and no session).
    let list = app.client().get_json("/rooms").await;
    assert!(list.headers.get("set-cookie").is_none());
    assert_eq!(list.json()["rooms"][0].get("unread"), None);

    let read = bob
        .post_json(
            &format!("/rooms/{room}/read"),
            json!({ "last_event_id": said[1]["id"] }),
        )
        .await;
    assert_eq!(read.status.as_u16(), 204, "{}", read.text);
    assert_eq!(unread(&bob, &room).await, 1);
    // The id may come as text, as forms write numbers (found by
    // Schemathesis: the schema said only numbers); text that is no whole
    // number is 422.
    let path = format!("/rooms/{room}/read");
    let text = bob
        .post_json(&path, json!({ "last_event_id": "+0.0" }))
        .await;
    assert_eq!(text.status.as_u16(), 204, "{}", text.text);
    for wrong in ["1e3", "0.5", "", "-1"] {
        bob.post_json(&path, json!({ "last_event_id": wrong }))
            .await
            .assert_error(422, "invalid");
    }
    assert_eq!(unread(&bob, &room).await, 1);
    // A read position never goes back.
    bob.post_json(
        &format!("/rooms/{room}/read"),
        json!({ "last_event_id": 0 }),
    )
    .await;
    assert_eq!(unread(&bob, &room).await, 1);
    // A deleted message is no longer unread.
    alice
        .delete(&format!("/rooms/{room}/events/{}", said[2]["id"]))
        .await;
    assert_eq!(unread(&bob, &room).await, 0);

    // What a stream delivers is read.
    let next = alice.say(&room, "message 3").await;
    assert_eq!(unread(&bob, &room).await, 1);
    let mut stream = bob
        .sse(
            &format!("/rooms/{room}/events"),
            Some(said[1]["id"].as_i64().unwrap()),
        )
        .await;
    let tombstone = stream.next_of("chat").await.unwrap().json();
    assert_eq!(
        (&tombstone["id"], &tombstone["deleted"]),
        (&said[2]["id"], &json!(true))
    );
    let got = stream.next_of("chat").await.unwrap();
    assert_eq!(got.json()["id"], next["id"]);
    assert!(
        settles(&bob, &room, 0).await,
        "the stream's delivery was stored"
    );
    // (The stream stays open: a room is deleted when its last member leaves.)

    // And what a poll delivers; and opening the room's page.
    let carol = named(&app, "carol").await;
    assert_eq!(unread(&carol, &room).await, 3);
    carol
        .get_json(&format!("/rooms/{room}/poll?after=0&timeout=1"))
        .await;
    assert!(
        settles(&carol, &room, 0).await,
        "the poll's delivery was stored"
    );
    let dave = named(&app, "dave").await;
    dave.get_html(&format!("/rooms/{room}")).await;
    assert!(settles(&dave, &room, 0).await, "opening the room reads it");
}

#[tokio::test]
async fn unread_counts_survive_a_restart() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (named(&app, "alice").await, named(&app, "bob").await);
    let room = alice.new_room("Kept", 10, None).await;
    let first = alice.say(&room, "one").await;
    alice.say(&room, "two").await;
    bob.post_json(
        &format!("/rooms/{room}/read"),
        json!({ "last_event_id": first["id"] }),
    )
    .await;
    let app = app.restart().await;
    let bob = bob.at(&app.url(""));
    assert_eq!(unread(&bob, &room).await, 1);
}

/// The next lobby event of `kind` on `sse`, skipping others.
async fn next_lobby(sse: &mut crate::helpers::Sse, kind: &str) -> Value {
    sse.next_of(kind).await.expect("the lobby event").json()
}

#[tokio::test]
async fn the_lobby_stream_keeps_counts_live_and_whispers_private() {
    let app = TestApp::spawn().await;
    let (alice, bob, carol) = (
        named(&app, "alice").await,
        named(&app, "bob").await,
        named(&app, "carol").await,
    );
    let room = alice.new_room("Live", 10, None).await;
    alice.say(&room, "before").await;
    let mut lobby = carol.sse("/events", None).await;
    let first = next_lobby(&mut lobby, "rooms").await;
    assert_eq!(first["rooms"][0]["unread"], 1);
    let through = first["unread_through"].as_i64().unwrap();

    let posted = alice.say(&room, "after").await;
    let activity = next_lobby(&mut lobby, "room-activity").await;
    assert_eq!(activity["room"], room.as_str());
    assert_eq!(activity["last_event_id"], posted["id"]);
    assert!(
        posted["id"].as_i64().unwrap() > through,
        "news after the count"
    );
    assert_eq!(activity["user"], user_id(&alice).await.as_str());

    // A whisper between alice and bob is no news to carol.
    let _bob_here = bob.sse(&format!("/rooms/{room}/events"), None).await;
    let whispered = eventually(Duration::from_secs(5), || async {
        alice
            .post_json(
                &format!("/rooms/{room}/whispers"),
                json!({ "to": user_id(&bob).await, "chat": "psst" }),
            )
            .await
            .status
            .as_u16()
            == 201
    })
    .await;
    assert!(whispered);
    let read = carol
        .post_json(
            &format!("/rooms/{room}/read"),
            json!({ "last_event_id": posted["id"] }),
        )
        .await;
    assert_eq!(read.status.as_u16(), 204);
    let mut seen = Vec::new();
    loop {
        let event = lobby.next().await.expect("lobby events");
        if event.kind() == "read" {
            let body = event.json();
            assert_eq!((&body["room"], &body["unread"]), (&json!(room), &json!(0)));
            break;
        }
        seen.push(event.kind().to_owned());
    }
    assert!(
        !seen.contains(&"room-activity".to_owned()),
        "no news of the whisper: {seen:?}"
    );
}

#[tokio::test]
async fn a_lobby_poll_answers_with_the_callers_counts() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (named(&app, "alice").await, named(&app, "bob").await);
    let room = alice.new_room("Polled", 10, None).await;
    let first = bob.get_json("/poll?timeout=0").await.json();
    assert_eq!(first["rooms"][0]["unread"], 0);
    let version = first["version"].as_str().unwrap().to_owned();
    let poll = {
        let bob = bob.clone();
        tokio::spawn(async move {
            bob.get_json(&format!("/poll?timeout=10&version={version}"))
                .await
                .json()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice.say(&room, "news").await;
    let answer = poll.await.unwrap();
    assert_eq!(answer["rooms"][0]["unread"], 1, "{answer}");
}
