//! Posting messages and reading history.

use serde_json::json;

use crate::helpers::{TestApp, history_ids};

#[tokio::test]
async fn a_message_is_stored_trimmed_and_answered_with_its_event() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Talk", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let event = alice.say(id, "  hello there  ").await;
    assert_eq!(event["type"], "chat");
    assert_eq!(event["chat"], "hello there");
    assert_eq!(event["room"], id);
    assert_eq!(event["user"], alice.me().await);
    assert_eq!(event["gif"], json!(null));
    assert_eq!(event["to"], json!(null));
    assert!(event["id"].as_i64().unwrap() > 0);

    let history = alice
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last, event, "history holds exactly what was answered");
}

#[tokio::test]
async fn a_form_post_answers_303_back_to_the_room() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Talk", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let answer = alice
        .post_form(&format!("/rooms/{id}/messages"), &[("chat", "from a form")])
        .await;
    assert_eq!(answer.status.as_u16(), 303);
    assert_eq!(answer.location(), Some(format!("/rooms/{id}").as_str()));
    let history = alice
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    assert_eq!(
        history["events"].as_array().unwrap().last().unwrap()["chat"],
        "from a form"
    );
}

#[tokio::test]
async fn messages_out_of_bounds_are_refused_and_not_stored() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Talk", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let path = format!("/rooms/{id}/messages");
    for chat in ["".to_owned(), "   ".to_owned(), "ü".repeat(2001)] {
        alice
            .post_json(&path, json!({ "chat": chat }))
            .await
            .assert_error(422, "invalid");
    }
    alice
        .post_json(&path, json!({}))
        .await
        .assert_error(422, "invalid");
    alice
        .post_raw(&path, "application/json", "{\"chat\": 12")
        .await
        .assert_error(400, "bad_request");
    assert!(history_ids(&alice, id).await.is_empty());
    let long = alice.say(id, &"ü".repeat(2000)).await;
    assert_eq!(long["chat"].as_str().unwrap().chars().count(), 2000);
}

#[tokio::test]
async fn history_pages_backwards_with_before_and_limit() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Pages", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            alice.say(id, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let first = alice
        .get_json(&format!("/rooms/{id}/messages?limit=3"))
        .await
        .json();
    let got: Vec<i64> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[4..7].to_vec(), "newest three, oldest first");
    assert_eq!(first["has_more"], true);

    let older = alice
        .get_json(&format!("/rooms/{id}/messages?limit=3&before={}", ids[4]))
        .await
        .json();
    let got: Vec<i64> = older["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[1..4].to_vec());
    assert_eq!(history_ids(&alice, id).await, ids);

    for bad in ["limit=0", "limit=201"] {
        alice
            .get_json(&format!("/rooms/{id}/messages?{bad}"))
            .await
            .assert_error(422, "invalid");
    }
    alice
        .get_json(&format!("/rooms/{id}/messages?before=abc"))
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn history_refuses_a_negative_or_empty_cursor() {
    // Found by Schemathesis: `before=-1` answered an empty page, and an
    // empty `limit=` the default one.
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Cursors", 5, None).await;
    let id = room["id"].as_str().unwrap();
    alice.say(id, "hello").await;
    alice
        .get_json(&format!("/rooms/{id}/messages?before=-1"))
        .await
        .assert_error(422, "invalid");
    for empty in ["before=", "limit="] {
        alice
            .get_json(&format!("/rooms/{id}/messages?{empty}"))
            .await
            .assert_error(400, "bad_request");
    }
    let page = alice
        .get_json(&format!("/rooms/{id}/messages?before=0"))
        .await;
    assert_eq!(page.json()["events"], json!([]), "{}", page.text);
}

#[tokio::test]
async fn cookie_less_clients_can_watch_and_post_in_public_rooms() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Open", 50, None).await;
    let id = room["id"].as_str().unwrap();
    let curl = reqwest::Client::new();
    let posted = curl
        .post(app.url(&format!("/rooms/{id}/messages")))
        .form(&[("chat", "from curl")])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    let history = curl
        .get(app.url(&format!("/rooms/{id}/messages")))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(history["events"][0]["chat"], "from curl");
}
