//! Long-polling: the same events as SSE, cut into answers.

use std::time::{Duration, Instant};

use crate::helpers::TestApp;

#[tokio::test]
async fn a_first_poll_answers_at_once_with_members_and_a_cursor() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Poll", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let said = alice.say(id, "before").await;
    let started = Instant::now();
    let first = alice.get_json(&format!("/rooms/{id}/poll")).await.json();
    assert!(started.elapsed() < Duration::from_secs(2));
    let snapshot = &first["events"][0];
    assert_eq!(snapshot["type"], "members", "typed: {first}");
    assert_eq!(snapshot["count"], 1, "a members snapshot: {first}");
    assert!(snapshot.get("id").is_none());
    // Otherwise the members body, as GET /members answers it.
    let mut body = alice.get_json(&format!("/rooms/{id}/members")).await.json();
    body["type"] = "members".into();
    assert_eq!(*snapshot, body);
    assert!(first["last_event_id"].as_i64().unwrap() >= said["id"].as_i64().unwrap());
}

#[tokio::test]
async fn a_poll_returns_early_when_an_event_arrives() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let bob = app.client();
    let room = alice.create_room("Poll", 5, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let cursor = alice.say(&id, "start").await["id"].as_i64().unwrap();
    // Bob's first polls get him present, then let his join notice and
    // the members snapshot pass, until a poll waits its whole timeout: the
    // next wait is then for the message below.
    let mut cursor = cursor;
    for _ in 0..10 {
        let answer = bob
            .get_json(&format!("/rooms/{id}/poll?after={cursor}&timeout=1"))
            .await
            .json();
        cursor = answer["last_event_id"].as_i64().unwrap();
        if answer["events"] == serde_json::json!([]) {
            break;
        }
    }

    let waiting = {
        let (bob, id) = (bob.clone(), id.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = bob
                .get_json(&format!("/rooms/{id}/poll?after={cursor}&timeout=20"))
                .await;
            (answer.json(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let said = alice.say(&id, "wake up").await;
    let (answer, waited) = waiting.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "returned early ({waited:?})"
    );
    let chats: Vec<_> = answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "chat")
        .cloned()
        .collect();
    assert_eq!(chats, vec![said.clone()]);
    assert_eq!(answer["last_event_id"], said["id"]);
}

#[tokio::test]
async fn a_poll_is_empty_after_its_timeout() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Quiet", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let first = alice.get_json(&format!("/rooms/{id}/poll")).await.json();
    let mut cursor = first["last_event_id"].as_i64().unwrap();
    // This first poll's join notice and members snapshot follow shortly;
    // once they are through, the room is quiet.
    for _ in 0..5 {
        let started = Instant::now();
        let answer = alice
            .get_json(&format!("/rooms/{id}/poll?after={cursor}&timeout=1"))
            .await
            .json();
        let waited = started.elapsed();
        if answer["events"] == serde_json::json!([]) {
            assert_eq!(answer["last_event_id"], cursor, "after, when nothing came");
            assert!(
                waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
                "{waited:?}"
            );
            return;
        }
        cursor = answer["last_event_id"].as_i64().unwrap();
    }
    panic!("the quiet room never gave an empty answer");
}

#[tokio::test]
async fn polls_see_the_same_ids_as_streams() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Same", 5, None).await;
    let id = room["id"].as_str().unwrap();
    for i in 0..30 {
        alice.say(id, &format!("m{i}")).await;
    }
    let mut sse = alice
        .sse(&format!("/rooms/{id}/events?last_event_id=0"), None)
        .await;
    let streamed: Vec<i64> = sse
        .stored(30)
        .await
        .iter()
        .map(|e| e.id_number().unwrap())
        .collect();

    let mut polled = Vec::new();
    let mut after = 0;
    while polled.len() < 30 {
        let answer = alice
            .get_json(&format!("/rooms/{id}/poll?after={after}&timeout=2"))
            .await
            .json();
        for event in answer["events"].as_array().unwrap() {
            if let Some(id) = event["id"].as_i64() {
                polled.push(id);
            }
        }
        after = answer["last_event_id"].as_i64().unwrap();
    }
    assert_eq!(polled[..30], streamed[..]);
}

#[tokio::test]
async fn poll_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Params", 5, None).await;
    let id = room["id"].as_str().unwrap();
    alice
        .get_json(&format!("/rooms/{id}/poll?timeout=61"))
        .await
        .assert_error(422, "invalid");
    alice
        .get_json(&format!("/rooms/{id}/poll?after=x"))
        .await
        .assert_error(400, "bad_request");
    alice
        .get_json(&format!("/rooms/{id}/poll?timeout=-1"))
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn an_empty_number_is_no_number() {
    // Found by Schemathesis: `?timeout=` was read as "the default".
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Empty", 5, None).await;
    let id = room["id"].as_str().unwrap();
    for path in [
        "/poll?timeout=".to_owned(),
        format!("/rooms/{id}/poll?after="),
        format!("/rooms/{id}/poll?timeout=&after=0"),
    ] {
        alice.get_json(&path).await.assert_error(400, "bad_request");
    }
}

