//! API.md "Idempotent posts": a post repeated with the same `client_id` by
//! the same session in the same room stores nothing new and answers 200
//! with the event stored the first time; events carry their `client_id`.

use serde_json::json;

use crate::{
    helpers::{Client, TestApp, history_ids},
    uploads::gif,
};

#[tokio::test]
async fn a_repeated_message_is_stored_once_and_answered_with_the_first_event() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Retries", 10, None).await;
    let path = format!("/rooms/{room}/messages");
    let body = json!({ "chat": "only once", "client_id": "retry-1" });

    let first = alice.post_json(&path, body.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    assert_eq!(first.json()["client_id"], "retry-1");
    let again = alice.post_json(&path, body).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.text);
    assert_eq!(
        again.json(),
        first.json(),
        "the event stored the first time"
    );
    // Even with other text: the client_id names the post.
    let changed = alice
        .post_json(&path, json!({ "chat": "edited", "client_id": "retry-1" }))
        .await;
    assert_eq!(changed.status.as_u16(), 200);
    assert_eq!(changed.json()["chat"], "only once");
    assert_eq!(
        history_ids(&alice, &room).await,
        [first.json()["id"].as_i64().unwrap()]
    );

    let plain = alice.say(&room, "no client_id").await;
    assert!(plain["client_id"].is_null(), "{plain}");
}

#[tokio::test]
async fn the_same_client_id_from_another_session_or_in_another_room_is_a_new_post() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.client(), app.client());
    let room = alice.new_room("Retries", 10, None).await;
    let other = alice.new_room("Elsewhere", 10, None).await;
    let body = json!({ "chat": "hello", "client_id": "same" });
    for (client, room) in [(&alice, &room), (&bob, &room), (&alice, &other)] {
        let answer = client
            .post_json(&format!("/rooms/{room}/messages"), body.clone())
            .await;
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    }
    assert_eq!(history_ids(&alice, &room).await.len(), 2);
}

#[tokio::test]
async fn a_malformed_client_id_is_422_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Retries", 10, None).await;
    for bad in ["", "has space", "ünïcode", &"x".repeat(65)] {
        alice
            .post_json(
                &format!("/rooms/{room}/messages"),
                json!({ "chat": "hi", "client_id": bad }),
            )
            .await
            .assert_error(422, "invalid");
    }
    assert!(history_ids(&alice, &room).await.is_empty());
}

#[tokio::test]
async fn a_repeated_gif_upload_keeps_one_file_and_one_event() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Retries", 10, None).await;
    // The client_id before the file, or after it.
    let (alice, room) = (&alice, &room);
    let upload = |client_id: &'static str, first: bool| async move {
        let part = reqwest::multipart::Part::bytes(gif(8, 8, 1, 7))
            .file_name("cat.gif")
            .mime_str("image/gif")
            .unwrap();
        let form = reqwest::multipart::Form::new();
        let form = match first {
            true => form.text("client_id", client_id).part("gif", part),
            false => form.part("gif", part).text("client_id", client_id),
        };
        Client::answer(
            alice
                .http
                .post(alice.url(&format!("/rooms/{room}/gifs")))
                .header("accept", "application/json")
                .multipart(form),
        )
        .await
    };
    let first = upload("gif-1", true).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let again = upload("gif-1", false).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.text);
    assert_eq!(again.json()["gif"], first.json()["gif"]);
    upload("not valid!", false)
        .await
        .assert_error(422, "invalid");
    let files = std::fs::read_dir(app.uploads_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".gif"))
        .count();
    assert_eq!(files, 1, "the repeat's file was not kept");
}
