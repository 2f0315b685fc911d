//! The lobby keeps its rooms table live: a room created in one browser
//! appears in another's open lobby, and disappears when its owner deletes
//! it.

use serde_json::json;

use crate::harness::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_shows_rooms_created_and_deleted_elsewhere_live() {
    run(
        "the_lobby_shows_rooms_created_and_deleted_elsewhere_live",
        async |world| {
            let alice = world.browser("alice").await;
            let bob = world.browser("bob").await;
            bob.goto("/").await;
            bob.until(
                "the empty lobby",
                "return document.querySelector('#rooms tbody').rows.length === 0
                   && !document.querySelector('#no-rooms').hidden;",
            )
            .await;

            // Bob's lobby is never reloaded from here on.
            let room = alice.create_room("Seen from the lobby", None).await;
            let row = format!(
                "const tr = document.querySelector('#rooms tbody tr[data-room=\"{room}\"]');
                 return tr && {{
                   title: tr.querySelector('.title').textContent,
                   type: tr.querySelector('.type').textContent,
                   count: tr.querySelector('.count').textContent,
                 }};"
            );
            let shown = bob.until("the new room's row", &row).await;
            assert_eq!(shown["title"], "Seen from the lobby");
            assert_eq!(shown["type"], "public");
            bob.until(
                "the row to count Alice as present",
                &format!(
                    "const tr = document.querySelector('#rooms tbody tr[data-room=\"{room}\"]');
                     return tr && tr.querySelector('.count').textContent === '1 / 10';"
                ),
            )
            .await;
            let href = bob
                .eval(&format!(
                    "return document.querySelector('#rooms tr[data-room=\"{room}\"] a').getAttribute('href');"
                ))
                .await;
            assert_eq!(href, json!(format!("/rooms/{room}")));

            // The owner deletes it from her page (her cookie, same origin).
            alice.wait_state("live").await;
            let (status, _) = alice.fetch_json("DELETE", &format!("/rooms/{room}")).await;
            assert_eq!(status, 204, "the owner may delete her room");
            bob.until(
                "the deleted room's row to go",
                &format!(
                    "return !document.querySelector('#rooms tr[data-room=\"{room}\"]')
                       && !document.querySelector('#no-rooms').hidden;"
                ),
            )
            .await;
            // And the owner's own chat page says so.
            let notice = alice
                .until(
                    "the room-deleted notice on Alice's page",
                    "const n = document.querySelector('#room-notice');
                     return n && !n.hidden && n.textContent;",
                )
                .await;
            assert!(
                notice.as_str().unwrap_or("").contains("deleted"),
                "notice: {notice}"
            );
        },
    )
    .await;
}
