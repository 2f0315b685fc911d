//! Replies, mentions and permalinks: `reply_to` with a quote of the
//! message as it is now, `mentions` as users, and a room opened at a
//! message with the history around it.

use serde_json::{Value, json};

use crate::helpers::{TestApp, room_with, user_id};

#[tokio::test]
async fn a_reply_quotes_its_message_as_it_is_now() {
    let app = TestApp::spawn().await;
    let (room, clients, mut streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let question = alice.say(&room, "lunch?").await;
    let answer = bob
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "yes!", "reply_to": question["id"] }),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    let answer = answer.json();
    assert_eq!(answer["reply_to"], question["id"]);
    assert_eq!(answer["reply"]["chat"], "lunch?");
    assert_eq!(answer["reply"]["user"]["name"], "alice");
    assert_eq!(
        question["reply_to"],
        Value::Null,
        "a plain post replies to nothing"
    );
    // Live, and in history, and as a form posts it.
    let asked = streams[2].next_of("chat").await.unwrap();
    assert_eq!(asked.json()["id"], question["id"]);
    let live = streams[2].next_of("chat").await.unwrap().json();
    assert_eq!(
        (&live["reply_to"], &live["reply"]["chat"]),
        (&question["id"], &json!("lunch?"))
    );
    let form = carol
        .post_form(
            &format!("/rooms/{room}/messages"),
            &[
                ("chat", "me too"),
                ("reply_to", &question["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(form.status.as_u16(), 303, "{}", form.text);
    let history = carol.history(&room).await;
    let replies: Vec<&Value> = history
        .iter()
        .filter(|e| e["reply_to"] == question["id"])
        .collect();
    assert_eq!(replies.len(), 2);
    // Edited, the quote says the new text.
    alice
        .patch_json(
            &format!("/rooms/{room}/events/{}", question["id"]),
            json!({ "chat": "lunch at noon?" }),
        )
        .await;
    let history = carol.history(&room).await;
    let quoted = history.iter().find(|e| e["id"] == answer["id"]).unwrap();
    assert_eq!(quoted["reply"]["chat"], "lunch at noon?");
    let page = carol.get_html(&format!("/rooms/{room}")).await.text;
    assert!(
        page.contains("lunch at noon?") && page.contains("data-reply-to"),
        "the page quotes"
    );
}

#[tokio::test]
async fn replies_are_held_to_what_the_poster_may_see() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let post = |client: &crate::helpers::Client, path: &str, body: Value| {
        let (client, path) = (client.clone(), format!("/rooms/{room}/{path}"));
        async move { client.post_json(&path, body).await }
    };
    let whisper = post(
        alice,
        "whispers",
        json!({ "to": user_id(bob).await, "chat": "psst" }),
    )
    .await
    .json();
    // Carol cannot see it; bob may not answer it for all to read.
    post(
        carol,
        "messages",
        json!({ "chat": "?", "reply_to": whisper["id"] }),
    )
    .await
    .assert_error(409, "conflict");
    post(
        bob,
        "messages",
        json!({ "chat": "what?", "reply_to": whisper["id"] }),
    )
    .await
    .assert_error(409, "conflict");
    let back = post(
        bob,
        "whispers",
        json!({ "to": user_id(alice).await, "chat": "ok", "reply_to": whisper["id"] }),
    )
    .await;
    assert_eq!(back.status.as_u16(), 201, "{}", back.text);
    assert_eq!(back.json()["reply"]["chat"], "psst");
    for bad in [json!(0), json!("x"), json!(-3)] {
        let answer = post(alice, "messages", json!({ "chat": "hm", "reply_to": bad })).await;
        assert!(
            matches!(answer.status.as_u16(), 400 | 422),
            "{}",
            answer.text
        );
    }
    let missing = whisper["id"].as_i64().unwrap() + 1000;
    post(
        alice,
        "messages",
        json!({ "chat": "hm", "reply_to": missing }),
    )
    .await
    .assert_error(409, "conflict");
    // Nothing of it was stored.
    let history = carol.history(&room).await;
    assert!(
        history
            .iter()
            .all(|e| e["chat"] != "hm" && e["chat"] != "what?")
    );
}

#[tokio::test]
async fn mentions_name_people_of_the_room() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&clients[0], &clients[1], &clients[2]);
    let (bob_id, carol_id) = (user_id(bob).await, user_id(carol).await);
    let said = alice
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "@bob @carol look", "mentions": [bob_id, carol_id, bob_id] }),
        )
        .await;
    assert_eq!(said.status.as_u16(), 201, "{}", said.text);
    let said = said.json();
    let names: Vec<&str> = said["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol"], "each once, in order");
    assert_eq!(alice.say(&room, "plain").await["mentions"], json!([]));
    // A form sends them separated by commas.
    let form = alice
        .post_form(
            &format!("/rooms/{room}/messages"),
            &[("chat", "@carol"), ("mentions", &format!("{carol_id},"))],
        )
        .await;
    assert_eq!(form.status.as_u16(), 303);
    let history = bob.history(&room).await;
    assert_eq!(history.last().unwrap()["mentions"][0]["name"], "carol");
    // Or as the field repeated, as forms send a list.
    let repeated = alice
        .post_form(
            &format!("/rooms/{room}/messages"),
            &[
                ("chat", "@both"),
                ("mentions", &bob_id),
                ("mentions", &carol_id),
            ],
        )
        .await;
    assert_eq!(repeated.status.as_u16(), 303, "{}", repeated.text);
    let history = bob.history(&room).await;
    let named: Vec<&str> = history.last().unwrap()["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["bob", "carol"]);
    // The page marks the messages that mention its viewer.
    let page = bob.get_html(&format!("/rooms/{room}")).await.text;
    assert_eq!(
        page.matches("mentions-me").count(),
        2,
        "two messages mention bob"
    );
    // Nobody of the room: refused, nothing stored.
    let stranger = app.client();
    let stranger_id = user_id(&stranger).await;
    alice
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "hey you", "mentions": [stranger_id] }),
        )
        .await
        .assert_error(409, "conflict");
    let too_many: Vec<String> = (0..21).map(|n| format!("someone{n:04}")).collect();
    alice
        .post_json(
            &format!("/rooms/{room}/messages"),
            json!({ "chat": "all of you", "mentions": too_many }),
        )
        .await
        .assert_error(422, "invalid");
    assert!(
        bob.history(&room)
            .await
            .iter()
            .all(|e| e["chat"] != "hey you")
    );
}

