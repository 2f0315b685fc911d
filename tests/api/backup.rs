//! `gifchat backup DIR`: a copy of a running installation serves the same
//! rooms, history (ids included), GIFs and sessions.
//!
//! The copy is SQLite's online backup. On PostgreSQL the command refuses,
//! pointing to PostgreSQL's own tool, pg_dump, rather than copying an
//! installation without its database.

use std::process::Command;

use crate::{
    backend,
    helpers::{TestApp, database_args, history_ids},
    uploads::gif,
};

fn backup(app: &TestApp, dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gifchat"))
        .arg("--data-dir")
        .arg(&app.config.data_dir)
        .arg("--uploads-dir")
        .arg(&app.config.uploads_dir)
        .args(database_args(app.config.database.as_ref()))
        .arg("backup")
        .arg(dir)
        .output()
        .expect("gifchat backup runs")
}

fn sessions_in(data_dir: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(data_dir.join("gifchat.sqlite3")).unwrap();
    db.query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_backup_of_a_running_server_serves_the_same_history_files_and_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    alice.me().await; // a session worth keeping: it came back
    let room = alice.create_room("Kept", 10, None).await;
    let room = room["id"].as_str().unwrap().to_owned();
    for n in 0..5 {
        alice.say(&room, &format!("message {n}")).await;
    }
    let bytes = gif(16, 16, 2, 3);
    let posted = alice.post_gif(&room, "a.gif", bytes.clone()).await.json();
    let ids = history_ids(&alice, &room).await;

    let target = tempfile::TempDir::new().unwrap();
    let dir = target.path().join("copy");
    let output = backup(&app, &dir);
    if backend::POSTGRES {
        assert!(!output.status.success(), "{output:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("pg_dump"), "{said}");
        return;
    }
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("1 rooms") && said.contains("1 GIFs"),
        "{said}"
    );
    assert_eq!(
        sessions_in(&dir.join("data")),
        sessions_in(&app.config.data_dir)
    );

    // The copy, served on its own.
    let copy = TestApp::spawn_with(|c| {
        c.data_dir = dir.join("data");
        c.uploads_dir = dir.join("uploads");
    })
    .await;
    let reader = copy.client();
    assert_eq!(history_ids(&reader, &room).await, ids, "the same ids");
    let served = reader
        .http
        .get(copy.url(posted["gif"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // New events continue after the copied ones.
    let next = reader.say(&room, "after the copy").await["id"]
        .as_i64()
        .unwrap();
    assert!(next > *ids.last().unwrap());
}

#[tokio::test]
async fn a_backup_refuses_a_folder_that_is_not_empty() {
    let app = TestApp::spawn().await;
    let target = tempfile::TempDir::new().unwrap();
    std::fs::write(target.path().join("something"), "here").unwrap();
    let output = backup(&app, target.path());
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    // On PostgreSQL it refuses whatever the folder; either reason will do.
    let reason = said.contains("not empty") || backend::POSTGRES && said.contains("pg_dump");
    assert!(reason, "{said}");
}
