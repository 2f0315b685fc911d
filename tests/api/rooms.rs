//! Creating, listing and opening rooms; validation and the error shape.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_room_created_with_json_is_201_and_listed_everywhere() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Cats", 5, None).await;

    assert!(room["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(room["title"], "Cats");
    assert_eq!(room["max"], 5);
    assert_eq!(room["private"], false);
    assert_eq!(room["owner"], alice.me().await);
    assert_eq!(room["members"], 0);
    assert!(room["created_at"].as_str().unwrap().contains('T'));

    let listed = alice.get_json("/rooms").await.json();
    assert_eq!(listed["rooms"][0]["id"], room["id"]);
    let lobby = app.client().get_json("/").await.json();
    assert_eq!(lobby["rooms"][0]["title"], "Cats");
}

#[tokio::test]
async fn a_room_created_with_a_form_redirects_to_it_with_303() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let answer = alice
        .post_form(
            "/rooms",
            &[("title", "Dogs"), ("max", "4"), ("password", "")],
        )
        .await;
    assert_eq!(answer.status.as_u16(), 303);
    let location = answer.location().unwrap().to_owned();
    assert!(location.starts_with("/rooms/"), "{location}");

    let page = alice.get_html(&location).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("Dogs"));
    let rooms = alice.get_json("/rooms").await.json();
    assert_eq!(rooms["rooms"][0]["max"], 4);
}

#[tokio::test]
async fn max_defaults_to_ten() {
    let app = TestApp::spawn().await;
    let answer = app
        .client()
        .post_json("/rooms", json!({ "title": "Default" }))
        .await;
    assert_eq!(answer.status.as_u16(), 201);
    assert_eq!(answer.json()["max"], 10);
}

#[tokio::test]
async fn invalid_rooms_are_refused_with_422_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let cases = [
        json!({ "title": "" }),
        json!({ "title": "    " }),
        json!({ "title": "x".repeat(101) }),
        json!({ "title": "ok", "max": 1 }),
        json!({ "title": "ok", "max": 10001 }),
        json!({ "title": "ok", "max": -3 }),
        json!({ "title": "ok", "max": "many" }),
    ];
    for body in cases {
        client
            .post_json("/rooms", body)
            .await
            .assert_error(422, "invalid");
    }
    let rooms = client.get_json("/rooms").await.json();
    assert_eq!(rooms["rooms"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_capacity_is_a_whole_number_however_it_is_written() {
    // Found by Schemathesis: JSON Schema's integers include `12.0`, which
    // was refused as unparsable (400); and `2.5` was a 400 as JSON but a
    // 422 as text.
    let app = TestApp::spawn().await;
    let client = app.client();
    for (max, expected) in [(json!(12.0), 12), (json!(12), 12), (json!("12"), 12)] {
        let answer = client
            .post_json("/rooms", json!({ "title": "Cats", "max": max }))
            .await;
        assert_eq!(answer.status.as_u16(), 201, "{max}: {}", answer.text);
        assert_eq!(answer.json()["max"], expected, "{max}");
    }
    for max in [
        json!(2.5),
        json!("2.5"),
        json!(1e300),
        json!(18446744073709551615u64),
    ] {
        client
            .post_json("/rooms", json!({ "title": "Cats", "max": max }))
            .await
            .assert_error(422, "invalid");
    }
    // Absent is the default; `null` is no number (it was taken for absent).
    client
        .post_json("/rooms", json!({ "title": "Cats", "max": null }))
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn titles_count_characters_not_bytes_and_are_stored_trimmed() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let hundred = "é".repeat(100);
    let room = client.create_room(&format!("  {hundred}  "), 2, None).await;
    assert_eq!(room["title"], hundred.as_str());
    client
        .post_json("/rooms", json!({ "title": "é".repeat(101) }))
        .await
        .assert_error(422, "invalid");
}

#[tokio::test]
async fn bodies_that_do_not_parse_are_400() {
    let app = TestApp::spawn().await;
    let client = app.client();
    client
        .post_raw("/rooms", "application/json", "{\"title\": ")
        .await
        .assert_error(400, "bad_request");
    client
        .post_raw("/rooms", "application/json", "[1, 2]")
        .await
        .assert_error(400, "bad_request");
    client
        .post_raw(
            "/rooms",
            "application/x-www-form-urlencoded",
            "title=a&title=b",
        )
        .await
        .assert_error(400, "bad_request");
    let rooms = client.get_json("/rooms").await.json();
    assert_eq!(rooms["rooms"], json!([]));
}

#[tokio::test]
async fn fields_a_body_does_not_have_are_refused() {
    // Found by Schemathesis: a join took any form (`AAA`, a field named
    // "AAA") for one without a password. Every form or JSON body now says
    // which fields it has, and a field it has not (a misspelt `pasword`)
    // is a 400 rather than silently nothing.
    let app = TestApp::spawn().await;
    let client = app.client();
    client
        .post_json("/rooms", json!({ "title": "Cats", "colour": "red" }))
        .await
        .assert_error(400, "bad_request");
    let room = client.create_room("Cats", 5, Some("secret")).await;
    let join = format!("/rooms/{}/join", room["id"].as_str().unwrap());
    let guest = app.client();
    guest
        .post_raw(&join, "application/x-www-form-urlencoded", "AAA")
        .await
        .assert_error(400, "bad_request");
    guest
        .post_json(&join, json!({ "pasword": "secret" }))
        .await
        .assert_error(400, "bad_request");
    for path in [
        "/me",
        "/rooms/x/messages",
        "/rooms/x/whispers",
        "/rooms/x/kick",
    ] {
        client
            .post_json(path, json!({ "extra": 1 }))
            .await
            .assert_error(400, "bad_request");
    }
}

#[tokio::test]
async fn a_join_may_have_no_body_or_a_null_one() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Open", 5, None).await;
    let join = format!("/rooms/{}/join", room["id"].as_str().unwrap());
    let guest = app.client();
    let answer = guest.post_raw(&join, "application/json", "null").await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    let answer = guest
        .post_raw(&join, "application/x-www-form-urlencoded", "")
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
}

#[tokio::test]
async fn a_form_error_comes_back_as_a_flash_message_on_the_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let answer = client.post_form("/rooms", &[("title", "")]).await;
    assert_eq!(answer.status.as_u16(), 303);
    assert_eq!(answer.location(), Some("/rooms/new"));
    let page = client.get_html("/rooms/new").await;
    assert!(
        page.text.contains("title must not be empty"),
        "{}",
        page.text
    );
    let again = client.get_html("/rooms/new").await;
    assert!(
        !again.text.contains("title must not be empty"),
        "shown once"
    );
}

