//! Server-Sent Events: framing, headers, fan-out, replay.

use std::time::Duration;

use crate::helpers::{Client, TestApp};

async fn room_with_messages(client: &Client, n: usize) -> (String, Vec<i64>) {
    let room = client.create_room("Stream", 50, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            client.say(&id, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    (id, ids)
}

#[tokio::test]
async fn a_room_stream_has_sse_headers_and_framing() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 2).await;
    let mut sse = alice.sse(&format!("/rooms/{room}/events"), None).await;
    assert_eq!(sse.status.as_u16(), 200);
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    let cache = sse.headers["cache-control"].to_str().unwrap();
    assert!(cache.contains("no-cache") || cache.contains("no-store"));
    assert_eq!(sse.headers["x-accel-buffering"], "no");

    let retry = sse.next().await.unwrap();
    assert!(
        retry.retry.is_some() && retry.data.is_none(),
        "retry opens: {retry:?}"
    );
    let members = sse.next().await.unwrap();
    assert_eq!(members.kind(), "members");
    assert!(members.id.is_none(), "snapshots carry no id");
    assert_eq!(members.json()["count"], 1);
    // Where the stream stands, as an event with data: clients that record
    // only the ids of dispatched events resume from it too.
    let cursor = sse.next().await.unwrap();
    assert_eq!(cursor.kind(), "cursor", "{cursor:?}");
    let newest = cursor.id_number().unwrap();
    assert_eq!(cursor.json()["last_event_id"], newest);

    let said = alice.say(&room, "live one").await;
    let event = sse.next_of("chat").await.unwrap();
    assert_eq!(event.id_number(), said["id"].as_i64());
    assert!(event.id_number().unwrap() > newest);
    assert_eq!(event.json(), said, "data is the stored event");
}

#[tokio::test]
async fn no_event_ever_carries_an_empty_id() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 3).await;
    let mut sse = alice
        .sse(&format!("/rooms/{room}/events?last_event_id=0"), None)
        .await;
    alice.say(&room, "live").await;
    let mut seen = 0;
    while let Some(event) = sse.next_within(Duration::from_secs(2)).await {
        if let Some(id) = &event.id {
            assert!(!id.is_empty(), "{event:?}");
        }
        seen += 1;
    }
    assert!(seen >= 6, "retry, members, 3 replayed, joined, live");
}

#[tokio::test]
async fn two_subscribers_receive_identical_ids() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let bob = app.client();
    let (room, _) = room_with_messages(&alice, 0).await;
    let mut a = alice.sse(&format!("/rooms/{room}/events"), None).await;
    let mut b = bob.sse(&format!("/rooms/{room}/events"), None).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(
            bob.say(&room, &format!("n{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let chats = |events: Vec<crate::helpers::SseEvent>| -> Vec<i64> {
        events
            .into_iter()
            .filter(|e| e.kind() == "chat")
            .map(|e| e.id_number().unwrap())
            .collect()
    };
    let mut got_a = Vec::new();
    while got_a.len() < 20 {
        got_a.extend(chats(a.stored(1).await));
    }
    let mut got_b = Vec::new();
    while got_b.len() < 20 {
        got_b.extend(chats(b.stored(1).await));
    }
    assert_eq!(got_a, sent);
    assert_eq!(got_b, sent);
}

#[tokio::test]
async fn last_event_id_replays_by_header_by_query_and_from_zero() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, ids) = room_with_messages(&alice, 6).await;
    let path = format!("/rooms/{room}/events");

    let mut by_header = alice.sse(&path, Some(ids[2])).await;
    let got: Vec<i64> = by_header
        .stored(3)
        .await
        .iter()
        .map(|e| e.id_number().unwrap())
        .collect();
    assert_eq!(got, ids[3..6].to_vec());

    let mut by_query = alice
        .sse(&format!("{path}?last_event_id={}", ids[3]), None)
        .await;
    let got: Vec<i64> = by_query
        .stored(2)
        .await
        .iter()
        .map(|e| e.id_number().unwrap())
        .collect();
    assert_eq!(got, ids[4..6].to_vec());

    let mut header_wins = alice
        .sse(&format!("{path}?last_event_id=0"), Some(ids[4]))
        .await;
    let first = header_wins.stored(1).await;
    assert_eq!(
        first[0].id_number(),
        Some(ids[5]),
        "the header wins over the query"
    );

    let mut from_zero = alice.sse(&format!("{path}?last_event_id=0"), None).await;
    let got: Vec<i64> = from_zero
        .stored(6)
        .await
        .iter()
        .map(|e| e.id_number().unwrap())
        .collect();
    assert_eq!(got, ids, "the whole history");
}

