//! Presence: members per user, capacity, leaving after the grace period,
//! and the empty room going away.

use std::time::Duration;

use crate::helpers::{TestApp, eventually, notices};

#[tokio::test]
async fn two_tabs_of_one_session_are_one_member() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Tabs", 2, None).await;
    let id = room["id"].as_str().unwrap();
    let _tab1 = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let _tab2 = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let members = alice.get_json(&format!("/rooms/{id}/members")).await.json();
    assert_eq!(members["count"], 1);
    assert_eq!(members["members"][0], alice.me().await);
    assert_eq!(members["owner"], alice.me().await);
    assert_eq!(members["max"], 2);
}

#[tokio::test]
async fn the_third_user_of_a_room_for_two_is_turned_away() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let bob = app.client();
    let carol = app.client();
    let room = alice.create_room("Pair", 2, None).await;
    let id = room["id"].as_str().unwrap();
    let _a = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let _b = bob.sse(&format!("/rooms/{id}/events"), None).await;
    carol
        .get_json(&format!("/rooms/{id}/events"))
        .await
        .assert_error(409, "room_full");
    carol
        .get_json(&format!("/rooms/{id}/poll"))
        .await
        .assert_error(409, "room_full");
    carol
        .get_json(&format!("/rooms/{id}"))
        .await
        .assert_error(409, "room_full");
    let page = carol.get_html(&format!("/rooms/{id}")).await;
    assert_eq!(page.status.as_u16(), 303, "back to the lobby");
    assert_eq!(page.location(), Some("/"));
    let lobby = carol.get_html("/").await;
    assert!(lobby.text.contains("full"), "with a flash");
    // A member's second tab still gets in.
    let again = alice.sse(&format!("/rooms/{id}/events"), None).await;
    assert_eq!(again.status.as_u16(), 200);
}

#[tokio::test]
async fn a_member_leaves_after_the_grace_period_with_a_notice() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let bob = app.client();
    bob.post_json("/me", serde_json::json!({ "name": "bob" }))
        .await;
    let room = alice.create_room("Grace", 5, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut watch = alice.sse(&format!("/rooms/{id}/events"), None).await;
    // Alice's own arrival first, so that bob's is not folded into it.
    watch.next_of("system").await.unwrap();
    let bobs = bob.sse(&format!("/rooms/{id}/events"), None).await;
    let joined = loop {
        let event = watch.next_of("system").await.unwrap();
        if event.json()["chat"].as_str().unwrap().contains("bob") {
            break event;
        }
    };
    assert_eq!(joined.json()["chat"], "bob joined");
    assert_eq!(joined.json()["user"], serde_json::Value::Null);

    // A reload inside the grace period is no leave.
    drop(bobs);
    let _bobs = bob.sse(&format!("/rooms/{id}/events"), None).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        alice.get_json(&format!("/rooms/{id}/members")).await.json()["count"],
        2
    );
    drop(_bobs);

    let left = watch.next_of("system").await.unwrap();
    assert_eq!(left.json()["chat"], "bob left");
    let members = watch.next_of("members").await.unwrap();
    assert_eq!(members.json()["count"], 1);
    let notices = notices(&alice, &id).await;
    assert_eq!(
        notices
            .iter()
            .filter(|n| n.as_str() == "bob joined")
            .count(),
        1,
        "{notices:?}"
    );
    assert_eq!(
        notices.iter().filter(|n| n.as_str() == "bob left").count(),
        1,
        "{notices:?}"
    );
}

#[tokio::test]
async fn joins_are_folded_into_one_notice() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Crowd", 100, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut watch = owner.sse(&format!("/rooms/{id}/events"), None).await;
    let _ = watch.next_of("system").await; // the owner's own join
    let mut guests = Vec::new();
    for i in 0..12 {
        let guest = app.client();
        guest
            .post_json("/me", serde_json::json!({ "name": format!("guest{i}") }))
            .await;
        guests.push(guest);
    }
    // All arrive at about the same moment, as a crowd does.
    let path = format!("/rooms/{id}/events");
    let arrivals = guests.iter().map(|guest| guest.sse(&path, None));
    let _streams = futures_util::future::join_all(arrivals).await;
    let mut named = 0;
    let mut notices = 0;
    while named < 12 {
        let event = watch.next_of("system").await.expect("join notices");
        let text = event.json()["chat"].as_str().unwrap().to_owned();
        assert!(text.ends_with("joined"), "{text}");
        named += text.matches("guest").count()
            + text
                .split(" and ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
        notices += 1;
    }
    assert!(
        notices < 12,
        "12 joins within a second or so fold: {notices} notices"
    );
}

