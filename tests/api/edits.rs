//! Edits and deletes: the author edits a text message or whisper, the
//! author or the owner deletes; history, the page, replays and polls show
//! the message as it is now, and a deleted message's words are nowhere.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, eventually, room_with, user_id};

fn path(room: &str, event: &Value) -> String {
    format!("/rooms/{room}/events/{}", event["id"])
}

/// The markup of message `id` in a page.
fn message_html<'a>(page: &'a str, id: &Value) -> &'a str {
    let start = page
        .find(&format!("data-id=\"{id}\""))
        .expect("the message is on the page");
    let end = page[start..].find("</li>").expect("the message's end") + start;
    &page[start..end]
}

async fn shown(client: &Client, room: &str, id: &Value) -> Value {
    client
        .history(room)
        .await
        .into_iter()
        .find(|e| &e["id"] == id)
        .expect("the message is in history")
}

#[tokio::test]
async fn the_author_edits_and_everyone_sees_the_new_text() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    let typo = alice.say(&room, "helo").await;
    let edited = alice
        .patch_json(&path(&room, &typo), json!({ "chat": "hello" }))
        .await;
    assert_eq!(edited.status.as_u16(), 200, "{}", edited.text);
    let edited = edited.json();
    assert_eq!(
        (&edited["type"], &edited["target"], &edited["chat"]),
        (&json!("edit"), &typo["id"], &json!("hello"))
    );
    // Not bob's to edit, though he owns nothing; nor the owner's.
    bob.patch_json(&path(&room, &typo), json!({ "chat": "hijacked" }))
        .await
        .assert_error(403, "forbidden");
    let bobs = bob.say(&room, "bob's words").await;
    alice
        .patch_json(&path(&room, &bobs), json!({ "chat": "owner's words" }))
        .await
        .assert_error(403, "forbidden");
    alice
        .patch_json(&path(&room, &typo), json!({ "chat": "  " }))
        .await
        .assert_error(422, "invalid");

    for client in [alice, bob] {
        let now = shown(client, &room, &typo["id"]).await;
        assert_eq!(
            (&now["chat"], &now["edited"]),
            (&json!("hello"), &json!(true))
        );
        let page = client.get_html(&format!("/rooms/{room}")).await.text;
        let row = message_html(&page, &typo["id"]);
        assert!(row.contains(">hello<") && row.contains("(edited)"), "{row}");
    }
    assert_eq!(shown(bob, &room, &bobs["id"]).await["edited"], false);
    for sse in &mut streams {
        let edit = sse.next_of("edit").await.expect("the edit arrives live");
        assert_eq!(edit.json()["chat"], "hello");
        assert_eq!(edit.json()["target"], typo["id"]);
    }
}

#[tokio::test]
async fn a_gif_cannot_be_edited() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice"]).await;
    let gif = clients[0]
        .post_gif(&room, "cat.gif", crate::uploads::gif(2, 2, 1, 7))
        .await
        .json();
    clients[0]
        .patch_json(&path(&room, &gif), json!({ "chat": "a caption" }))
        .await
        .assert_error(409, "conflict");
}

