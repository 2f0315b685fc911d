//! Abuse limits: cross-site refusal, post rate, body size, streams per
//! address.

use serde_json::json;

use crate::helpers::{Client, TestApp};

#[tokio::test]
async fn cross_site_posts_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let room = client.create_room("Guarded", 5, None).await;
    let id = room["id"].as_str().unwrap();

    let forged_form = client
        .http
        .post(client.url("/rooms"))
        .header("accept", "text/html")
        .header("origin", "https://evil.example")
        .form(&[("title", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged_form.status().as_u16(), 403, "HTML forms included");
    let forged_json = client
        .http
        .post(client.url(&format!("/rooms/{id}/messages")))
        .header("accept", "application/json")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "chat": "forged" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_json.status().as_u16(), 403);
    let body: serde_json::Value = forged_json.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");

    let rooms = client.get_json("/rooms").await.json();
    assert_eq!(
        rooms["rooms"].as_array().unwrap().len(),
        1,
        "no forged room"
    );
    let history = client
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    assert_eq!(history["events"], json!([]), "no forged message");

    let same_origin = client
        .http
        .post(client.url(&format!("/rooms/{id}/messages")))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.url(""))
        .json(&json!({ "chat": "legit" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status().as_u16(), 201);
}

#[tokio::test]
async fn too_many_posts_from_one_session_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.post_rate = 0.5;
        c.post_burst = 3;
    })
    .await;
    let client = app.client();
    client.me().await; // the session has its user before the first post
    let room = client.create_room("Slow", 5, None).await;
    let id = room["id"].as_str().unwrap();
    client.say(id, "one").await;
    client.say(id, "two").await;
    let limited = client
        .post_json(&format!("/rooms/{id}/messages"), json!({ "chat": "three" }))
        .await;
    limited.assert_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let history = client
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    assert_eq!(history["events"].as_array().unwrap().len(), 2);
    // Reading is never limited.
    assert_eq!(client.get_json("/rooms").await.status.as_u16(), 200);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let room = client.create_room("Big", 5, None).await;
    let id = room["id"].as_str().unwrap();
    client
        .post_json(
            &format!("/rooms/{id}/messages"),
            json!({ "chat": "x".repeat(200_000) }),
        )
        .await
        .assert_error(413, "too_large");
}

#[tokio::test]
async fn one_address_cannot_hold_too_many_streams() {
    let app = TestApp::spawn_with(|c| c.max_streams_per_addr = 2).await;
    let client = app.client();
    let room = client.create_room("Streams", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let first = client.sse(&format!("/rooms/{id}/events"), None).await;
    let _second = client.sse("/events", None).await;
    client
        .get_json(&format!("/rooms/{id}/events"))
        .await
        .assert_error(429, "rate_limited");
    drop(first);
    let again = crate::helpers::eventually(std::time::Duration::from_secs(3), || async {
        client
            .try_sse(&format!("/rooms/{id}/events"), None)
            .await
            .is_some()
    })
    .await;
    assert!(again, "a closed stream frees its slot");
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    use tokio::io::AsyncReadExt;
    let app =
        TestApp::spawn_with(|c| c.header_timeout = std::time::Duration::from_millis(500)).await;
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        silent.read_to_end(&mut buffer),
    )
    .await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_connection_that_sent_nothing() {
    let mut app =
        TestApp::spawn_with(|c| c.header_timeout = std::time::Duration::from_secs(30)).await;
    let _silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_request_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app =
        TestApp::spawn_with(|c| c.header_timeout = std::time::Duration::from_millis(500)).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /rooms HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buffer),
    )
    .await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // Meanwhile everyone else is served.
    assert_eq!(app.client().get_json("/rooms").await.status.as_u16(), 200);
}

#[tokio::test]
async fn every_error_has_the_json_shape_also_from_the_router_and_extractors() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let room = client.create_room("Shapes", 5, None).await;
    let id = room["id"].as_str().unwrap();
    // Malformed percent-encoding in a query or a path: the extractors
    // refuse these before any handler runs.
    for path in [
        format!("/rooms/{id}/poll?after=%FF%FE"),
        format!("/rooms/{id}/messages?before=%FF"),
        format!("/rooms/{id}/events?last_event_id=%C3%28"),
        "/rooms/%FF%FE".to_owned(),
    ] {
        let answer = client.get_json(&path).await;
        answer.assert_error(400, "bad_request");
        assert!(
            answer.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    let wrong_method = Client::answer(client.http.put(client.url("/rooms"))).await;
    wrong_method.assert_error(405, "method_not_allowed");
    assert!(wrong_method.headers.contains_key("allow"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    // An operator's folder made with the usual umask: readable by all.
    let app = TestApp::spawn_with(|c| {
        std::fs::create_dir_all(&c.data_dir).unwrap();
        std::fs::set_permissions(&c.data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    })
    .await;
    let client = app.client();
    let room = client.create_room("Private files", 5, None).await;
    client.say(room["id"].as_str().unwrap(), "in the WAL").await;
    let mode = |name: &str| {
        let path = app.config.data_dir.join(name);
        std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    assert_eq!(mode("cookie_secret"), 0o600, "cookie_secret");
    // The database's files, when it is SQLite in the data directory; a
    // PostgreSQL server keeps its own, and none is left here.
    for file in [
        "gifchat.sqlite3",
        "gifchat.sqlite3-wal",
        "gifchat.sqlite3-shm",
    ] {
        if crate::backend::POSTGRES {
            assert!(!app.config.data_dir.join(file).exists(), "{file}");
        } else {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
}

#[tokio::test]
async fn invisible_messages_and_names_that_reorder_text_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for name in ["\u{202E}nimda", "bob\u{2067}", "\u{200B}\u{200B}"] {
        client
            .post_json("/me", json!({ "name": name }))
            .await
            .assert_error(422, "invalid");
    }
    assert!(client.me().await.get("name").is_none(), "no name was set");
    client
        .post_json("/rooms", json!({ "title": "Cats \u{202E}god" }))
        .await
        .assert_error(422, "invalid");
    let room = client.create_room("Visible", 5, None).await;
    let id = room["id"].as_str().unwrap();
    for chat in ["\u{200B}", "\u{200D}\u{FEFF}\u{2060}", " \u{3164} "] {
        client
            .post_json(&format!("/rooms/{id}/messages"), json!({ "chat": chat }))
            .await
            .assert_error(422, "invalid");
    }
    let history = client
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    assert_eq!(history["events"], json!([]), "nothing stored");
    // Right-to-left text itself is welcome.
    let named = client.post_json("/me", json!({ "name": "دانا" })).await;
    assert_eq!(named.status.as_u16(), 200, "{}", named.text);
}

#[tokio::test]
async fn pages_allow_scripts_from_this_server_only_and_no_framing() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let room = client.create_room("Framed", 5, None).await;
    for path in [
        "/".to_owned(),
        format!("/rooms/{}", room["id"].as_str().unwrap()),
    ] {
        let page = client.get_html(&path).await;
        assert_eq!(page.status.as_u16(), 200);
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-eval"), "{policy}");
        assert!(
            !policy
                .split(';')
                .find(|d| d.trim().starts_with("script-src"))
                .unwrap()
                .contains("unsafe-inline"),
            "{policy}"
        );
        assert_eq!(page.headers["referrer-policy"], "same-origin");
        // Nothing inline for the policy to block.
        assert!(!page.text.contains("<script>"), "{path}");
        assert!(!page.text.contains(" onclick="), "{path}");
    }
}
