//! Identity: a stable user per session, its color, its display name.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_session_keeps_one_user_with_a_color_derived_from_it() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let me = alice.me().await;
    let id = me["id"].as_str().unwrap();
    assert!((8..=32).contains(&id.len()));
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    let color = me["color"].as_str().unwrap();
    assert!(color.len() == 7 && color.starts_with('#'));
    assert!(
        color[1..]
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    );
    assert_eq!(alice.me().await, me, "stable across requests");
    assert_ne!(
        app.client().me().await["id"],
        me["id"],
        "another visitor, another user"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    let answer = app.client().get_json("/me").await;
    let cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP by default: {cookie}"
    );
    let me = answer.json();
    assert!(
        !cookie.contains(me["id"].as_str().unwrap()),
        "the user id is not the session id"
    );
}

#[tokio::test]
async fn identity_survives_a_restart_with_the_same_cookie() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    // A browser comes back with its cookie at once (its page opens a
    // stream): that is when its session is stored.
    let before = alice.me().await;
    assert_eq!(alice.me().await, before);
    let app = app.restart().await;
    let after = alice.me().await;
    assert_eq!(before, after);
    drop(app);
}

#[tokio::test]
async fn a_display_name_is_shown_from_then_on() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let named = alice.post_json("/me", json!({ "name": "  Alice  " })).await;
    assert_eq!(named.status.as_u16(), 200, "{}", named.text);
    assert_eq!(named.json()["name"], "Alice");
    let me = alice.me().await;
    assert_eq!(me["name"], "Alice");
    let room = alice.create_room("Named", 3, None).await;
    assert_eq!(room["owner"]["name"], "Alice");
    let said = alice.say(room["id"].as_str().unwrap(), "hi").await;
    assert_eq!(said["user"]["name"], "Alice");
    assert_eq!(said["user"]["color"], me["color"], "the color stays");
}

#[tokio::test]
async fn names_are_bounded_and_escaped() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    alice
        .post_json("/me", json!({ "name": "" }))
        .await
        .assert_error(422, "invalid");
    alice
        .post_json("/me", json!({ "name": "n".repeat(33) }))
        .await
        .assert_error(422, "invalid");
    assert!(alice.me().await.get("name").is_none(), "nothing changed");

    alice
        .post_json("/me", json!({ "name": "<img src=x onerror=alert(1)>" }))
        .await;
    let room = alice.create_room("Escapes", 3, None).await;
    let id = room["id"].as_str().unwrap();
    alice.say(id, "hello").await;
    for path in ["/".to_owned(), format!("/rooms/{id}")] {
        let page = alice.get_html(&path).await;
        assert!(!page.text.contains("<img src=x"), "raw name in {path}");
        assert!(
            page.text.contains("&lt;img src=x"),
            "escaped name in {path}"
        );
    }
}
