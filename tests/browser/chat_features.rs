//! What people expect of a chat, in Chromium, each change seen live by a
//! second browser: reactions, edits, deletes, replies, the typing line,
//! mentions with a notification, the lobby's unread badge, search.

use crate::{
    chat::two_in_a_room,
    harness::{Browser, run},
};

/// The row of the message with exactly `text`, as a CSS selector.
async fn row_of(browser: &Browser, text: &str) -> String {
    format!(
        "#messages li[data-id=\"{}\"]",
        browser.wait_chat(text).await
    )
}

/// Accepts the next `confirm()` the page asks.
async fn agree(browser: &Browser) {
    browser.eval("window.confirm = () => true;").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_edits_deletes_and_replies_show_live_in_the_other_browser() {
    run(
        "reactions_edits_deletes_and_replies_show_live_in_the_other_browser",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            two_in_a_room(&alice, &bob, "Changes").await;
            alice.say("helo world").await;
            let row = row_of(&bob, "helo world").await;

            // Bob reacts from the picker; Alice sees it, and adds hers.
            bob.click(&format!("{row} .act-react")).await;
            bob.click("#reaction-picker .pick[data-reaction=\"🎉\"]").await;
            let count = format!(
                "return document.querySelector('{row} .reaction[data-reaction=\"🎉\"] .count')?.textContent;"
            );
            alice.until_equal("Bob's reaction", &count, "1").await;
            alice.click(&format!("{row} .reaction[data-reaction=\"🎉\"]")).await;
            bob.until_equal("two reactions", &count, "2").await;
            let pressed = format!(
                "return document.querySelector('{row} .reaction[data-reaction=\"🎉\"]').getAttribute('aria-pressed');"
            );
            assert_eq!(alice.eval(&pressed).await, "true", "hers is pressed for her");
            assert_eq!(bob.eval(&pressed).await, "true", "and his for him");

            // Alice fixes her typo.
            alice.click(&format!("{row} .act-edit")).await;
            alice
                .until("the text to edit", "return document.querySelector('#chat-input').value === 'helo world';")
                .await;
            alice.eval("document.querySelector('#chat-input').value = '';").await;
            alice.say("hello world").await;
            let edited = format!(
                "const li = document.querySelector('{row}');
                 return li.querySelector('.text').textContent === 'hello world'
                   && !!li.querySelector('.edited-mark');"
            );
            bob.until("the edit, marked", &edited).await;
            assert_eq!(
                bob.chat_texts().await,
                ["hello world"],
                "the edit changed the message; it added none"
            );

            // Bob replies to it; Alice sees the quote.
            bob.click(&format!("{row} .act-reply")).await;
            bob.say("nice").await;
            let quote = "const li = [...document.querySelectorAll('#messages li.msg-chat')]
                   .find((li) => li.querySelector(':scope > .text')?.textContent === 'nice');
                 return li?.querySelector('.reply .reply-text')?.textContent;";
            alice.until_equal("the quote of her message", quote, "hello world").await;

            // Alice deletes hers: a tombstone for both, and the quote says so.
            agree(&alice).await;
            alice.click(&format!("{row} .act-delete")).await;
            let gone = format!(
                "const li = document.querySelector('{row}');
                 return li.classList.contains('deleted') && !li.querySelector('.text')
                   && !!li.querySelector('.tombstone');"
            );
            bob.until("the tombstone", &gone).await;
            bob.until_equal("the quote to say it is gone", quote, "deleted message")
                .await;
            let words = "return document.querySelector('#messages').textContent.includes('hello world');";
            assert_eq!(bob.eval(words).await, false, "its words are gone from Bob's page");
            bob.reload().await;
            bob.wait_state("live").await;
            assert_eq!(bob.eval(words).await, false, "and from the page served anew");
            bob.until("the tombstone after a reload", &gone).await;
        },
    )
    .await;
}

