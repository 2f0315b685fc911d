//! A private room asks a newcomer for its password: a wrong one is refused
//! with a message, the right one opens the chat.

use crate::harness::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_room_lets_in_only_with_the_right_password() {
    run(
        "a_private_room_lets_in_only_with_the_right_password",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            let room = alice.create_room("Secret", Some("open sesame")).await;
            alice.wait_state("live").await;

            // Bob gets the password form, and no messages.
            bob.goto(&format!("/rooms/{room}")).await;
            bob.find(r#"form[action$="/join"] input#password"#).await;
            let chat = bob.eval("return !!document.querySelector('#messages');").await;
            assert_eq!(chat, false, "no messages before the password");

            bob.type_into(r#"form[action$="/join"] input#password"#, "let me in")
                .await;
            bob.click(r#"form[action$="/join"] button[type=submit]"#)
                .await;
            // Argon2 is slow in a debug build: give the check some time.
            let flash = bob
                .until_within(
                    std::time::Duration::from_secs(20),
                    "the wrong-password message",
                    "const flash = document.querySelector('.flash');
                     return flash && document.querySelector('form[action$=\"/join\"]') && flash.textContent;",
                )
                .await;
            let flash = flash.as_str().unwrap_or("").to_lowercase();
            assert!(flash.contains("password"), "flash message: {flash:?}");
            assert_eq!(
                bob.eval("return !!document.querySelector('#messages');").await,
                false,
                "still no messages after a wrong password"
            );

            bob.type_into(r#"form[action$="/join"] input#password"#, "open sesame")
                .await;
            bob.click(r#"form[action$="/join"] button[type=submit]"#)
                .await;
            bob.find("section#room").await;
            bob.wait_state("live").await;
            bob.say("thanks for the password").await;
            alice.wait_chat("thanks for the password").await;
            alice.say("welcome").await;
            bob.wait_chat("welcome").await;
        },
    )
    .await;
}
