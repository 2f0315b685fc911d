//! One stream for many rooms (`GET /events?rooms=a,b,...`): the lobby and
//! every listed room, stored events in id order across rooms, exact under
//! reconnects with the one global `Last-Event-ID`; the caller present in
//! every room; a room the caller may not enter refuses the whole stream.

use std::{collections::HashSet, time::Duration};

use rand::Rng;

use crate::{
    exactness::start_posters,
    helpers::{Client, TestApp, eventually, history_ids},
};

async fn rooms(owner: &Client, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(owner.new_room(&format!("Room {i}"), 50, None).await);
    }
    ids
}

fn path(rooms: &[String]) -> String {
    format!("/events?rooms={}", rooms.join(","))
}

#[tokio::test]
async fn one_stream_carries_the_lobby_and_every_listed_room_in_id_order() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let ids = rooms(&owner, 3).await;
    let viewer = app.client();
    let mut sse = viewer.sse(&path(&ids), None).await;
    assert_eq!(sse.status.as_u16(), 200);
    assert_eq!(
        sse.next_of("rooms").await.unwrap().json()["rooms"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let mut snapshot_rooms = HashSet::new();
    for _ in 0..3 {
        let members = sse.next_of("members").await.unwrap().json();
        snapshot_rooms.insert(members["room"].as_str().unwrap().to_owned());
    }
    assert_eq!(snapshot_rooms, ids.iter().cloned().collect());

    let mut said = Vec::new();
    for round in 0..4 {
        for room in &ids {
            let event = owner.say(room, &format!("round {round} in {room}")).await;
            said.push((event["id"].as_i64().unwrap(), room.clone()));
        }
    }
    let mut seen = Vec::new();
    while seen.len() < said.len() {
        let event = sse.next().await.expect("the stream goes on");
        if event.kind() == "chat" {
            let json = event.json();
            seen.push((
                event.id_number().unwrap(),
                json["room"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(seen, said, "every message, in id order, with its room");

    // The lobby's news comes on the same stream.
    let another = owner.new_room("Later", 10, None).await;
    let created = sse.next_of("room-created").await.unwrap().json();
    assert_eq!(created["id"], another.as_str());
}

#[tokio::test]
async fn the_caller_is_present_in_every_listed_room_while_the_stream_is_open() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let ids = rooms(&owner, 2).await;
    let viewer = app.client();
    let me = viewer.me().await["id"].clone();
    let sse = viewer.sse(&path(&ids), None).await;
    for room in &ids {
        let members = owner
            .get_json(&format!("/rooms/{room}/members"))
            .await
            .json();
        assert_eq!(members["count"], 1);
        assert_eq!(members["members"][0]["id"], me);
    }
    drop(sse);
    let left = eventually(Duration::from_secs(5), || async {
        let mut empty = true;
        for room in &ids {
            let status = owner.get_json(&format!("/rooms/{room}/members")).await;
            // The last member gone, the room is deleted.
            empty &= status.status.as_u16() == 404 || status.json()["count"] == 0;
        }
        empty
    })
    .await;
    assert!(left, "gone from every room after the grace period");
}

#[tokio::test]
async fn a_room_the_caller_may_not_enter_refuses_the_whole_stream() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let open = owner.new_room("Open", 10, None).await;
    let private = owner.new_room("Private", 10, Some("hunter2")).await;
    let pair = owner.new_room("Pair", 2, None).await;
    let guest = app.client();
    guest
        .get_json(&path(&[open.clone(), private.clone()]))
        .await
        .assert_error(403, "forbidden");
    guest
        .get_json(&path(&[open.clone(), "no-such-room".into()]))
        .await
        .assert_error(404, "not_found");
    let _a = owner.sse(&format!("/rooms/{pair}/events"), None).await;
    let _b = app
        .client()
        .sse(&format!("/rooms/{pair}/events"), None)
        .await;
    guest
        .get_json(&path(&[open.clone(), pair.clone()]))
        .await
        .assert_error(409, "room_full");
    // Refused before anything: the guest entered none of them.
    let members = owner
        .get_json(&format!("/rooms/{open}/members"))
        .await
        .json();
    assert_eq!(members["count"], 0);
    // Once admitted, the same stream opens.
    let joined = guest
        .post_json(
            &format!("/rooms/{private}/join"),
            serde_json::json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    let sse = guest.sse(&path(&[open, private]), None).await;
    assert_eq!(sse.status.as_u16(), 200);
}

#[tokio::test]
async fn a_list_of_rooms_is_checked() {
    let app = TestApp::spawn().await;
    let client = app.client();
    client
        .get_json("/events?rooms=")
        .await
        .assert_error(400, "bad_request");
    client
        .get_json("/events?rooms=,,")
        .await
        .assert_error(400, "bad_request");
    let many: Vec<String> = (0..51).map(|i| format!("r{i}")).collect();
    client
        .get_json(&path(&many))
        .await
        .assert_error(422, "invalid");
}

#[tokio::test]
async fn a_deleted_room_leaves_the_stream_and_the_others_go_on() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let ids = rooms(&owner, 2).await;
    let mut sse = owner.sse(&path(&ids), None).await;
    sse.next_of("members").await.unwrap();
    let deleted = owner
        .http
        .delete(owner.url(&format!("/rooms/{}", ids[0])))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    loop {
        let event = sse.next().await.expect("the stream goes on");
        if event.kind() == "room-deleted" && event.json()["room"] == ids[0].as_str() {
            break;
        }
    }
    let said = owner.say(&ids[1], "still here").await;
    let event = sse.next_of("chat").await.unwrap();
    assert_eq!(event.id_number(), said["id"].as_i64());
}

/// A viewer of `rooms` that drops its stream after a random number of
/// events and resumes from the last id it saw, until it has seen `until`.
async fn reconnecting_viewer(viewer: Client, rooms: Vec<String>, until: i64) -> (Vec<i64>, usize) {
    let mut received: Vec<i64> = Vec::new();
    let mut reconnects = 0;
    while received.last().copied().unwrap_or(0) < until {
        let last = received.last().copied().unwrap_or(0);
        let Some(mut sse) = viewer.try_sse(&path(&rooms), Some(last)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        reconnects += 1;
        let budget = rand::rng().random_range(1..40);
        let mut taken = 0;
        while taken < budget {
            match sse.next_within(Duration::from_millis(500)).await {
                Some(event) => {
                    if let (Some(id), Some(_)) = (event.id_number(), &event.data) {
                        received.push(id);
                        taken += 1;
                    }
                }
                None => break,
            }
        }
    }
    (received, reconnects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_with_the_global_id_miss_nothing_and_double_nothing_in_any_room() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let ids = rooms(&owner, 3).await;
    // The owner stays in the rooms, so that they outlive the viewer's
    // absences (the last member leaving deletes a room).
    let _owner_present = owner.sse(&path(&ids), None).await;
    let posters: Vec<_> = ids
        .iter()
        .flat_map(|room| start_posters(&app, room, 2, 60))
        .collect();
    let viewer = app.client();
    // Live with the posters, then to the end of what they stored.
    let early = tokio::spawn(reconnecting_viewer(viewer.clone(), ids.clone(), 100));
    for poster in posters {
        poster.await.unwrap();
    }
    let mut history: Vec<i64> = Vec::new();
    for room in &ids {
        history.extend(history_ids(&owner, room).await);
    }
    history.sort_unstable();
    let (early, _) = early.await.unwrap();
    let until = *history.last().unwrap();
    let (received, reconnects) = tokio::time::timeout(
        Duration::from_secs(60),
        reconnecting_viewer(viewer, ids, until),
    )
    .await
    .expect("the viewer caught up");
    assert!(reconnects > 5, "it really reconnected ({reconnects})");
    assert!(
        early.windows(2).all(|w| w[0] < w[1]),
        "live: in order, once"
    );
    assert!(received.windows(2).all(|w| w[0] < w[1]), "in order, once");
    // (What was stored after the history was read, such as the early
    // viewer's leave notices, may have come too.)
    let upto: Vec<i64> = received.into_iter().filter(|id| *id <= until).collect();
    assert_eq!(upto, history, "every stored event of the three rooms");
}

/// One poll of many rooms: (events, last_event_id, version).
async fn poll(client: &Client, rooms: &[String], after: i64, version: &str) -> serde_json::Value {
    let path = format!(
        "/poll?rooms={}&after={after}&version={version}&timeout=5",
        rooms.join(",")
    );
    let answer = client.get_json(&path).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    answer.json()
}

#[tokio::test]
async fn a_poll_of_many_rooms_carries_their_events_in_id_order_and_the_lobby_when_it_changed() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let ids = rooms(&owner, 3).await;
    // The owner stays in every room: rooms last while the poller is away.
    let _owner_stream = owner.sse(&path(&ids), None).await;
    let poller = app.client();
    let first = poll(&poller, &ids, 0, "").await;
    let kinds: Vec<&str> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[0], "rooms",
        "the list first: the poller had no version"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "members").count(), 3);
    // The poller's own arrival changes the lobby's member counts, about a
    // second later: once that is in, the lobby stays still.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = poll(&poller, &ids, 0, first["version"].as_str().unwrap()).await;
    assert_eq!(settled["events"][0]["type"], "rooms", "the counts changed");
    let mut version = settled["version"].as_str().unwrap().to_owned();
    let mut after = settled["last_event_id"].as_i64().unwrap();

    let mut said = Vec::new();
    for round in 0..3 {
        for room in &ids {
            said.push(
                owner.say(room, &format!("round {round}")).await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
    }
    let mut got = Vec::new();
    while got.len() < said.len() {
        let answer = poll(&poller, &ids, after, &version).await;
        for event in answer["events"].as_array().unwrap() {
            // Messages move unread counts, not the list.
            assert_ne!(event["type"], "rooms", "the list did not change");
            if event["type"] == "chat" {
                got.push(event["id"].as_i64().unwrap());
            }
        }
        after = answer["last_event_id"].as_i64().unwrap();
        version = answer["version"].as_str().unwrap().to_owned();
    }
    assert_eq!(got, said, "every message once, in id order");
    // It was delivered every message: it has read them all (as soon as
    // the positions are stored, within a second).
    let all_read = crate::helpers::eventually(Duration::from_secs(5), || async {
        let counts = poll(&poller, &ids, after, "").await;
        let list = counts["events"][0]["rooms"].as_array().unwrap().clone();
        list.iter().all(|r| r["unread"] == 0)
    })
    .await;
    assert!(all_read, "the poller's counts came along");

    // A poll waiting on the rooms answers when the lobby changes (its
    // reads stored meanwhile may have changed it first: it asks again).
    let version = poll(&poller, &ids, after, "").await["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = {
        let (poller, ids, mut version) = (poller.clone(), ids.clone(), version.clone());
        tokio::spawn(async move {
            loop {
                let answer = poll(&poller, &ids, after, &version).await;
                let lists: Vec<serde_json::Value> = answer["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["type"] == "rooms")
                    .cloned()
                    .collect();
                if lists
                    .iter()
                    .any(|l| l["rooms"].as_array().unwrap().len() == 4)
                {
                    return answer;
                }
                version = answer["version"].as_str().unwrap().to_owned();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = owner.new_room("Newer", 10, None).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting poll answers")
        .unwrap();
    let list = &answer["events"][0];
    assert_eq!(list["type"], "rooms");
    assert!(
        list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == created.as_str())
    );
    assert_ne!(answer["version"], version.as_str());
}

#[tokio::test]
async fn a_poll_of_many_rooms_is_refused_for_a_room_the_caller_may_not_enter() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let open = owner.new_room("Open", 10, None).await;
    let private = owner.new_room("Private", 10, Some("hunter2")).await;
    app.client()
        .get_json(&format!("/poll?rooms={open},{private}&timeout=0"))
        .await
        .assert_error(403, "forbidden");
    let members = owner
        .get_json(&format!("/rooms/{open}/members"))
        .await
        .json();
    assert_eq!(members["count"], 0, "refused before entering any");
}
