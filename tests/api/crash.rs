//! Crash safety: the real binary killed with SIGKILL while posters run.
//! Every message that was answered 2xx must be in the history afterwards,
//! ids must continue upwards, and the database must be intact.
//!
//! On PostgreSQL only gifchat is killed, not the database server: what is
//! tested is that an acknowledged message was committed, and that the
//! restarted server reads the ids on from there.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;

use crate::helpers::{Binary, Client, Installation, history_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_sigkill() {
    let installation = Installation::new().await;
    let server = Binary::start(&installation, &["--post-rate", "0"]).await;
    let owner = Client::new(&server.base);
    let room = owner.create_room("Crash", 50, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let acknowledged: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let client = Client::new(&server.base);
            let (room, acknowledged) = (room.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let chat = format!("poster {p} message {i}");
                    let answer = client
                        .http
                        .post(client.url(&format!("/rooms/{room}/messages")))
                        .header("accept", "application/json")
                        .json(&json!({ "chat": chat }))
                        .send()
                        .await;
                    let Ok(answer) = answer else { return };
                    if answer.status().as_u16() == 201 {
                        let Ok(event) = answer.json::<serde_json::Value>().await else {
                            return;
                        };
                        let id = event["id"].as_i64().unwrap();
                        acknowledged.lock().unwrap().push((id, chat));
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    for poster in posters {
        poster.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "posters were busy: {}",
        acknowledged.len()
    );

    if !crate::backend::POSTGRES {
        let file = installation.dir.path().join("data/gifchat.sqlite3");
        let db = rusqlite::Connection::open(file).unwrap();
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    let server = Binary::start(&installation, &["--post-rate", "0"]).await;
    let reader = Client::new(&server.base);
    let stored = history_ids(&reader, &room).await;
    assert!(stored.windows(2).all(|w| w[0] < w[1]));
    let history = reader
        .get_json(&format!("/rooms/{room}/messages?limit=200"))
        .await
        .json();
    for (id, chat) in &acknowledged {
        assert!(stored.contains(id), "acknowledged id {id} is stored");
        if let Some(event) = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == *id)
        {
            assert_eq!(event["chat"], chat.as_str(), "whole, not half-written");
        }
    }
    let newest = acknowledged.iter().map(|(id, _)| *id).max().unwrap();
    let after = reader.say(&room, "after the crash").await;
    assert!(
        after["id"].as_i64().unwrap() > newest,
        "ids continue upwards"
    );
}
