//! Private rooms: the password form, admission, and the secret never leaking.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_private_room_asks_for_its_password_before_anything_else() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Secret", 5, Some("hunter2")).await;
    assert_eq!(room["private"], true);
    let id = room["id"].as_str().unwrap();
    owner.say(id, "for members only").await;

    let guest = app.client();
    guest
        .get_json(&format!("/rooms/{id}"))
        .await
        .assert_error(403, "forbidden");
    let page = guest.get_html(&format!("/rooms/{id}")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("type=\"password\""));
    assert!(!page.text.contains("for members only"));
    for path in ["messages", "members", "events", "poll?timeout=0"] {
        guest
            .get_json(&format!("/rooms/{id}/{path}"))
            .await
            .assert_error(403, "forbidden");
    }
    guest
        .post_json(
            &format!("/rooms/{id}/messages"),
            json!({ "chat": "let me in" }),
        )
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_wrong_password_is_403_and_the_right_one_admits() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Secret", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    let guest = app.client();
    guest
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter3" }),
        )
        .await
        .assert_error(403, "wrong_password");
    let joined = guest
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    let page = guest.get_json(&format!("/rooms/{id}")).await;
    assert_eq!(page.status.as_u16(), 200);
    guest.say(id, "thanks").await;
}

#[tokio::test]
async fn a_wrong_password_in_the_form_comes_back_as_a_flash() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Secret", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    let guest = app.client();
    let answer = guest
        .http
        .post(guest.url(&format!("/rooms/{id}/join")))
        .header("accept", "text/html")
        .header("referer", guest.url(&format!("/rooms/{id}")))
        .form(&[("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    let page = guest.get_html(&format!("/rooms/{id}")).await;
    assert!(page.text.contains("wrong password"), "{}", page.text);
}

#[tokio::test]
async fn neither_the_password_nor_its_hash_ever_appears() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Secret", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    let guest = app.client();
    guest
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    let mut seen = serde_json::to_string(&room).unwrap();
    for client in [&owner, &guest] {
        for path in [
            "/".to_owned(),
            "/rooms".to_owned(),
            format!("/rooms/{id}"),
            format!("/rooms/{id}/members"),
            format!("/rooms/{id}/messages"),
        ] {
            seen.push_str(&client.get_json(&path).await.text);
            seen.push_str(&client.get_html(&path).await.text);
        }
    }
    assert!(!seen.contains("hunter2"));
    assert!(!seen.contains("argon2"));
    assert!(!seen.contains("password_hash"));
}

#[tokio::test]
async fn giving_the_password_admits_at_once_while_the_room_is_busy() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Busy secret", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    // Someone inside keeps the room in memory, where refusals are
    // remembered.
    let _inside = owner.sse(&format!("/rooms/{id}/events"), None).await;
    let guest = app.client();
    for _ in 0..2 {
        guest
            .get_json(&format!("/rooms/{id}/poll?timeout=0"))
            .await
            .assert_error(403, "forbidden");
    }
    let joined = guest
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    let poll = guest.get_json(&format!("/rooms/{id}/poll?timeout=0")).await;
    assert_eq!(poll.status.as_u16(), 200, "{}", poll.text);
}

#[tokio::test]
async fn the_creator_stays_admitted_after_handing_the_room_over() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Handed", 5, Some("hunter2")).await;
    let id = room["id"].as_str().unwrap();
    let bob = app.client();
    let joined = bob
        .post_json(
            &format!("/rooms/{id}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    let _alice_in = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let _bob_in = bob.sse(&format!("/rooms/{id}/events"), None).await;
    let bob_id = bob.me().await["id"].as_str().unwrap().to_owned();
    let handed = alice
        .post_json(&format!("/rooms/{id}/owner"), json!({ "user": bob_id }))
        .await;
    assert_eq!(handed.status.as_u16(), 200, "{}", handed.text);

    // No longer the owner, still admitted: the creator was admitted.
    let page = alice.get_json(&format!("/rooms/{id}")).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert_eq!(page.json()["room"]["owner"]["id"], bob_id);
    alice.say(id, "still here").await;
}