#[tokio::test]
async fn a_head_poll_checks_what_its_get_checks() {
    // The HEAD twins are documented with their GET's parameters and
    // statuses, so they check them too (they answered 200 to any query).
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Heads", 5, None).await;
    let id = room["id"].as_str().unwrap();
    let head = |path: String| alice.http.head(alice.url(&path)).send();
    for (path, status) in [
        (format!("/rooms/{id}/poll?timeout=61"), 422),
        (format!("/rooms/{id}/poll?after=-1"), 422),
        (format!("/rooms/{id}/poll?after=x"), 400),
        ("/poll?timeout=x".to_owned(), 400),
        ("/poll?timeout=61".to_owned(), 422),
        (format!("/rooms/{id}/poll?timeout=60&after=0"), 200),
        ("/poll?timeout=0".to_owned(), 200),
    ] {
        let answer = head(path.clone()).await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "HEAD {path}");
    }
}

#[tokio::test]
async fn the_lobby_poll_answers_when_the_lobby_changes() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let first = alice.get_json("/poll?timeout=5").await.json();
    assert_eq!(first["rooms"], serde_json::json!([]), "no version: at once");
    let version = first["version"].as_str().unwrap().to_owned();

    let waiting = {
        let (alice, version) = (alice.clone(), version.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = alice
                .get_json(&format!("/poll?version={version}&timeout=20"))
                .await;
            (answer.json(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.create_room("New", 5, None).await;
    let (answer, waited) = waiting.await.unwrap();
    assert!(waited < Duration::from_secs(5));
    assert_ne!(answer["version"], version.as_str());
    assert_eq!(answer["rooms"][0]["title"], "New");

    let unchanged = alice
        .get_json(&format!(
            "/poll?version={}&timeout=1",
            answer["version"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(unchanged["version"], answer["version"]);
    let stale = alice
        .get_json("/poll?version=from-another-boot&timeout=20")
        .await
        .json();
    assert_eq!(
        stale["rooms"][0]["title"], "New",
        "an unknown version answers at once"
    );
}

/// The stored ids in a poll answer (snapshots have none).
fn stored_ids(answer: &serde_json::Value) -> Vec<i64> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn recent_resumes_are_answered_from_memory_and_older_ones_from_the_database() {
    use crate::operations::sample;

    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Memory", 5, None).await;
    let id = room["id"].as_str().unwrap();
    // Said before anybody was present: only SQLite has it.
    let early = alice.say(id, "before anyone watched").await["id"]
        .as_i64()
        .unwrap();
    let _watching = alice.sse(&format!("/rooms/{id}/events"), None).await;
    let one = alice.say(id, "one").await["id"].as_i64().unwrap();
    let two = alice.say(id, "two").await["id"].as_i64().unwrap();

    let resumes = |source: &'static str| {
        let alice = alice.clone();
        async move {
            let metrics = alice.get_json("/metrics").await.text;
            sample(
                &metrics,
                &format!("gifchat_resumes_total{{source=\"{source}\"}}"),
            )
            .unwrap_or(0.0)
        }
    };
    let recent = alice
        .get_json(&format!("/rooms/{id}/poll?after={one}&timeout=0"))
        .await
        .json();
    let ids = stored_ids(&recent);
    assert!(ids.contains(&two) && !ids.contains(&one), "{recent}");
    assert_eq!(resumes("memory").await, 1.0);
    assert_eq!(resumes("database").await, 0.0);

    let older = alice
        .get_json(&format!("/rooms/{id}/poll?after={}&timeout=0", early - 1))
        .await
        .json();
    let ids = stored_ids(&older);
    assert!(
        [early, one, two].iter().all(|id| ids.contains(id)),
        "{older}"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    assert_eq!(resumes("database").await, 1.0);
}

#[tokio::test]
async fn a_poll_without_a_wait_still_answers_what_is_stored_after_its_cursor() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("No wait", 5, None).await;
    let id = room["id"].as_str().unwrap();
    // Stored while nobody was present: only the database has them.
    let first = alice.say(id, "one").await["id"].as_i64().unwrap();
    alice.say(id, "two").await;
    // The session's first poll answers at once with the members snapshot.
    alice
        .get_json(&format!("/rooms/{id}/poll?timeout=0"))
        .await
        .json();
    for attempt in 0..20 {
        let answer = alice
            .get_json(&format!("/rooms/{id}/poll?after={}&timeout=0", first - 1))
            .await
            .json();
        let ids = stored_ids(&answer);
        assert!(
            ids.contains(&first),
            "attempt {attempt}: stored events answered, not an empty wait: {answer}"
        );
    }
}
