//! The chat page between two independent visitors: messages and GIFs go
//! live both ways, and a reload resumes exactly where the page was.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::harness::{Browser, run};

/// Alice creates a room through the form; Bob opens it. Both are live
/// (EventSource) when this returns.
pub async fn two_in_a_room(alice: &Browser, bob: &Browser, title: &str) -> String {
    let room = alice.create_room(title, None).await;
    alice.wait_state("live").await;
    bob.goto(&format!("/rooms/{room}")).await;
    bob.wait_state("live").await;
    room
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_visitors_see_each_others_messages_live() {
    run(
        "two_visitors_see_each_others_messages_live",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            two_in_a_room(&alice, &bob, "Live chat").await;

            alice.say("hello from alice").await;
            let id = bob.wait_chat("hello from alice").await;
            bob.say("hi alice, bob here").await;
            assert!(alice.wait_chat("hi alice, bob here").await > id);

            // Each message once, in order, on both pages; still live.
            for browser in [&alice, &bob] {
                assert_eq!(
                    browser.chat_texts().await,
                    ["hello from alice", "hi alice, bob here"],
                    "[{}] chat messages",
                    browser.label
                );
                assert_eq!(browser.conn_state().await, "live");
            }
            let mine = bob
                .eval("return document.querySelector('#messages li.msg-chat.mine .text')?.textContent;")
                .await;
            assert_eq!(mine, "hi alice, bob here", "Bob's own message is marked .mine");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gif_uploaded_in_one_session_appears_in_the_other() {
    run(
        "a_gif_uploaded_in_one_session_appears_in_the_other",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            two_in_a_room(&alice, &bob, "GIFs").await;

            let file = world.write_file("tiny.gif", &tiny_gif());
            alice.choose_gif(&file).await;

            // Shown on both pages as an image that actually loaded.
            let script = "const img = document.querySelector('#messages li.msg-gif img.gif');
                 return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;";
            let seen_by_bob = bob.until("the GIF to load on Bob's page", script).await;
            let seen_by_alice = alice.until("the GIF to load on Alice's page", script).await;
            let src = seen_by_bob.as_str().expect("src");
            assert!(src.starts_with("/gif/"), "served from /gif/: {src}");
            assert_eq!(seen_by_alice, seen_by_bob, "the same file on both pages");
            let width = bob
                .eval("return document.querySelector('#messages img.gif').naturalWidth;")
                .await;
            assert_eq!(width, 16, "the uploaded GIF's own width");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gif_over_the_limit_is_refused_before_it_is_sent() {
    run(
        "a_gif_over_the_limit_is_refused_before_it_is_sent",
        async |world| {
            let alice = world.browser("alice").await;
            let room = alice.create_room("Big GIFs", None).await;
            alice.wait_state("live").await;

            // A GIF header and 6 MiB of anything: over the default 5 MiB.
            let mut big = tiny_gif();
            big.resize(6 * 1024 * 1024, 0);
            let file = world.write_file("big.gif", &big);
            alice.choose_gif(&file).await;

            let shown = alice
                .until(
                    "the size error",
                    "const e = document.getElementById('chat-error');
                     return !e.hidden && e.textContent;",
                )
                .await;
            assert_eq!(shown, "“big.gif” is 6 MiB: GIFs can be at most 5 MiB.");
            let (status, history) = alice
                .fetch_json("GET", &format!("/rooms/{room}/messages"))
                .await;
            assert_eq!(status, 200);
            let gifs = history["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "gif")
                .count();
            assert_eq!(gifs, 0, "nothing was stored: {history}");
            // The picker works again for a GIF that fits.
            let small = world.write_file("small.gif", &tiny_gif());
            alice.choose_gif(&small).await;
            alice
                .until(
                    "the small GIF on the page",
                    "return !!document.querySelector('#messages li.msg-gif img.gif');",
                )
                .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_resumes_without_duplicate_or_missing_messages() {
    run(
        "a_reload_resumes_without_duplicate_or_missing_messages",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            let room = two_in_a_room(&alice, &bob, "Reloads").await;
            alice.say("before the reloads").await;
            bob.wait_chat("before the reloads").await;

            // Alice posts from her page, one message after another, until
            // Bob has reloaded his three times (at once, after going live,
            // and at once again).
            alice
                .eval_with(
                    "const [base] = arguments;
                     window.burst = { sent: 0, failed: [], stop: false, done: false };
                     (async () => {
                       while (!window.burst.stop) {
                         const i = window.burst.sent + 1;
                         const r = await fetch(base + '/messages', {
                           method: 'POST',
                           headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
                           body: JSON.stringify({ chat: 'burst ' + i }),
                         });
                         if (!r.ok) window.burst.failed.push(r.status);
                         window.burst.sent = i;
                         await new Promise((resolve) => setTimeout(resolve, 50));
                       }
                       window.burst.done = true;
                     })();
                     return true;",
                    vec![Value::from(format!("/rooms/{room}"))],
                )
                .await;
            let posted_at_least = async |n: u64| {
                let script = format!("return window.burst.sent >= {n} && window.burst.sent;");
                let sent = alice.until(&format!("{n} burst messages"), &script).await;
                sent.as_u64().expect("a count")
            };
            let before = posted_at_least(2).await;
            bob.reload().await;
            bob.wait_state("live").await;
            bob.reload().await;
            bob.reload().await;
            let during = alice.eval("return window.burst.sent;").await;
            posted_at_least(during.as_u64().expect("a count") + 3).await;
            alice.eval("window.burst.stop = true; return true;").await;
            let burst = alice
                .until("the burst to end", "return window.burst.done && window.burst;")
                .await;
            assert_eq!(burst["failed"], json!([]), "every post accepted");
            let sent = burst["sent"].as_u64().expect("a count");
            assert!(sent > before, "the burst went on during the reloads");
            eprintln!("burst: {sent} messages, {before} before the first reload");
            bob.wait_chat(&format!("burst {sent}")).await;

            // Each page shows exactly the room's history, every id once, in
            // order (join and leave notices included): Alice's all of it,
            // Bob's reloaded page the latest 50 and what came after.
            for browser in [&alice, &bob] {
                let script = format!(
                    "const shown = [...document.querySelectorAll('#messages > li')].map((li) => Number(li.dataset.id));
                     return fetch('/rooms/{room}/messages?limit=200', {{ headers: {{ Accept: 'application/json' }} }})
                       .then((r) => r.json())
                       .then((page) => {{
                         const stored = page.events.map((e) => e.id);
                         const tail = stored.slice(-shown.length);
                         return shown.length >= Math.min(stored.length, 50)
                           && JSON.stringify(shown) === JSON.stringify(tail);
                       }});"
                );
                browser
                    .until(
                        &format!("{}'s page to show the stored history exactly", browser.label),
                        &script,
                    )
                    .await;
                let ids = browser.message_ids().await;
                assert!(
                    ids.windows(2).all(|pair| pair[0] < pair[1]),
                    "[{}] ids once each, in order: {ids:?}",
                    browser.label
                );
                let texts = browser.chat_texts().await;
                let expected: Vec<String> = std::iter::once("before the reloads".to_owned())
                    .chain((1..=sent).map(|i| format!("burst {i}")))
                    .collect();
                assert!(
                    expected.ends_with(&texts) && texts.len() >= expected.len().min(40),
                    "[{}] chat messages: {texts:?}",
                    browser.label
                );
            }
            assert_eq!(alice.chat_texts().await.len(), sent as usize + 1);
            assert_eq!(bob.conn_state().await, "live");
        },
    )
    .await;
}

/// A 16x16 two-colour GIF.
fn tiny_gif() -> Vec<u8> {
    let palette = [0xff, 0xcc, 0x00, 0x33, 0x00, 0x99];
    let pixels: Vec<u8> = (0..16 * 16)
        .map(|i| ((i / 16 + i % 16) % 2) as u8)
        .collect();
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, 16, 16, &palette).expect("GIF header");
        let frame = gif::Frame {
            width: 16,
            height: 16,
            buffer: Cow::Owned(pixels),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).expect("GIF frame");
    }
    out
}
