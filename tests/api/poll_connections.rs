//! Long-polls on one kept-alive connection, as a browser's XHR or an HTTP
//! library sends them: the server answers such a connection itself
//! (`server/polls.rs`), and a poll that repeats the last one without the
//! middleware (`routes/steady.rs`). Each test speaks HTTP/1.1 by hand on
//! one connection and checks what a poller sees: every event once and in
//! order, its presence kept, kicks and other requests answered as ever.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    helpers::TestApp,
    keep_alive::{WireAnswer, read_answer},
    operations::sample,
};

/// A poller on one connection, with the cookie of its first answer.
struct Wire {
    conn: TcpStream,
    cookie: Option<String>,
    /// The `timeout` of its polls, in seconds.
    wait: u32,
}

impl Wire {
    async fn open(app: &TestApp) -> Wire {
        let conn = TcpStream::connect(app.addr).await.unwrap();
        Wire {
            conn,
            cookie: None,
            wait: 1,
        }
    }

    /// `GET path` on this connection, with `extra` header lines.
    async fn get(&mut self, path: &str, extra: &str) -> Option<WireAnswer> {
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n{cookie}{extra}\r\n"
        );
        self.conn.write_all(request.as_bytes()).await.ok()?;
        let answer = read_answer(&mut self.conn).await?;
        if let Some(cookie) = answer.raw_head.lines().find_map(|l| {
            l.get(..12)
                .filter(|name| name.eq_ignore_ascii_case("set-cookie: "))
                .map(|_| &l[12..])
        }) {
            self.cookie = cookie.split(';').next().map(str::to_owned);
        }
        Some(answer)
    }

    /// A poll of `room` after `after`, answered 200: its JSON.
    async fn poll(&mut self, room: &str, after: Option<i64>) -> Value {
        let after = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let answer = self
            .get(
                &format!("/rooms/{room}/poll?timeout={}{after}", self.wait),
                "",
            )
            .await
            .expect("a poll answer on the same connection");
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(!answer.says_close(), "kept alive: {}", answer.head);
        serde_json::from_slice(&answer.body).unwrap()
    }

    /// Sends a poll of `room` after `after` that waits (its answer is
    /// read later, or never).
    async fn start_waiting(&mut self, room: &str, after: Option<i64>) {
        let request = format!(
            "GET /rooms/{room}/poll?timeout=30&after={} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nCookie: {}\r\n\r\n",
            after.unwrap(),
            self.cookie.as_deref().unwrap()
        );
        self.conn.write_all(request.as_bytes()).await.unwrap();
    }

    /// This poller's user id.
    async fn user_id(&self, app: &TestApp) -> String {
        let mut other = Wire::open(app).await;
        other.cookie = self.cookie.clone();
        let me = other.get("/me", "").await.unwrap();
        let me: Value = serde_json::from_slice(&me.body).unwrap();
        me["id"].as_str().unwrap().to_owned()
    }
}

