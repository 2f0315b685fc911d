//! One connection per browser: the tabs of one browser share one stream
//! for all their rooms (a leader tab holds it and hands events to the
//! others), so many open rooms never use up the six HTTP/1.1 connections
//! a browser allows a site; and when the leader tab closes, another takes
//! over with no event lost or doubled in any tab, and no one leaves.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{World, run, run_with};

/// Rooms and messages made over the API, as another visitor's script would.
struct Poster {
    http: reqwest::Client,
    base: String,
}

impl Poster {
    fn new(world: &World) -> Poster {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("http client");
        Poster {
            http,
            base: world.server.url(""),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .expect("post sent");
        assert!(
            answer.status().is_success(),
            "POST {path}: {}",
            answer.status()
        );
        answer.json().await.expect("a JSON answer")
    }

    async fn create_room(&self, title: &str) -> String {
        let room = self
            .post("/rooms", json!({ "title": title, "max": 10 }))
            .await;
        room["id"].as_str().expect("room id").to_owned()
    }

    async fn say(&self, room: &str, chat: &str) {
        self.post(&format!("/rooms/{room}/messages"), json!({ "chat": chat }))
            .await;
    }

    /// Streams and polls open on the server now (`/metrics`).
    async fn open_connections(&self) -> i64 {
        let metrics = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        metrics
            .lines()
            .filter(|line| line.starts_with("gifchat_connections{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<i64>().ok())
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_rooms_in_ten_tabs_hold_one_stream_and_an_eleventh_page_still_loads() {
    run(
        "ten_rooms_in_ten_tabs_hold_one_stream_and_an_eleventh_page_still_loads",
        async |world| {
            let poster = Poster::new(world);
            let mut rooms = Vec::new();
            for i in 1..=10 {
                rooms.push(poster.create_room(&format!("Room {i}")).await);
            }
            let alice = world.browser("alice").await;
            alice.goto(&format!("/rooms/{}", rooms[0])).await;
            alice.wait_state("live").await;
            let mut tabs = vec![alice.current_tab().await];
            for room in &rooms[1..] {
                tabs.push(alice.open_tab(&format!("/rooms/{room}")).await);
                alice.wait_state("live").await;
            }

            // One stream carries them all (over plain HTTP/1.1, ten would
            // need ten of the six connections Chromium allows the site).
            let mut open = 0;
            for _ in 0..100 {
                open = poster.open_connections().await;
                if open == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(open, 1, "streams and polls open for ten tabs");

            // Every tab is live.
            for (i, room) in rooms.iter().enumerate() {
                poster.say(room, &format!("hello room {}", i + 1)).await;
            }
            for (i, tab) in tabs.iter().enumerate() {
                alice.switch_to(tab).await;
                let text = format!("hello room {}", i + 1);
                alice.wait_chat(&text).await;
                assert_eq!(alice.chat_texts().await, [text]);
                assert_eq!(alice.conn_state().await, "live");
            }

            // A page load in an eleventh tab does not wait for a connection,
            // and its lobby is live too.
            let eleventh = tokio::time::timeout(Duration::from_secs(15), alice.open_tab("/")).await;
            assert!(eleventh.is_ok(), "the eleventh tab's page load hung");
            alice.find("#rooms tbody").await;
            let late = poster.create_room("Room 11").await;
            alice
                .until(
                    "the new room in the eleventh tab's lobby",
                    &format!("return !!document.querySelector('#rooms tr[data-room=\"{late}\"]');"),
                )
                .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_leader_tab_hands_the_stream_over_with_nothing_lost_or_doubled() {
    run_with(
        "closing_the_leader_tab_hands_the_stream_over_with_nothing_lost_or_doubled",
        // Long enough for a handover, short enough for a leave to show.
        |c| c.leave_grace = Duration::from_secs(3),
        async |world| {
            let poster = Poster::new(world);
            let one = poster.create_room("One").await;
            let two = poster.create_room("Two").await;
            let alice = world.browser("alice").await;
            alice.goto(&format!("/rooms/{one}")).await;
            alice.wait_state("live").await;
            let leader = alice.current_tab().await;
            assert_eq!(alice.tab_role().await, "leader");
            let of_two = alice.open_tab(&format!("/rooms/{two}")).await;
            alice.wait_state("live").await;
            assert_eq!(alice.tab_role().await, "follower");
            let of_one = alice.open_tab(&format!("/rooms/{one}")).await;
            alice.wait_state("live").await;
            assert_eq!(alice.tab_role().await, "follower");

            // Messages flow into both rooms before, during and after the
            // leader tab closes.
            const N: usize = 60;
            let posting = {
                let poster = Poster {
                    http: poster.http.clone(),
                    base: poster.base.clone(),
                };
                let (one, two) = (one.clone(), two.clone());
                tokio::spawn(async move {
                    for i in 0..N {
                        poster.say(&one, &format!("one {i}")).await;
                        poster.say(&two, &format!("two {i}")).await;
                        tokio::time::sleep(Duration::from_millis(40)).await;
                    }
                })
            };
            tokio::time::sleep(Duration::from_millis(800)).await;
            alice.switch_to(&leader).await;
            alice.close_tab().await;
            alice.switch_to(&of_two).await;
            posting.await.expect("posting");

            for (tab, room) in [(&of_two, "two"), (&of_one, "one")] {
                alice.switch_to(tab).await;
                alice.wait_chat(&format!("{room} {}", N - 1)).await;
                let expected: Vec<String> = (0..N).map(|i| format!("{room} {i}")).collect();
                assert_eq!(alice.chat_texts().await, expected, "room {room}");
                let ids = alice.message_ids().await;
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order: {ids:?}");
                assert_eq!(alice.conn_state().await, "live");
            }
            let mut roles = Vec::new();
            for tab in [&of_two, &of_one] {
                alice.switch_to(tab).await;
                roles.push(alice.tab_role().await);
            }
            roles.sort();
            assert_eq!(roles, ["follower", "leader"], "one tab took the lead");

            // Presence held through the handover: past the grace period,
            // alice joined each room once and never left. (The poster's
            // posts make it a member too, with notices of its own.)
            tokio::time::sleep(Duration::from_secs(4)).await;
            let me = alice
                .eval("return document.querySelector('.me-label').textContent;")
                .await;
            let me = me.as_str().expect("alice's label").to_owned();
            for (tab, room) in [(&of_two, "two"), (&of_one, "one")] {
                alice.switch_to(tab).await;
                let notices = alice.notice_texts().await;
                let of_alice = |verb: &str| {
                    notices
                        .iter()
                        .filter(|n| n.ends_with(verb) && n.contains(&me))
                        .count()
                };
                assert_eq!(of_alice(" joined"), 1, "room {room}: {notices:?}");
                assert_eq!(of_alice(" left"), 0, "room {room}: {notices:?}");
            }

            // Closing the last tab of a room leaves it (after the grace).
            alice.switch_to(&of_one).await;
            let alice_id = alice
                .eval("return document.querySelector('#room').dataset.me;")
                .await;
            alice.close_tab().await;
            alice.switch_to(&of_two).await;
            let members = format!("/rooms/{one}/members");
            let mut gone = false;
            for _ in 0..100 {
                let answer = poster
                    .http
                    .get(format!("{}{members}", poster.base))
                    .header("accept", "application/json")
                    .send()
                    .await
                    .expect("members");
                let status = answer.status();
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                let listed = body["members"]
                    .as_array()
                    .is_some_and(|members| members.iter().any(|m| m["id"] == alice_id));
                if status == 404 || (status == 200 && !listed) {
                    gone = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(gone, "alice left room one when its last tab closed");
            poster.say(&two, "still here").await;
            alice.wait_chat("still here").await;
        },
    )
    .await;
}
