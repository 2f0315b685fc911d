//! Room settings for owners: lock the room against newcomers, set or
//! clear its password, change its size; each said by a stored notice.

use serde_json::json;

use crate::helpers::{Sse, TestApp, room_with};

/// Whether `stream` brings a notice saying `chat` among its next few.
async fn said_on(stream: &mut Sse, chat: &str) -> bool {
    for _ in 0..5 {
        match stream.next_of("system").await {
            Some(notice) if notice.json()["chat"] == chat => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_locked_room_keeps_newcomers_out_and_its_members_in() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    let path = format!("/rooms/{room}/settings");
    bob.post_json(&path, json!({ "locked": true }))
        .await
        .assert_error(403, "forbidden");
    let locked = alice.post_json(&path, json!({ "locked": true })).await;
    assert_eq!(locked.status.as_u16(), 200, "{}", locked.text);
    assert_eq!(locked.json()["chat"], "alice locked the room");
    // (The members' own arrival notices, folded once a second, may come
    // before it.)
    assert!(
        said_on(&mut streams[1], "alice locked the room").await,
        "bob's stream says the room was locked"
    );

    // Newcomers: no stream, no poll, no page, no post.
    let carol = app.client();
    let refused = carol
        .get_json(&format!("/rooms/{room}/poll?timeout=0"))
        .await;
    refused.assert_error(409, "conflict");
    carol
        .get_json(&format!("/rooms/{room}"))
        .await
        .assert_error(409, "conflict");
    carol
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "let me in" }),
        )
        .await
        .assert_error(409, "conflict");
    // Members stay and speak.
    let said = bob.say(&room, "still here").await;
    assert_eq!(said["type"], "chat");
    let listed = carol.get_json("/rooms").await.json();
    assert_eq!(listed["rooms"][0]["locked"], true);

    // Unlocked (as a form says it), newcomers come.
    let form = alice.post_form(&path, &[("locked", "off")]).await;
    assert_eq!(form.status.as_u16(), 303);
    assert_eq!(
        carol
            .get_json(&format!("/rooms/{room}"))
            .await
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_password_set_keeps_those_present_and_asks_newcomers() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    let path = format!("/rooms/{room}/settings");
    let set = alice
        .post_json(&path, json!({ "password": "sesame", "max": 5 }))
        .await;
    assert_eq!(set.status.as_u16(), 200, "{}", set.text);
    assert_eq!(
        set.json()["chat"],
        "alice set a password and set the maximum to 5"
    );
    let room_now = bob.get_json(&format!("/rooms/{room}")).await;
    assert_eq!(
        room_now.status.as_u16(),
        200,
        "bob, present, stays admitted"
    );
    assert_eq!(room_now.json()["room"]["private"], true);
    assert_eq!(room_now.json()["room"]["max"], 5);
    let carol = app.client();
    carol
        .get_json(&format!("/rooms/{room}"))
        .await
        .assert_error(403, "forbidden");
    let joined = carol
        .post_json(
            &format!("/rooms/{room}/join"),
            json!({ "password": "sesame" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);

    let cleared = alice.post_json(&path, json!({ "password": "" })).await;
    assert_eq!(cleared.json()["chat"], "alice removed the password");
    let dave = app.client();
    assert_eq!(
        dave.get_json(&format!("/rooms/{room}"))
            .await
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn settings_are_held_to_their_bounds() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice"]).await;
    let path = format!("/rooms/{room}/settings");
    for bad in [
        json!({ "max": 1 }),
        json!({ "max": 10001 }),
        json!({ "locked": "maybe" }),
        json!({ "password": "x".repeat(201) }),
    ] {
        clients[0]
            .post_json(&path, bad)
            .await
            .assert_error(422, "invalid");
    }
    clients[0]
        .post_json(&path, json!({ "colour": "red" }))
        .await
        .assert_error(400, "bad_request");
    // Nothing to change, or only what is so already: nothing is said.
    for same in [json!({}), json!({ "locked": false, "max": 20 })] {
        let answer = clients[0].post_json(&path, same).await;
        assert_eq!(answer.status.as_u16(), 204, "{}", answer.text);
    }
    let notices = crate::helpers::notices(&clients[0], &room).await;
    assert_eq!(notices, ["alice joined"], "nothing said");
}