/// Records notifications and lets the test hide the page.
const NOTIFICATIONS: &str = "
    window.notified = [];
    window.Notification = class {
        constructor(title, options) { window.notified.push({ title, body: options && options.body }); }
        static get permission() { return 'granted'; }
        static requestPermission() { return Promise.resolve('granted'); }
    };
    let hidden = false;
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    window.hidePage = (now) => { hidden = now; document.dispatchEvent(new Event('visibilitychange')); };
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_and_a_mention_reach_the_other_browser_with_a_notification() {
    run(
        "typing_and_a_mention_reach_the_other_browser_with_a_notification",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            bob.on_every_page(NOTIFICATIONS).await;
            alice.goto("/").await;
            alice.set_name("alice").await;
            bob.goto("/").await;
            bob.set_name("bobby").await;
            two_in_a_room(&alice, &bob, "Mentions").await;
            alice
                .until("Bob among the members", "return document.querySelector('#members').textContent.includes('bobby');")
                .await;

            // Typing "@bo": Bob sees Alice typing; Alice picks him.
            alice.type_into("#chat-input", "@bo").await;
            bob.until_equal(
                "the typing line",
                "return document.querySelector('#typing').textContent;",
                "alice is typing…",
            )
            .await;
            alice
                .until("the mention list", "const list = document.querySelector('#mention-list');
                       return !list.hidden && list.textContent.includes('bobby');")
                .await;
            alice.click("#mention-list li").await;
            bob.eval("window.hidePage(true);").await;
            alice.type_into("#chat-input", "look at this").await;
            alice
                .find("#chat-input")
                .await
                .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
                .await
                .unwrap();
            let id = bob.wait_chat("@bobby look at this").await;

            let notified = bob
                .until("a notification", "return window.notified.length ? window.notified : null;")
                .await;
            assert_eq!(notified[0]["title"], "alice mentioned you");
            assert_eq!(notified[0]["body"], "@bobby look at this");
            let marked = format!(
                "return document.querySelector('#messages li[data-id=\"{id}\"]').classList.contains('mentions-me');"
            );
            assert_eq!(bob.eval(&marked).await, true, "highlighted for Bob");
            assert_eq!(alice.eval(&marked).await, false, "not for Alice");
            let title = bob.eval("return document.title;").await;
            assert!(title.as_str().unwrap().starts_with("(1) "), "{title}");
            bob.eval("window.hidePage(false);").await;
            let title = bob.eval("return document.title;").await;
            assert!(!title.as_str().unwrap().starts_with('('), "seen: {title}");
            bob.until_equal(
                "the typing line to clear with her message",
                "return document.querySelector('#typing').textContent;",
                "",
            )
            .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_counts_unread_messages_live_and_search_jumps_to_one() {
    run(
        "the_lobby_counts_unread_messages_live_and_search_jumps_to_one",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            let room = alice.create_room("Unread", None).await;
            alice.wait_state("live").await;
            bob.goto("/").await;
            let badge = format!(
                "return document.querySelector('#rooms tr[data-room=\"{room}\"] .unread')?.firstChild?.textContent ?? '';"
            );
            bob.until_equal("no badge yet", &badge, "").await;
            alice.say("a black cat").await;
            bob.until_equal("one unread", &badge, "1").await;
            alice.say("a white dog").await;
            bob.until_equal("two unread", &badge, "2").await;

            // Bob reads the room; back in the lobby, nothing is unread.
            bob.click(&format!("#rooms tr[data-room=\"{room}\"] .title a")).await;
            bob.wait_state("live").await;
            bob.wait_chat("a white dog").await;

            // Search finds the cat, and jumps to it.
            bob.type_into("#search-input", "cat").await;
            bob.click("#search-form button[type=submit]").await;
            bob.until_equal(
                "one result",
                "return document.querySelectorAll('#search-list > li').length;",
                1,
            )
            .await;
            let found = bob
                .eval("return document.querySelector('#search-list').textContent.includes('a black cat');")
                .await;
            assert_eq!(found, true);
            bob.click("#search-list a.jump").await;
            let cat = bob.wait_chat("a black cat").await;
            bob.until(
                "the message jumped to, highlighted, the results closed",
                &format!(
                    "return document.querySelector('#messages li[data-id=\"{cat}\"]').classList.contains('jumped')
                       && document.querySelector('#search-results').hidden;"
                ),
            )
            .await;

            bob.goto("/").await;
            bob.until_equal("the room read", &badge, "").await;
            alice.say("one more").await;
            bob.until_equal("news again", &badge, "1").await;
        },
    )
    .await;
}
