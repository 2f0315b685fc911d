//! PostgreSQL restarted under three nodes while people post: every post
//! is answered 2xx only once it is committed, 503 with `Retry-After`
//! otherwise; posters who retry with their `client_id` store each message
//! once; streams recover; every viewer ends with every message, once, in
//! the same order.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{
    cluster::{Seen, cluster_on, post_message, read_until},
    helpers::{Client, history_ids},
};

const POSTERS: usize = 3;
const POSTS_EACH: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_during_posting_loses_nothing_and_acknowledges_nothing_false() {
    let server = crate::postgres::own_server();
    let url = server.database("restarted").await;
    let cluster = cluster_on(url, &["--post-rate", "0", "--leave-grace", "60s"]).await;
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let owner = Client::new(&bases[0]);
    let room = owner.new_room("Restart", 50, None).await;
    let path = format!("/rooms/{room}/events");
    let mut viewers = Vec::new();
    for base in &bases {
        viewers.push(Client::new(base).sse(&path, Some(0)).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let posters: Vec<_> = (0..POSTERS)
        .map(|p| {
            let client = Client::new(&bases[p % bases.len()]);
            let (room, acknowledged, refusals) =
                (room.clone(), acknowledged.clone(), refusals.clone());
            tokio::spawn(async move {
                for i in 0..POSTS_EACH {
                    let chat = format!("poster {p} message {i}");
                    let body =
                        serde_json::json!({ "chat": chat, "client_id": format!("p{p}-{i}") });
                    loop {
                        match post_message(&client, &room, &body).await {
                            Ok(id) => {
                                acknowledged.lock().unwrap().push((id, chat));
                                break;
                            }
                            Err(Some(refused)) => {
                                refusals.lock().unwrap().push(refused);
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            Err(None) => panic!("the node itself stayed up"),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.start();
    for poster in posters {
        poster.await.unwrap();
    }

    let refusals = refusals.lock().unwrap().clone();
    assert!(!refusals.is_empty(), "the restart was felt");
    assert!(
        refusals
            .iter()
            .all(|&(status, retry)| status == 503 && retry),
        "refused only as unavailable, with Retry-After: {refusals:?}"
    );
    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort();
    assert_eq!(acknowledged.len(), POSTERS * POSTS_EACH);
    let chats: HashSet<String> = acknowledged.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(chats.len(), POSTERS * POSTS_EACH, "each answered once");

    let stored = history_ids(&owner, &room).await;
    for (id, chat) in &acknowledged {
        assert!(
            stored.contains(id),
            "{chat} (id {id}) was acknowledged: it is stored"
        );
    }
    let mut seen_by = Vec::new();
    for (n, viewer) in viewers.iter_mut().enumerate() {
        let mut seen = Seen::default();
        read_until(
            viewer,
            &chats,
            &mut seen,
            &format!("the viewer on node {n}"),
        )
        .await;
        let mut unique = seen.ids.clone();
        unique.dedup();
        assert_eq!(unique, seen.ids, "nothing twice on node {n}");
        assert!(seen.ids.is_sorted(), "in id order on node {n}");
        seen_by.push(seen.ids);
    }
    let last = acknowledged.iter().map(|(id, _)| *id).max().unwrap();
    let upto = |ids: &[i64]| -> Vec<i64> { ids.iter().copied().filter(|id| *id <= last).collect() };
    assert_eq!(upto(&seen_by[0]), upto(&seen_by[1]));
    assert_eq!(upto(&seen_by[0]), upto(&seen_by[2]));
    let database = crate::postgres::connect(&server.url("restarted")).await;
    let messages: i64 = database
        .query_one("SELECT count(*) FROM events WHERE kind = 'chat'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(messages as usize, POSTERS * POSTS_EACH, "each stored once");
}
