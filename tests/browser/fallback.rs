//! Chat without EventSource: forced long-polling (`?transport=poll`), and a
//! browser whose `window.EventSource` is gone before any script runs (the
//! lobby and the chat page fall back to polling by themselves).

use crate::harness::{Setup, run};

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
