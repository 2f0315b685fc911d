//! `gifchat copy-database`: an installation moved from SQLite to the
//! backend under test (PostgreSQL, or another SQLite file) and back serves
//! the same rooms, history with its ids, admissions, bans and sessions, and
//! hands out no id twice; a target that holds anything is refused.

use std::process::{Command, Output};

use gifchat::db::DatabaseUrl;
use serde_json::{Value, json};

use crate::helpers::{Binary, Client, Installation, history_ids};

fn copy_database(from: &DatabaseUrl, to: &DatabaseUrl) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gifchat"))
        .arg("copy-database")
        .arg("--from")
        .arg(&*from.as_str())
        .arg("--to")
        .arg(&*to.as_str())
        .output()
        .expect("gifchat copy-database runs")
}

/// Everything a visitor of `room` is shown of its history.
async fn history(client: &Client, room: &str) -> Value {
    let answer = client
        .get_json(&format!("/rooms/{room}/messages?limit=200"))
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    answer.json()["events"].clone()
}

async fn user_id(client: &Client) -> String {
    client.me().await["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_another_database_and_back_with_its_history_ids_and_sessions() {
    let installation = Installation {
        dir: tempfile::TempDir::new().unwrap(),
        database: None,
    };
    let sqlite = DatabaseUrl::Sqlite(installation.dir.path().join("data/gifchat.sqlite3"));
    let server = Binary::start(&installation, &["--post-rate", "0"]).await;
    let (alice, bob, mallory) = (
        Client::new(&server.base),
        Client::new(&server.base),
        Client::new(&server.base),
    );
    let (alice_id, bob_id, mallory_id) = (
        user_id(&alice).await,
        user_id(&bob).await,
        user_id(&mallory).await,
    );
    let open = alice.new_room("Open", 10, None).await;
    let private = alice.new_room("Private", 10, Some("hunter2")).await;
    let joined = bob
        .post_json(
            &format!("/rooms/{private}/join"),
            json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    for n in 0..5 {
        alice.say(&open, &format!("open {n}")).await;
        bob.say(&private, &format!("private {n}")).await;
    }
    let spam = mallory.say(&open, "spam").await;
    // Reactions, an edit, a reply with a mention and a delete come along.
    let first = history(&alice, &open).await[0].clone();
    let path = format!("/rooms/{open}/events/{}", first["id"]);
    bob.post_json(&format!("{path}/reactions"), json!({ "reaction": "👍" }))
        .await;
    alice
        .patch_json(&path, json!({ "chat": "open, edited" }))
        .await;
    let reply = bob
        .post_json(
            &format!("/rooms/{open}/messages"),
            json!({ "chat": "nice", "reply_to": first["id"], "mentions": [alice_id] }),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text);
    alice
        .delete(&format!("/rooms/{open}/events/{}", spam["id"]))
        .await;
    // Whispers go to someone present.
    let bob_watching = bob.sse(&format!("/rooms/{open}/events"), None).await;
    let whisper = alice
        .post_json(
            &format!("/rooms/{open}/whispers"),
            json!({ "to": bob_id, "chat": "psst" }),
        )
        .await;
    assert_eq!(whisper.status.as_u16(), 201, "{}", whisper.text);
    let kicked = alice
        .post_json(
            &format!("/rooms/{open}/kick"),
            json!({ "user": mallory_id }),
        )
        .await;
    assert_eq!(kicked.status.as_u16(), 200, "{}", kicked.text);
    let before = (
        history(&alice, &open).await,
        history(&bob, &open).await,
        history(&bob, &private).await,
    );
    let shown = before.0.to_string();
    for part in [
        "👍",
        "\"edited\":true",
        "\"deleted\":true",
        "\"reply\":",
        &alice_id,
    ] {
        assert!(shown.contains(part), "{part} before the copy: {shown}");
    }
    let newest = *history_ids(&alice, &open).await.last().unwrap();
    drop(bob_watching);
    server.kill();

    let target = match crate::backend::new_database().await {
        Some(database) => database,
        None => DatabaseUrl::Sqlite(installation.dir.path().join("moved/gifchat.sqlite3")),
    };
    let copied = copy_database(&sqlite, &target);
    assert!(copied.status.success(), "{copied:?}");
    let said = String::from_utf8_lossy(&copied.stdout);
    assert!(said.contains("2 rooms"), "{said}");

    let moved = Installation {
        dir: installation.dir,
        database: Some(target.clone()),
    };
    let server = Binary::start(&moved, &["--post-rate", "0"]).await;
    let (alice, bob, mallory) = (
        alice.at(&server.base),
        bob.at(&server.base),
        mallory.at(&server.base),
    );
    assert_eq!(user_id(&alice).await, alice_id, "sessions came along");
    assert_eq!(user_id(&bob).await, bob_id);
    assert_eq!(
        (
            history(&alice, &open).await,
            history(&bob, &open).await,
            history(&bob, &private).await,
        ),
        before,
        "the same history, ids, whispers and notices"
    );
    mallory
        .post_json(
            &format!("/rooms/{open}/messages"),
            json!({ "chat": "back again" }),
        )
        .await
        .assert_error(403, "kicked");
    let next = bob.say(&private, "still admitted").await;
    assert!(
        next["id"].as_i64().unwrap() > newest,
        "ids continue upwards: {next}"
    );

    let again = copy_database(&sqlite, &target);
    assert!(!again.status.success(), "{again:?}");
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("not empty"), "{said}");

    // And back to a new SQLite file, with the post made after the move.
    let after = history(&bob, &private).await;
    server.kill();
    let back = DatabaseUrl::Sqlite(moved.dir.path().join("back/gifchat.sqlite3"));
    let copied = copy_database(&target, &back);
    assert!(copied.status.success(), "{copied:?}");
    let home = Installation {
        dir: moved.dir,
        database: Some(back),
    };
    let server = Binary::start(&home, &["--post-rate", "0"]).await;
    let bob = bob.at(&server.base);
    assert_eq!(history(&bob, &private).await, after);
    let last = bob.say(&private, "home again").await;
    assert!(last["id"].as_i64().unwrap() > next["id"].as_i64().unwrap());
}