#[tokio::test]
async fn a_gif_replies_and_mentions_with_form_fields() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice", "bob"]).await;
    let (alice, bob) = (&clients[0], &clients[1]);
    let question = alice.say(&room, "show me a cat").await;
    let part = reqwest::multipart::Part::bytes(crate::uploads::gif(2, 2, 1, 3))
        .file_name("cat.gif")
        .mime_str("image/gif")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("reply_to", question["id"].to_string())
        .text("mentions", user_id(alice).await)
        .part("gif", part);
    let answer = crate::helpers::Client::answer(
        bob.http
            .post(bob.url(&format!("/rooms/{room}/gifs")))
            .header("accept", "application/json")
            .multipart(form),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    let gif = answer.json();
    assert_eq!(gif["reply"]["chat"], "show me a cat");
    assert_eq!(gif["mentions"][0]["name"], "alice");
}

#[tokio::test]
async fn a_room_opens_at_a_message_with_history_around_it() {
    let app = TestApp::spawn().await;
    let (room, clients, _streams) = room_with(&app, &["alice"]).await;
    let alice = &clients[0];
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(
            alice.say(&room, &format!("message {n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let at = ids[40];
    let page = alice
        .get_json(&format!("/rooms/{room}?around={at}"))
        .await
        .json();
    let shown: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "chat")
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(shown.contains(&at) && shown.contains(&ids[30]) && shown.contains(&ids[55]));
    assert!(!shown.contains(&ids[119]), "not the newest");
    assert_eq!(
        (&page["has_more"], &page["has_newer"]),
        (&json!(true), &json!(true))
    );
    let cursor = page["last_event_id"].as_i64().unwrap();
    assert!(cursor >= ids[119], "live resumes after the newest");
    // Forward from the page's last, up to the newest.
    let mut last = *shown.last().unwrap();
    let mut forward = Vec::new();
    loop {
        let next = alice
            .get_json(&format!("/rooms/{room}/messages?after={last}&limit=50"))
            .await
            .json();
        let events = next["events"].as_array().unwrap().clone();
        forward.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
        last = *forward.last().unwrap();
        if next["has_more"] == false {
            break;
        }
    }
    assert_eq!(forward.last(), ids.last(), "up to the newest, in order");
    assert!(forward.windows(2).all(|w| w[0] < w[1]));
    let html = alice
        .get_html(&format!("/rooms/{room}?around={at}"))
        .await
        .text;
    assert!(html.contains(&format!("id=\"m{at}\"")) && html.contains("load-newer"));
    let both = alice
        .get_json(&format!(
            "/rooms/{room}/messages?after={at}&before=1&limit=3"
        ))
        .await
        .json();
    let ids: Vec<i64> = both["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.len() == 3 && ids.iter().all(|id| *id > at),
        "after wins: {ids:?}"
    );
}
