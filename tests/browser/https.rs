//! The browser over HTTPS with HTTP/2, as `--tls-cert` serves it (a
//! self-signed certificate made here, which the browser is told to take):
//! two visitors chat live, the page came over HTTP/2, and the session
//! holds (its cookie, Secure over HTTPS, comes back).

use crate::{chat::two_in_a_room, harness::run_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_visitors_chat_live_over_https_and_http2() {
    let certs = tempfile::TempDir::new().unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    run_with(
        "two_visitors_chat_live_over_https_and_http2",
        |config| {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
        },
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            two_in_a_room(&alice, &bob, "Encrypted").await;
            for browser in [&alice, &bob] {
                let protocol = browser
                    .eval("return performance.getEntriesByType('navigation')[0].nextHopProtocol;")
                    .await;
                assert_eq!(protocol, "h2", "[{}] the page came over HTTP/2", browser.label);
                assert_eq!(browser.eval("return location.protocol;").await, "https:");
            }
            alice.say("over https").await;
            let id = bob.wait_chat("over https").await;
            bob.say("and back").await;
            assert!(alice.wait_chat("and back").await > id);
            assert_eq!(alice.conn_state().await, "live");
            assert_eq!(bob.conn_state().await, "live");
            // One visitor throughout: the cookie came back on every request,
            // so the page knows Bob's message as his own.
            let mine = bob
                .eval("return document.querySelector('#messages li.msg-chat.mine .text')?.textContent;")
                .await;
            assert_eq!(mine, "and back");
        },
    )
    .await;
}
