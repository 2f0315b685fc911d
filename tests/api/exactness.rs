//! The guarantee: across any number of reconnects with `Last-Event-ID`, a
//! viewer receives every visible stored event exactly once, in order, also
//! across a server restart.

use std::time::Duration;

use rand::Rng;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::helpers::{Client, TestApp, history_ids};

/// Posters that keep going until `count` messages each are stored,
/// retrying through a restart.
pub fn start_posters(
    app: &TestApp,
    room: &str,
    posters: usize,
    count: usize,
) -> Vec<JoinHandle<()>> {
    (0..posters)
        .map(|p| {
            let client = app.client();
            let room = room.to_owned();
            tokio::spawn(async move {
                let mut stored = 0;
                while stored < count {
                    let answer = client
                        .http
                        .post(client.url(&format!("/rooms/{room}/messages")))
                        .header("accept", "application/json")
                        .json(&json!({ "chat": format!("poster {p} message {stored}") }))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status().as_u16() == 201 => stored += 1,
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                    let pause = {
                        let mut rng = rand::rng();
                        rng.random_bool(0.2).then(|| rng.random_range(0..5))
                    };
                    if let Some(ms) = pause {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
            })
        })
        .collect()
}

/// A viewer that drops its stream after a random number of events and
/// reconnects with the last id it saw, until told to stop; returns every
/// stored id it received, in order.
fn start_viewer(
    viewer: Client,
    room: String,
    stop: tokio::sync::watch::Receiver<i64>,
) -> JoinHandle<(Vec<i64>, usize)> {
    tokio::spawn(async move {
        let mut received: Vec<i64> = Vec::new();
        let mut reconnects = 0;
        loop {
            let last = received.last().copied().unwrap_or(0);
            let target = *stop.borrow();
            if target > 0 && last >= target {
                return (received, reconnects);
            }
            let Some(mut sse) = viewer
                .try_sse(&format!("/rooms/{room}/events"), Some(last))
                .await
            else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            reconnects += 1;
            let budget = rand::rng().random_range(1..40);
            let mut taken = 0;
            while taken < budget {
                match sse.next_within(Duration::from_millis(500)).await {
                    Some(event) => {
                        if let (Some(id), Some(_)) = (event.id_number(), &event.data) {
                            received.push(id);
                            taken += 1;
                        }
                    }
                    None => break,
                }
            }
        }
    })
}

fn assert_exact(received: &[i64], history: &[i64]) {
    let upto: Vec<i64> = received
        .iter()
        .copied()
        .filter(|id| id <= history.last().unwrap())
        .collect();
    assert!(
        upto.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, no duplicate"
    );
    assert_eq!(upto.len(), history.len(), "no gap and nothing extra");
    assert_eq!(upto, history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_viewers_see_every_event_exactly_once() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Exact", 100, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(0);
    let viewer = start_viewer(app.client(), room.clone(), stop_rx);
    for poster in start_posters(&app, &room, 4, 100) {
        poster.await.unwrap();
    }
    let history = history_ids(&owner, &room).await;
    assert!(history.len() >= 400);
    stop_tx.send(*history.last().unwrap()).unwrap();
    let (received, reconnects) = tokio::time::timeout(Duration::from_secs(60), viewer)
        .await
        .expect("viewer caught up")
        .unwrap();
    assert!(
        reconnects > 10,
        "the viewer really reconnected ({reconnects})"
    );
    assert_exact(&received, &history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactness_holds_across_a_server_restart() {
    let app = TestApp::spawn().await;
    let owner = app.client();
    let room = owner.create_room("Restart", 100, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(0);
    let viewer = start_viewer(app.client(), room.clone(), stop_rx);
    let posters = start_posters(&app, &room, 3, 80);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let app = app.restart().await;
    for poster in posters {
        poster.await.unwrap();
    }
    let history = history_ids(&owner, &room).await;
    assert!(history.len() >= 240);
    stop_tx.send(*history.last().unwrap()).unwrap();
    let (received, _) = tokio::time::timeout(Duration::from_secs(60), viewer)
        .await
        .expect("viewer caught up")
        .unwrap();
    assert_exact(&received, &history);
    drop(app);
}