/// Whether `user` comes to be a member of `room` (or not, `present`
/// false) within 5 s: arrivals and departures are folded once a second.
async fn has_member(alice: &crate::helpers::Client, room: &str, user: &str, present: bool) -> bool {
    for _ in 0..50 {
        let members = alice
            .get_json(&format!("/rooms/{room}/members"))
            .await
            .json();
        let listed = members["members"]
            .as_array()
            .is_some_and(|list| list.iter().any(|m| m["id"] == user));
        if listed == present {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn of_type<'a>(answer: &'a Value, kind: &str) -> Vec<&'a Value> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

#[tokio::test]
async fn polls_on_one_connection_get_every_message_once_and_keep_the_poller_present() {
    // Between two polls, bob is present through the leave grace: a second
    // here, so that two posts on a loaded machine fit in it.
    let app = TestApp::spawn_with(|c| c.leave_grace = Duration::from_secs(1)).await;
    let alice = app.client();
    let room = alice.new_room("One connection", 10, None).await;
    let mut bob = Wire::open(&app).await;
    let first = bob.poll(&room, None).await;
    assert_eq!(of_type(&first, "members").len(), 1, "{first}");
    let mut after = first["last_event_id"].as_i64();

    let mut said = Vec::new();
    let mut seen = Vec::new();
    let mut notices = Vec::new();
    for n in 0..30 {
        said.push(
            alice.say(&room, &format!("line {n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
        if n % 3 == 2 {
            // Polls repeat on the connection; each gets what is new.
            while seen.len() < said.len() {
                let answer = bob.poll(&room, after).await;
                seen.extend(
                    of_type(&answer, "chat")
                        .iter()
                        .map(|e| e["id"].as_i64().unwrap()),
                );
                notices.extend(of_type(&answer, "system").iter().map(|e| e["chat"].clone()));
                after = answer["last_event_id"].as_i64();
            }
        }
    }
    assert_eq!(seen, said, "every message once, in order");
    // Polling on past the grace and the folding of presence (once a
    // second): bob's arrival, once; no leaving and coming back.
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < until {
        let answer = bob.poll(&room, after).await;
        notices.extend(of_type(&answer, "system").iter().map(|e| e["chat"].clone()));
        after = answer["last_event_id"].as_i64();
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].as_str().unwrap().ends_with(" joined"),
        "{notices:?}"
    );
}

#[tokio::test]
async fn a_kick_reaches_a_poller_on_its_connection() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Kicks", 10, None).await;
    let mut bob = Wire::open(&app).await;
    let mut after = bob.poll(&room, None).await["last_event_id"].as_i64();
    alice.say(&room, "hello").await;
    after = bob.poll(&room, after).await["last_event_id"].as_i64();
    let bob_id = bob.user_id(&app).await;
    // A poll waits on the connection when the kick comes: the server
    // counts it as outstanding (from just before it subscribes; a loaded
    // machine may take longer than any fixed pause to get there).
    bob.start_waiting(&room, after).await;
    let waiting = crate::helpers::eventually(Duration::from_secs(5), || async {
        let text = app.client().get_json("/metrics").await.text;
        sample(&text, "gifchat_connections{transport=\"poll\"}") == Some(1.0)
    })
    .await;
    assert!(waiting, "bob's poll is outstanding");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kicked = alice
        .post_json(&format!("/rooms/{room}/kick"), json!({ "user": bob_id }))
        .await;
    assert_eq!(kicked.status.as_u16(), 200, "{}", kicked.text);
    let answer = read_answer(&mut bob.conn).await.unwrap();
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(of_type(&answer, "kicked").len(), 1, "{answer}");
    // The next poll on the same connection is refused.
    let refused = bob
        .get(&format!("/rooms/{room}/poll?timeout=1&after=0"), "")
        .await
        .unwrap();
    assert_eq!(refused.status, 403, "{}", refused.head);
    let error: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(error["error"], "kicked");
}

#[tokio::test]
async fn other_requests_on_a_poll_connection_are_answered() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Mixed", 10, None).await;
    let mut bob = Wire::open(&app).await;
    let mut after = bob.poll(&room, None).await["last_event_id"].as_i64();
    after = bob.poll(&room, after).await["last_event_id"].as_i64();
    // A bad query is the router's 400, as ever.
    let bad = bob
        .get(&format!("/rooms/{room}/poll?timeout=soon"), "")
        .await
        .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.head);
    // Another route on the same connection.
    let members = bob
        .get(&format!("/rooms/{room}/members"), "")
        .await
        .unwrap();
    assert_eq!(members.status, 200, "{}", members.head);
    let members: Value = serde_json::from_slice(&members.body).unwrap();
    assert_eq!(members["room"], room.as_str());
    // And polls still, after it.
    let said = alice.say(&room, "still here").await["id"].as_i64().unwrap();
    let answer = bob.poll(&room, after).await;
    let ids: Vec<_> = of_type(&answer, "chat")
        .iter()
        .map(|e| e["id"].as_i64())
        .collect();
    assert_eq!(ids, [Some(said)]);
}

#[tokio::test]
async fn a_poll_asking_to_close_is_answered_and_closed() {
    let app = TestApp::spawn().await;
    let room = app.client().new_room("Close", 10, None).await;
    let mut bob = Wire::open(&app).await;
    bob.poll(&room, None).await;
    let answer = bob
        .get(
            &format!("/rooms/{room}/poll?timeout=0"),
            "Connection: close\r\n",
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.says_close(), "{}", answer.head);
    let after = bob.get("/rooms", "").await;
    assert!(after.is_none(), "the connection was closed");
}

#[tokio::test]
async fn a_poller_that_hangs_up_while_waiting_leaves() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Hang up", 10, None).await;
    // Alice watches, so that the room outlives bob.
    let _watching = alice.sse(&format!("/rooms/{room}/events"), None).await;
    let mut bob = Wire::open(&app).await;
    let mut after = bob.poll(&room, None).await["last_event_id"].as_i64();
    let bob_id = bob.user_id(&app).await;
    // Long waits: only the hang-up itself can end the one in flight.
    bob.wait = 30;
    let polled = room.clone();
    let poller = tokio::spawn(async move {
        loop {
            after = bob.poll(&polled, after).await["last_event_id"].as_i64();
        }
    });
    assert!(
        has_member(&alice, &room, &bob_id, true).await,
        "present while polling"
    );
    // Hung up mid-wait (after the snapshot of bob's arrival, once a
    // second, was answered): the connection goes with the task.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    poller.abort();
    // The leave grace is 300 ms in tests.
    assert!(
        has_member(&alice, &room, &bob_id, false).await,
        "the poller left once it hung up"
    );
}
