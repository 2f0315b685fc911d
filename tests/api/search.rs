//! Search: a room's messages as they are now, as the caller sees them,
//! newest first; edits found by their new words, deletes never.

use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, room_with, user_id};

/// The texts `client` finds in `room` for `q`.
async fn found(client: &Client, room: &str, q: &str) -> Vec<String> {
    let answer = client
        .get_json(&format!("/rooms/{room}/search?q={}", urlencode(q)))
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    answer.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["chat"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_finds_every_word_in_the_current_text_newest_first() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    alice.say(&room, "the grey cat sleeps").await;
    bob.say(&room, "a dog and a cat").await;
    let typo = alice.say(&room, "catz everywhere").await;
    let secret = bob.say(&room, "my cat password").await;
    let whisper = alice
        .post_json(
            &format!("/rooms/{room}/whispers"),
            json!({ "to": user_id(bob).await, "chat": "cat gossip" }),
        )
        .await;
    assert_eq!(whisper.status.as_u16(), 201);

    assert_eq!(
        found(bob, &room, "CAT").await,
        [
            "cat gossip",
            "my cat password",
            "catz everywhere",
            "a dog and a cat",
            "the grey cat sleeps"
        ],
        "words found as words or their starts, in any case, newest first"
    );
    assert_eq!(
        found(bob, &room, "dog, cat!").await,
        ["a dog and a cat"],
        "every word"
    );
    assert_eq!(
        found(carol, &room, "gossip").await,
        Vec::<String>::new(),
        "not her whisper"
    );

    alice
        .patch_json(
            &format!("/rooms/{room}/events/{}", typo["id"]),
            json!({ "chat": "kittens everywhere" }),
        )
        .await;
    bob.delete(&format!("/rooms/{room}/events/{}", secret["id"]))
        .await;
    assert_eq!(
        found(carol, &room, "catz").await,
        Vec::<String>::new(),
        "the old words are gone"
    );
    assert_eq!(found(carol, &room, "kitten").await, ["kittens everywhere"]);
    assert_eq!(
        found(carol, &room, "password").await,
        Vec::<String>::new(),
        "deleted: never"
    );

    let limited = carol
        .get_json(&format!("/rooms/{room}/search?q=cat&limit=1"))
        .await
        .json();
    assert_eq!(limited["events"].as_array().unwrap().len(), 1);
    let first: &Value = &limited["events"][0];
    assert_eq!(
        (&first["edited"], &first["deleted"]),
        (&json!(false), &json!(false))
    );
}

#[tokio::test]
async fn a_search_needs_a_word_and_its_bounds() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice"]).await;
    let alice = &clients[0];
    for bad in ["", "cat&limit=0", "cat&limit=101"] {
        alice
            .get_json(&format!("/rooms/{room}/search?q={bad}"))
            .await
            .assert_error(422, "invalid");
    }
    alice
        .get_json(&format!("/rooms/{room}/search?q=cat&limit=x"))
        .await
        .assert_error(400, "bad_request");
    // Punctuation has no word in it: nothing to find.
    let none = alice
        .get_json(&format!("/rooms/{room}/search?q=%21%3F"))
        .await;
    assert_eq!(none.status.as_u16(), 200);
    assert_eq!(none.json()["events"], json!([]));
    // Not a member of a private room: nothing to search.
    let private = alice.new_room("Private", 5, Some("pw")).await;
    app.client()
        .get_json(&format!("/rooms/{private}/search?q=cat"))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_browser_gets_a_page_of_results_linking_to_each_message() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice"]).await;
    let said = clients[0].say(&room, "find me <b>here</b>").await;
    let page = clients[0]
        .get_html(&format!("/rooms/{room}/search?q=find"))
        .await;
    assert_eq!(page.status.as_u16(), 200);
    let id = said["id"].as_i64().unwrap();
    assert!(
        page.text.contains(&format!("?around={id}#m{id}")),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("find me &lt;b&gt;here&lt;/b&gt;"),
        "escaped"
    );
}