#[tokio::test]
async fn the_members_snapshot_comes_before_any_replay() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 3).await;
    let mut sse = alice
        .sse(&format!("/rooms/{room}/events?last_event_id=0"), None)
        .await;
    let _retry = sse.next().await.unwrap();
    assert_eq!(sse.next().await.unwrap().kind(), "members");
    assert_eq!(sse.next().await.unwrap().kind(), "chat");
}

#[tokio::test]
async fn bad_cursors_are_refused_before_the_stream_starts() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 1).await;
    alice
        .get_json(&format!("/rooms/{room}/events?last_event_id=abc"))
        .await
        .assert_error(400, "bad_request");
    alice
        .get_json(&format!("/rooms/{room}/events?last_event_id=-5"))
        .await
        .assert_error(422, "invalid");
}

#[tokio::test]
async fn a_bad_cursor_is_refused_even_where_the_other_one_wins() {
    // Found by Schemathesis: with a `Last-Event-ID` header, the query's
    // `last_event_id` was not read at all, so any value opened the stream.
    let app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 1).await;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        for (query, header, status) in [
            ("?last_event_id=abc", "1", 400),
            ("?last_event_id=-5", "1", 422),
            ("?last_event_id=9223372036854775808", "0", 400),
            ("?last_event_id=1", "x", 400),
            ("?last_event_id=1", "-2", 422),
            ("", "-2", 422),
            ("?last_event_id=1", "", 400),
        ] {
            let answer = alice
                .http
                .request(
                    method.clone(),
                    alice.url(&format!("/rooms/{room}/events{query}")),
                )
                .header("accept", "text/event-stream")
                .header("last-event-id", header)
                .send()
                .await
                .unwrap();
            let seen = answer.status().as_u16();
            assert_eq!(seen, status, "{method} {query} Last-Event-ID: {header}");
        }
    }
}

#[tokio::test]
async fn keep_alive_comments_flow_on_a_quiet_stream() {
    let app = TestApp::spawn_with(|c| c.keep_alive = Duration::from_millis(200)).await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 0).await;
    let mut sse = alice.sse(&format!("/rooms/{room}/events"), None).await;
    while sse.next_within(Duration::from_millis(900)).await.is_some() {}
    assert!(
        sse.comments.iter().any(|c| c == "keep-alive"),
        "{:?}",
        sse.comments
    );
    assert!(!sse.closed);
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_server_exits() {
    let mut app = TestApp::spawn().await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 1).await;
    let mut sse = alice.sse(&format!("/rooms/{room}/events"), None).await;
    let lobby = alice.sse("/events", None).await;
    sse.next().await.unwrap();
    app.stop().await;
    while sse.next_within(Duration::from_secs(2)).await.is_some() {}
    assert!(sse.closed, "the stream ended");
    drop(lobby);
}

#[tokio::test]
async fn a_slow_reader_catches_up_completely_after_lagging() {
    // A tiny channel makes the lag path certain: the reader below stops
    // reading while far more events pass than the channel holds.
    let app = TestApp::spawn_with(|c| c.room_channel_capacity = 8).await;
    let alice = app.client();
    let (room, _) = room_with_messages(&alice, 0).await;
    let mut slow = alice.sse(&format!("/rooms/{room}/events"), None).await;
    let _ = slow.next().await; // retry
    let _ = slow.next().await; // members
    let text = "z".repeat(1500);
    let mut sent = Vec::new();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let client = app.client();
            let (room, text) = (room.clone(), text.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..750 {
                    let said = client.say(&room, &format!("{w}-{i} {text}")).await;
                    ids.push(said["id"].as_i64().unwrap());
                }
                ids
            })
        })
        .collect();
    for writer in writers {
        sent.extend(writer.await.unwrap());
    }
    sent.sort();
    let got: Vec<i64> = slow
        .stored(sent.len() + 1)
        .await
        .into_iter()
        .filter(|e| e.kind() == "chat")
        .map(|e| e.id_number().unwrap())
        .collect();
    assert_eq!(got, sent, "every message, in order, none twice");
}