#[tokio::test]
async fn a_deleted_message_says_so_and_its_words_are_nowhere() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let secret = bob.say(&room, "my secret plan").await;
    bob.patch_json(
        &path(&room, &secret),
        json!({ "chat": "my revised secret" }),
    )
    .await;
    let reply = carol
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "tell me more", "reply_to": secret["id"] }),
        )
        .await
        .json();
    assert_eq!(reply["reply"]["chat"], "my revised secret");
    carol
        .delete(&path(&room, &secret))
        .await
        .assert_error(403, "forbidden");
    let deleted = bob.delete(&path(&room, &secret)).await;
    assert_eq!(deleted.status.as_u16(), 200, "{}", deleted.text);
    assert_eq!(deleted.json()["type"], "delete");
    bob.delete(&path(&room, &secret))
        .await
        .assert_error(404, "not_found");
    // The owner deletes anyone's.
    let carols = carol.say(&room, "spam spam").await;
    let by_owner = alice.delete(&path(&room, &carols)).await;
    assert_eq!(by_owner.status.as_u16(), 200, "{}", by_owner.text);

    let now = shown(alice, &room, &secret["id"]).await;
    assert_eq!(now["deleted"], true);
    let page = alice.get_html(&format!("/rooms/{room}")).await.text;
    assert!(
        message_html(&page, &secret["id"]).contains("deleted"),
        "a tombstone"
    );
    assert_eq!((&now["chat"], &now["gif"]), (&Value::Null, &Value::Null));
    let quoted = shown(alice, &room, &reply["id"]).await;
    assert_eq!(quoted["reply"]["deleted"], true);
    for words in ["secret", "spam"] {
        for client in [alice, bob, carol] {
            let history = client
                .get_json(&format!("/rooms/{room}/messages"))
                .await
                .text;
            assert!(!history.contains(words), "history: {history}");
            let page = client.get_html(&format!("/rooms/{room}")).await.text;
            assert!(!page.contains(words), "the page");
            let json = client.get_json(&format!("/rooms/{room}")).await.text;
            assert!(!json.contains(words), "the page's JSON");
            // Resuming from before it all, by poll and by stream.
            let polled = client
                .get_json(&format!("/rooms/{room}/poll?after=0&timeout=1"))
                .await
                .text;
            assert!(!polled.contains(words), "a poll: {polled}");
            let mut replay = client
                .sse(&format!("/rooms/{room}/events?last_event_id=0"), None)
                .await;
            let mut seen = String::new();
            while let Some(event) = replay.next_within(Duration::from_millis(500)).await {
                seen.push_str(event.data.as_deref().unwrap_or(""));
            }
            assert!(!seen.contains(words), "a replay: {seen}");
            assert!(
                seen.contains("\"deleted\":true"),
                "the replay says what was deleted"
            );
        }
    }
    // Live viewers were told, and apply it.
    for sse in &mut streams {
        let delete = sse
            .next_of("delete")
            .await
            .expect("the delete arrives live");
        assert_eq!(delete.json()["target"], secret["id"]);
    }
}

#[tokio::test]
async fn a_deleted_gif_is_gone_from_disk() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob"]).await;
    let gif = clients[1]
        .post_gif(&room, "cat.gif", crate::uploads::gif(2, 2, 1, 7))
        .await
        .json();
    let url = gif["gif"].as_str().unwrap().to_owned();
    assert_eq!(clients[0].get_json(&url).await.status.as_u16(), 200);
    let deleted = clients[0].delete(&path(&room, &gif)).await;
    assert_eq!(deleted.status.as_u16(), 200, "{}", deleted.text);
    let gone = eventually(Duration::from_secs(5), || {
        let (client, url) = (clients[0].clone(), url.clone());
        async move { client.get_json(&url).await.status.as_u16() == 404 }
    })
    .await;
    assert!(gone, "the file is removed");
    let now = shown(&clients[0], &room, &gif["id"]).await;
    assert_eq!((&now["deleted"], &now["gif"]), (&json!(true), &Value::Null));
}

#[tokio::test]
async fn a_whispers_edits_and_deletes_stay_between_its_two_users() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let whisper = bob
        .post_json(
            &format!("/rooms/{room}/whispers"),
            json!({ "to": user_id(carol).await, "chat": "between us" }),
        )
        .await
        .json();
    let edit = bob
        .patch_json(
            &path(&room, &whisper),
            json!({ "chat": "strictly between us" }),
        )
        .await;
    assert_eq!(edit.status.as_u16(), 200, "{}", edit.text);
    // The owner does not see it: not theirs to delete.
    alice
        .delete(&path(&room, &whisper))
        .await
        .assert_error(404, "not_found");
    let polled = alice
        .get_json(&format!("/rooms/{room}/poll?after=0&timeout=1"))
        .await
        .text;
    assert!(
        !polled.contains("between us") && !polled.contains("\"edit\""),
        "{polled}"
    );
}