#[tokio::test]
async fn unknown_rooms_are_404_on_every_route() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for path in [
        "/rooms/nope",
        "/rooms/nope/members",
        "/rooms/nope/messages",
        "/rooms/nope/events",
        "/rooms/nope/poll?timeout=0",
    ] {
        client.get_json(path).await.assert_error(404, "not_found");
    }
    client
        .post_json("/rooms/nope/messages", json!({ "chat": "hi" }))
        .await
        .assert_error(404, "not_found");
    let page = client.get_html("/rooms/nope").await;
    assert_eq!(page.status.as_u16(), 404);
    assert!(page.text.contains("<html"), "browsers get a page");
}

#[tokio::test]
async fn user_given_titles_are_escaped_in_html() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let evil = "<script>alert('x')</script>";
    let room = client.create_room(evil, 3, None).await;
    let id = room["id"].as_str().unwrap();
    for path in ["/".to_owned(), format!("/rooms/{id}")] {
        let page = client.get_html(&path).await;
        assert_eq!(page.status.as_u16(), 200);
        assert!(!page.text.contains(evil), "raw title in {path}");
        assert!(
            page.text.contains("&lt;script&gt;"),
            "escaped title in {path}"
        );
    }
}

#[tokio::test]
async fn the_room_page_shows_the_latest_fifty_messages_escaped() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let room = client.create_room("Busy", 10, None).await;
    let id = room["id"].as_str().unwrap();
    for i in 0..55 {
        client.say(id, &format!("message <b>{i}</b>")).await;
    }
    let page = client.get_html(&format!("/rooms/{id}")).await;
    assert!(page.text.contains("message &lt;b&gt;54&lt;/b&gt;"));
    assert!(page.text.contains("message &lt;b&gt;5&lt;/b&gt;"));
    assert!(
        !page.text.contains("message &lt;b&gt;4&lt;/b&gt;"),
        "only the latest 50"
    );
    assert!(!page.text.contains("<b>"));

    let json = client.get_json(&format!("/rooms/{id}")).await.json();
    assert_eq!(json["events"].as_array().unwrap().len(), 50);
    assert_eq!(json["has_more"], true);
}