#[tokio::test]
async fn the_empty_room_is_deleted_and_the_lobby_is_told() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Ephemeral", 5, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut lobby = app.client().sse("/events", None).await;
    let stream = alice.sse(&format!("/rooms/{id}/events"), None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
    let deleted = lobby.next_of("room-deleted").await.expect("lobby told");
    assert_eq!(deleted.json()["id"], id.as_str());
    alice
        .get_json(&format!("/rooms/{id}"))
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        alice.get_json("/rooms").await.json()["rooms"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn a_room_nobody_enters_is_deleted_after_its_time() {
    let app = TestApp::spawn_with(|c| c.unentered_room_ttl = Duration::from_millis(500)).await;
    let alice = app.client();
    let room = alice.create_room("Nobody", 5, None).await;
    let kept = alice.create_room("Somebody", 5, None).await;
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let _inside = alice.sse(&format!("/rooms/{kept_id}/events"), None).await;
    let gone = eventually(Duration::from_secs(5), || async {
        let rooms = alice.get_json("/rooms").await.json();
        rooms["rooms"].as_array().unwrap().len() == 1
    })
    .await;
    assert!(gone, "the unentered room went away");
    let rooms = alice.get_json("/rooms").await.json();
    assert_eq!(rooms["rooms"][0]["id"], kept_id.as_str());
    assert_ne!(rooms["rooms"][0]["id"], room["id"]);
}

#[tokio::test]
async fn a_poll_counts_as_presence() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let bob = app.client();
    let room = alice.create_room("Pollers", 5, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let _alice = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let poll = {
        let (bob, id) = (bob.clone(), id.clone());
        tokio::spawn(async move {
            bob.get_json(&format!("/rooms/{id}/poll?after=0&timeout=3"))
                .await
        })
    };
    let present = eventually(Duration::from_secs(2), || async {
        alice.get_json(&format!("/rooms/{id}/members")).await.json()["count"] == 2
    })
    .await;
    assert!(present, "an outstanding poll makes its user present");
    poll.await.unwrap();
}

/// The members count `GET /rooms/{id}/members` gives (`None`: no room).
async fn member_count(client: &crate::helpers::Client, room: &str) -> Option<u64> {
    let answer = client.get_json(&format!("/rooms/{room}/members")).await;
    (answer.status == 200).then(|| answer.json()["count"].as_u64().unwrap())
}

#[tokio::test]
async fn people_without_streams_are_members_while_they_view_and_post() {
    let app = TestApp::spawn_with(|c| {
        c.unentered_room_ttl = Duration::from_millis(500);
        c.visit_window = Duration::from_secs(2);
    })
    .await;
    // Alice uses the page without JavaScript; Bob posts with curl; the
    // watcher only reads JSON, which is no visit.
    let (alice, bob, watcher) = (app.client(), app.client(), app.client());
    let room = alice.create_room("No script", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let page = alice.get_html(&format!("/rooms/{id}")).await;
    assert!(
        page.text
            .contains(r#"Members <span id="member-count">1 / 10</span>"#),
        "the page counts its own viewer"
    );
    bob.say(id, "posting by curl").await;
    assert_eq!(member_count(&watcher, id).await, Some(2));

    // Posting keeps the room past its time to be entered and past the
    // window; the viewer who stopped looking leaves when hers ends.
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        bob.say(id, &format!("still posting {i}")).await;
    }
    assert_eq!(member_count(&watcher, id).await, Some(1), "Bob only");
    let notices = notices(&watcher, id).await;
    assert!(
        notices.iter().any(|n| n.ends_with(" left")),
        "Alice's leave was noticed: {notices:?}"
    );

    // Nobody looks or posts any more: the last visitor leaves when the
    // window ends, and the empty room goes.
    let gone = eventually(Duration::from_secs(10), || async {
        member_count(&watcher, id).await.is_none()
    })
    .await;
    assert!(gone, "the room went once nobody used it");
}

#[tokio::test]
async fn a_stream_takes_over_from_the_page_view_that_opened_it() {
    let app = TestApp::spawn_with(|c| c.visit_window = Duration::from_secs(600)).await;
    let (alice, bob) = (app.client(), app.client());
    let room = alice.create_room("Scripted", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let _alice = alice.sse(&format!("/rooms/{id}/events"), None).await;

    // Bob's page, then its script's stream; he posts while it is open.
    bob.get_html(&format!("/rooms/{id}")).await;
    let stream = bob.sse(&format!("/rooms/{id}/events"), None).await;
    bob.say(id, "from the page's script").await;
    assert_eq!(member_count(&alice, id).await, Some(2));
    // Closing the tab: gone after the grace period, not the window.
    drop(stream);
    let left = eventually(Duration::from_secs(5), || async {
        member_count(&alice, id).await == Some(1)
    })
    .await;
    assert!(left, "Bob left with his stream");
}
