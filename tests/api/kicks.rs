//! A kick that keeps the address out: the squatter who comes back with a
//! fresh cookie (a new user) from the same address stays out, through a
//! trusted proxy's `X-Forwarded-For`; others, and the owner, come in.

use serde_json::json;

use crate::helpers::{Client, TestApp, user_id};

/// A visitor behind the trusted proxy, coming from `addr`.
fn from(app: &TestApp, addr: &str) -> Client {
    let addr = addr.to_owned();
    Client::tuned(&app.url(""), move |builder| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", addr.parse().unwrap());
        builder.default_headers(headers)
    })
}

async fn squatted(block_address: bool) -> (TestApp, String, Client) {
    let app = TestApp::spawn_with(|c| c.trust_proxy = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let owner = from(&app, "198.51.100.1");
    let room = owner.new_room("Squatted", 10, None).await;
    let squatter = from(&app, "203.0.113.7");
    let page = squatter.get_html(&format!("/rooms/{room}")).await;
    assert_eq!(page.status.as_u16(), 200);
    squatter.say(&room, "this is my room now").await;
    let kicked = owner
        .post_json(
            &format!("/rooms/{room}/kick"),
            json!({ "user": user_id(&squatter).await, "block_address": block_address }),
        )
        .await;
    assert_eq!(kicked.status.as_u16(), 200, "{}", kicked.text);
    (app, room, owner)
}

#[tokio::test]
async fn a_kick_that_blocks_the_address_keeps_a_fresh_cookie_out() {
    let (app, room, owner) = squatted(true).await;
    let again = from(&app, "203.0.113.7");
    again
        .get_json(&format!("/rooms/{room}"))
        .await
        .assert_error(403, "kicked");
    again
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "I'm back" }),
        )
        .await
        .assert_error(403, "kicked");
    again
        .get_json(&format!("/rooms/{room}/poll?timeout=0"))
        .await
        .assert_error(403, "kicked");
    let history = owner.history(&room).await;
    assert!(history.iter().all(|e| e["chat"] != "I'm back"));
    // Someone else, from elsewhere, comes in; so does the owner.
    let other = from(&app, "198.51.100.2");
    assert_eq!(
        other
            .get_json(&format!("/rooms/{room}"))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        owner
            .get_json(&format!("/rooms/{room}"))
            .await
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_plain_kick_keeps_the_user_out_not_the_address() {
    let (app, room, _owner) = squatted(false).await;
    let again = from(&app, "203.0.113.7");
    let page = again.get_json(&format!("/rooms/{room}")).await;
    assert_eq!(page.status.as_u16(), 200, "a new user, not kept out");
}
