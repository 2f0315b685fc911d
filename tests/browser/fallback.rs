//! Chat without EventSource: forced long-polling (`?transport=poll`), and a
//! browser whose `window.EventSource` is gone before any script runs (the
//! lobby and the chat page fall back to polling by themselves).

use std::time::Duration;

use crate::harness::{Setup, run, run_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_live_over_forced_polling() {
    run("chat_is_live_over_forced_polling", async |world| {
        let alice = world.browser("alice").await;
        let bob = world.browser("bob").await;
        let room = alice.create_room("Polling", None).await;
        alice.wait_state("live").await;
        bob.goto(&format!("/rooms/{room}?transport=poll")).await;
        bob.wait_state("polling").await;

        alice.say("can you hear me over polling?").await;
        bob.wait_chat("can you hear me over polling?").await;
        bob.say("loud and clear").await;
        alice.wait_chat("loud and clear").await;
        alice.say("and again").await;
        bob.wait_chat("and again").await;

        // Forced polling never upgrades to EventSource.
        assert_eq!(bob.conn_state().await, "polling");
        assert_eq!(
            bob.chat_texts().await,
            [
                "can you hear me over polling?",
                "loud and clear",
                "and again"
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_event_source_the_pages_fall_back_to_polling() {
    run(
        "without_event_source_the_pages_fall_back_to_polling",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser_with("bob", Setup::NoEventSource).await;

            // The lobby, by long-polling: a room created elsewhere appears.
            bob.goto("/").await;
            let missing = bob.eval("return typeof window.EventSource;").await;
            assert_eq!(
                missing, "undefined",
                "EventSource removed before the scripts"
            );
            let room = alice.create_room("No EventSource", None).await;
            bob.until(
                "the new room in the polling lobby",
                &format!("return !!document.querySelector('#rooms tr[data-room=\"{room}\"]');"),
            )
            .await;

            // The chat page, by long-polling, both ways.
            bob.click(&format!("#rooms tr[data-room=\"{room}\"] a"))
                .await;
            bob.find("section#room").await;
            bob.wait_state("polling").await;
            assert_eq!(
                bob.eval("return typeof window.EventSource;").await,
                "undefined"
            );
            alice.wait_state("live").await;
            alice.say("no EventSource over there?").await;
            bob.wait_chat("no EventSource over there?").await;
            bob.say("none, and it still works").await;
            alice.wait_chat("none, and it still works").await;
            assert_eq!(bob.conn_state().await, "polling");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_refused_for_load_goes_live_by_itself_once_let_in() {
    run_with(
        "a_page_refused_for_load_goes_live_by_itself_once_let_in",
        |c| c.max_streams_per_addr = 2,
        async |world| {
            // The room, made over the API: the test and the browser share
            // 127.0.0.1, and the address may hold two streams or polls.
            let api = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let room: serde_json::Value = api
                .post(world.server.url("/rooms"))
                .header("accept", "application/json")
                .json(&serde_json::json!({ "title": "Crowded", "max": 10 }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let room = room["id"].as_str().unwrap().to_owned();
            let mut held = Vec::new();
            for _ in 0..2 {
                let stream = api.get(world.server.url("/events")).send().await.unwrap();
                assert_eq!(stream.status(), 200);
                held.push(stream);
            }

            let bob = world.browser("bob").await;
            bob.goto(&format!("/rooms/{room}")).await;
            bob.wait_state("offline").await;
            // The address is full: both the poll and the stream are refused
            // (429). Let them in, and the page recovers on its own.
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(held);
            bob.until_within(
                Duration::from_secs(40),
                "#conn-state[data-state=live]",
                "const s = document.querySelector('#conn-state'); return s && s.dataset.state === 'live';",
            )
            .await;
            let said = api
                .post(world.server.url(&format!("/rooms/{room}/messages")))
                .header("accept", "application/json")
                .json(&serde_json::json!({ "chat": "welcome back" }))
                .send()
                .await
                .unwrap();
            assert_eq!(said.status(), 201);
            bob.wait_chat("welcome back").await;
        },
    )
    .await;
}
