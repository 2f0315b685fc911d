//! Room passwords under attack: wrong guesses are throttled per address
//! and per room, hashing is bounded in memory, and a password that admits
//! gets the session a new id.

use serde_json::json;

use crate::helpers::{Answer, Binary, Client, Installation, TestApp};

/// A guess at `room`'s password from `addr` (the server trusts the test's
/// `X-Forwarded-For`).
async fn guess(client: &Client, room: &str, addr: &str, password: &str) -> Answer {
    Client::answer(
        client
            .http
            .post(client.url(&format!("/rooms/{room}/join")))
            .header("accept", "application/json")
            .header("x-forwarded-for", addr)
            .json(&json!({ "password": password })),
    )
    .await
}

async fn private_room(app: &TestApp) -> String {
    let room = app
        .client()
        .create_room("Vault", 10, Some("opensesame"))
        .await;
    room["id"].as_str().unwrap().to_owned()
}

fn trusting_tests(c: &mut gifchat::Config, guesses: u32) {
    c.password_guesses = guesses;
    c.trust_proxy = vec!["127.0.0.1/32".parse().unwrap()];
}

#[tokio::test]
async fn wrong_guesses_from_one_address_are_throttled_even_the_right_one() {
    let app = TestApp::spawn_with(|c| trusting_tests(c, 3)).await;
    let room = private_room(&app).await;
    let attacker = app.client();
    for _ in 0..3 {
        guess(&attacker, &room, "198.51.100.1", "guess")
            .await
            .assert_error(403, "wrong_password");
    }
    let throttled = guess(&attacker, &room, "198.51.100.1", "opensesame").await;
    throttled.assert_error(429, "rate_limited");
    let retry: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&retry),
        "a minute's guesses refill: {retry}"
    );

    // Someone else, elsewhere, is not held back by the attacker.
    let member = app.client();
    let joined = guess(&member, &room, "203.0.113.9", "opensesame").await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
}

#[tokio::test]
async fn a_room_guessed_at_from_many_addresses_is_throttled_as_a_whole() {
    let app = TestApp::spawn_with(|c| trusting_tests(c, 2)).await;
    let room = private_room(&app).await;
    let attacker = app.client();
    // Each address stays under its own limit; the room takes four times
    // that from everyone together.
    for n in 0..8 {
        guess(&attacker, &room, &format!("198.51.100.{n}"), "guess")
            .await
            .assert_error(403, "wrong_password");
    }
    guess(&attacker, &room, "198.51.100.200", "guess")
        .await
        .assert_error(429, "rate_limited");
    // Another room is not affected.
    let other = private_room(&app).await;
    guess(&attacker, &other, "198.51.100.200", "guess")
        .await
        .assert_error(403, "wrong_password");
}

#[tokio::test]
async fn a_password_that_admits_gives_the_session_a_new_id() {
    let app = TestApp::spawn().await;
    let room = private_room(&app).await;
    // Cookies by hand, to see the session id change.
    let http = reqwest::Client::new();
    let session_cookie = |response: &reqwest::Response| -> String {
        let value = response.headers()["set-cookie"].to_str().unwrap();
        value.split(';').next().unwrap().to_owned()
    };
    let me = |cookie: String| {
        let request = http.get(app.url("/me")).header("cookie", cookie);
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["id"].as_str().unwrap().to_owned()
        }
    };

    let first = http.get(app.url("/me")).send().await.unwrap();
    let before = session_cookie(&first);
    let user: serde_json::Value = first.json().await.unwrap();
    let joined = http
        .post(app.url(&format!("/rooms/{room}/join")))
        .header("cookie", &before)
        .header("accept", "application/json")
        .json(&json!({ "password": "opensesame" }))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status().as_u16(), 200);
    let after = session_cookie(&joined);
    assert_ne!(after, before, "a new session id");
    assert_eq!(me(after).await, user["id"], "the same user under it");
    assert_ne!(
        me(before).await,
        user["id"],
        "the id from before the admission is worth nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_parallel_guesses_stay_within_the_memory_bound() {
    let installation = Installation::new().await;
    let server = Binary::start(
        &installation,
        &["--password-guesses", "0", "--post-rate", "0"],
    )
    .await;
    let owner = Client::new(&server.base);
    let room = owner.create_room("Vault", 10, Some("opensesame")).await;
    let room = room["id"].as_str().unwrap().to_owned();
    let before = server.memory_kib("VmHWM");

    let guesses: Vec<_> = (0..100)
        .map(|_| {
            let client = Client::new(&server.base);
            let room = room.clone();
            tokio::spawn(async move {
                client
                    .post_json(&format!("/rooms/{room}/join"), json!({ "password": "no" }))
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        let answer = guess.await.unwrap();
        match answer.status.as_u16() {
            403 => answer.assert_error(403, "wrong_password"),
            503 => {
                answer.assert_error(503, "unavailable");
                assert!(answer.headers.contains_key("retry-after"));
            }
            other => panic!("a guess answered {other}: {}", answer.text),
        }
        statuses.push(answer.status.as_u16());
    }
    let checked = statuses.iter().filter(|s| **s == 403).count();
    assert!(checked >= 50, "most guesses were checked: {checked}");

    // One Argon2 memory area (19 MiB) per core, and some slack for the
    // hundred connections and requests.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let bound = cores * 19 * 1024 + 32 * 1024;
    let grown = server.memory_kib("VmHWM").saturating_sub(before);
    println!(
        "100 parallel guesses: peak resident memory grew by {} MiB (bound {} MiB, {cores} cores), {checked} checked",
        grown / 1024,
        bound / 1024
    );
    assert!(
        grown <= bound,
        "peak memory grew by {grown} KiB, more than {bound} KiB"
    );
}
