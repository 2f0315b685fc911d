//! The lobby stream: a snapshot first, then creations, updates, deletions.

use crate::helpers::TestApp;

#[tokio::test]
async fn the_lobby_stream_starts_with_the_room_list_then_follows_changes() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    alice.create_room("Existing", 5, None).await;
    let mut lobby = app.client().sse("/events", None).await;
    assert_eq!(lobby.headers["content-type"], "text/event-stream");
    let rooms = lobby.next_of("rooms").await.unwrap();
    assert_eq!(rooms.json()["rooms"][0]["title"], "Existing");
    assert!(rooms.id.is_none(), "lobby events carry no id");

    let created = alice.create_room("Fresh", 3, None).await;
    let event = lobby.next_of("room-created").await.unwrap();
    assert_eq!(event.json(), created);

    let id = created["id"].as_str().unwrap();
    let _inside = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let updated = lobby.next_of("room-updated").await.unwrap();
    assert_eq!(updated.json()["id"], id);
    assert_eq!(updated.json()["members"], 1);
}

#[tokio::test]
async fn the_lobby_page_lists_rooms_with_their_owner_and_counts() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    alice
        .post_json("/me", serde_json::json!({ "name": "Alice" }))
        .await;
    alice.create_room("Open room", 7, None).await;
    alice.create_room("Closed room", 4, Some("pw")).await;
    let page = app.client().get_html("/").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for needle in [
        "Open room",
        "Closed room",
        "public",
        "private",
        "0 / 7",
        "0 / 4",
        "Alice",
        "/rooms/new",
    ] {
        assert!(page.text.contains(needle), "lobby shows {needle}");
    }
}
