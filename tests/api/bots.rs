//! Bots: the owner makes a key; curl posts as the bot with it, without a
//! cookie, from anywhere; the key can be revoked; posts are limited per key.

use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, room_with};

async fn make_bot(owner: &Client, room: &str, name: &str) -> Value {
    let made = owner
        .post_json(&format!("/rooms/{room}/bots"), json!({ "name": name }))
        .await;
    assert_eq!(made.status.as_u16(), 201, "{}", made.text);
    made.json()
}

/// A client with no cookie jar at all, as `curl` is.
fn curl() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_bot_posts_without_a_cookie_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    bob.post_json(&format!("/rooms/{room}/bots"), json!({ "name": "nope" }))
        .await
        .assert_error(403, "forbidden");
    let made = make_bot(alice, &room, "weather").await;
    let key = made["key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    let url = made["url"].as_str().unwrap();
    assert_eq!(url, format!("/rooms/{room}/bots/{key}/messages"));

    // `curl -d chat=…`: a form, no cookie, no Accept; even from another site.
    let posted = curl()
        .post(app.url(url))
        .header("origin", "https://elsewhere.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("chat", "sunny, 21°C")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    assert!(
        posted.headers().get("set-cookie").is_none(),
        "no session for a bot"
    );
    let event: Value = posted.json().await.unwrap();
    assert_eq!(event["user"]["name"], "weather");
    let live = streams[1].next_of("chat").await.unwrap().json();
    assert_eq!(
        (&live["chat"], &live["user"]["name"]),
        (&json!("sunny, 21°C"), &json!("weather"))
    );

    // A GIF, as `curl -F gif=@x.gif`.
    let part = reqwest::multipart::Part::bytes(crate::uploads::gif(3, 3, 1, 5))
        .file_name("x.gif")
        .mime_str("image/gif")
        .unwrap();
    let gif = curl()
        .post(app.url(made["gifs_url"].as_str().unwrap()))
        .multipart(reqwest::multipart::Form::new().part("gif", part))
        .send()
        .await
        .unwrap();
    assert_eq!(gif.status().as_u16(), 201);

    let revoked = alice.delete(&format!("/rooms/{room}/bots/{key}")).await;
    assert_eq!(revoked.status.as_u16(), 204, "{}", revoked.text);
    let refused = curl()
        .post(app.url(url))
        .form(&[("chat", "still here?")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 404);
    alice
        .delete(&format!("/rooms/{room}/bots/{key}"))
        .await
        .assert_error(404, "not_found");
    // A made-up key names no bot.
    let guessed = curl()
        .post(app.url(&format!("/rooms/{room}/bots/{}/messages", "A".repeat(32))))
        .form(&[("chat", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status().as_u16(), 404);
}

#[tokio::test]
async fn a_bot_posts_in_its_private_room_until_kicked() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.new_room("Private", 10, Some("secret")).await;
    let made = make_bot(&owner, &room, "reporter").await;
    let url = app.url(made["url"].as_str().unwrap());
    let posted = curl()
        .post(&url)
        .form(&[("chat", "report")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status().as_u16(),
        201,
        "admitted without the password"
    );
    let kicked = owner
        .post_json(
            &format!("/rooms/{room}/kick"),
            json!({ "user": made["bot"]["id"] }),
        )
        .await;
    assert_eq!(kicked.status.as_u16(), 200, "{}", kicked.text);
    let refused = curl()
        .post(&url)
        .form(&[("chat", "again")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
}

#[tokio::test]
async fn a_bots_posts_are_limited_per_key() {
    let app = TestApp::spawn_with(|config| {
        config.post_rate = 1.0;
        config.post_burst = 3;
    })
    .await;
    let owner = app.client();
    let room = owner.new_room("Busy", 10, None).await;
    let url = app.url(
        make_bot(&owner, &room, "chatty").await["url"]
            .as_str()
            .unwrap(),
    );
    let mut statuses = Vec::new();
    for n in 0..6 {
        let answer = curl()
            .post(&url)
            .form(&[("chat", format!("tick {n}"))])
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 201);
}
