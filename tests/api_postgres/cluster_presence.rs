//! Presence across three nodes: a user is one member whichever nodes
//! their tabs are on; join and leave notices, ownership passing on, the
//! capacity and the deletion of an empty room hold for the cluster, once;
//! a node that dies or stops answering takes its users' presence with it
//! after its lease, and a node that comes back stores it again.

use std::time::Duration;

use serde_json::Value;

use crate::{
    cluster::cluster_with,
    helpers::{Client, eventually, notices},
};

/// Short grace and lease, so that the tests see people leave.
const ARGS: &[&str] = &["--leave-grace", "1s", "--node-lease", "2s"];

/// A visitor of `base` called `name`.
async fn named(base: &str, name: &str) -> Client {
    let client = Client::new(base);
    let named = client
        .post_json("/me", serde_json::json!({ "name": name }))
        .await;
    assert!(named.status.is_success(), "{}", named.text);
    client
}

async fn members(client: &Client, room: &str) -> Value {
    client
        .get_json(&format!("/rooms/{room}/members"))
        .await
        .json()
}

/// The notices naming `name`, oldest first.
async fn notices_naming(client: &Client, room: &str, name: &str) -> Vec<String> {
    let all = notices(client, room).await;
    all.into_iter().filter(|n| n.contains(name)).collect()
}

/// Whether every node counts `count` members in the room, soon.
async fn every_node_counts(clients: &[Client], room: &str, count: u64) -> bool {
    eventually(Duration::from_secs(10), || async {
        for client in clients {
            if members(client, room).await["count"] != count {
                return false;
            }
        }
        true
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_on_two_nodes_is_one_member_who_joins_and_leaves_once() {
    let cluster = cluster_with(ARGS).await;
    let bases: Vec<&str> = cluster.nodes.iter().map(|n| n.base.as_str()).collect();
    let ann = named(bases[0], "Ann").await;
    let room = ann.new_room("Everywhere", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let _ann_tab = ann.sse(&path, None).await;
    let bob = named(bases[1], "Bob").await;
    let bob_tab_1 = bob.sse(&path, None).await;
    let bob_tab_2 = bob.at(bases[2]).sse(&path, None).await;
    let on_each: Vec<Client> = bases.iter().map(|b| ann.at(b)).collect();
    assert!(every_node_counts(&on_each, &room, 2).await, "Ann and Bob");

    drop(bob_tab_1);
    // Past the grace period and a round: Bob is still there through node 2.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(every_node_counts(&on_each, &room, 2).await);
    drop(bob_tab_2);
    assert!(every_node_counts(&on_each, &room, 1).await, "Bob left");
    let bob_notices = notices_naming(&ann, &room, "Bob").await;
    assert_eq!(bob_notices, ["Bob joined", "Bob left"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_passes_on_once_its_owner_has_left_every_node() {
    let cluster = cluster_with(ARGS).await;
    let bases: Vec<&str> = cluster.nodes.iter().map(|n| n.base.as_str()).collect();
    let ann = named(bases[0], "Ann").await;
    let room = ann.new_room("Heirs", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let ann_tab_0 = ann.sse(&path, None).await;
    let ann_tab_1 = ann.at(bases[1]).sse(&path, None).await;
    let cid = named(bases[2], "Cid").await;
    let _cid_tab = cid.sse(&path, None).await;
    let on_each: Vec<Client> = bases.iter().map(|b| cid.at(b)).collect();
    assert!(every_node_counts(&on_each, &room, 2).await);

    drop(ann_tab_0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(members(&cid, &room).await["owner"]["name"], "Ann");
    drop(ann_tab_1);
    assert!(every_node_counts(&on_each, &room, 1).await, "Ann left");
    for client in &on_each {
        let passed = eventually(Duration::from_secs(5), || async {
            members(client, &room).await["owner"]["name"] == "Cid"
        })
        .await;
        assert!(passed, "every node names Cid the owner");
    }
    let handed = notices_naming(&cid, &room, "owner").await;
    assert_eq!(handed, ["Cid is now the owner"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_counts_users_on_every_node() {
    let cluster = cluster_with(ARGS).await;
    let bases: Vec<&str> = cluster.nodes.iter().map(|n| n.base.as_str()).collect();
    let ann = Client::new(bases[0]);
    let room = ann.new_room("Pair", 2, None).await;
    let path = format!("/rooms/{room}/events");
    let _ann = ann.sse(&path, None).await;
    let bob = Client::new(bases[1]);
    let _bob = bob.sse(&path, None).await;
    let on_each: Vec<Client> = bases.iter().map(|b| ann.at(b)).collect();
    assert!(every_node_counts(&on_each, &room, 2).await);
    Client::new(bases[2])
        .get_json(&path)
        .await
        .assert_error(409, "room_full");
    // Bob's second tab, on the node that turned the stranger away.
    let again = bob.at(bases[2]).sse(&path, None).await;
    assert_eq!(again.status.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_room_is_deleted_once_for_every_node() {
    let cluster = cluster_with(ARGS).await;
    let bases: Vec<&str> = cluster.nodes.iter().map(|n| n.base.as_str()).collect();
    let ann = Client::new(bases[0]);
    let room = ann.new_room("Brief", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let ann_tab = ann.sse(&path, None).await;
    let bob = Client::new(bases[1]);
    let bob_tab = bob.sse(&path, None).await;
    let mut watcher = Client::new(bases[2]).sse("/events", None).await;
    let on_each: Vec<Client> = bases.iter().map(|b| ann.at(b)).collect();
    assert!(every_node_counts(&on_each, &room, 2).await);
    drop(ann_tab);
    drop(bob_tab);
    let gone = eventually(Duration::from_secs(10), || async {
        Client::new(bases[2])
            .get_json(&format!("/rooms/{room}/messages"))
            .await
            .status
            .as_u16()
            == 404
    })
    .await;
    assert!(gone, "the room went");
    let deleted = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = watcher.next_of("room-deleted").await {
            if event.json()["id"] == room.as_str() {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(deleted, Ok(true), "the lobby on node 2 was told");
    let admin = crate::postgres::admin_of(&cluster.database).await;
    let deletions: i64 = admin
        .query_one(
            "SELECT count(*) FROM changes WHERE kind = 'room_deleted' AND room_id = $1",
            &[&room],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(deletions, 1, "deleted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_leave_after_its_lease_and_its_owner_hands_over() {
    let mut cluster = cluster_with(ARGS).await;
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let ann = named(&bases[2], "Ann").await;
    let room = ann.new_room("Fragile", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let _ann_tab = ann.sse(&path, None).await;
    let cid = named(&bases[0], "Cid").await;
    let _cid_tab = cid.sse(&path, None).await;
    let survivors: Vec<Client> = bases[..2].iter().map(|b| cid.at(b)).collect();
    // Stored before Bob comes: Cid has been present longer.
    assert!(every_node_counts(&survivors, &room, 2).await);
    // Bob has a tab on the doomed node and one on a survivor.
    let bob = named(&bases[1], "Bob").await;
    let _bob_tab_1 = bob.sse(&path, None).await;
    let _bob_tab_2 = bob.at(&bases[2]).sse(&path, None).await;
    assert!(every_node_counts(&survivors, &room, 3).await);

    cluster.nodes.remove(2).kill();
    assert!(
        every_node_counts(&survivors, &room, 2).await,
        "Ann left with her node; Bob stays"
    );
    for client in &survivors {
        let passed = eventually(Duration::from_secs(5), || async {
            members(client, &room).await["owner"]["name"] == "Cid"
        })
        .await;
        assert!(passed, "the longest present inherits");
    }
    let told = notices(&cid, &room).await;
    let after_kill: Vec<&String> = told.iter().skip_while(|n| !n.contains("left")).collect();
    assert_eq!(after_kill, ["Ann left", "Cid is now the owner"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_taken_for_dead_stores_its_users_again_when_it_is_back() {
    let cluster = cluster_with(ARGS).await;
    let bases: Vec<&str> = cluster.nodes.iter().map(|n| n.base.as_str()).collect();
    let ann = named(bases[0], "Ann").await;
    let room = ann.new_room("Frozen", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let _ann_tab = ann.sse(&path, None).await;
    let bob = named(bases[1], "Bob").await;
    let _bob_tab = bob.sse(&path, None).await;
    let on_each: Vec<Client> = bases.iter().map(|b| ann.at(b)).collect();
    assert!(every_node_counts(&on_each, &room, 2).await);

    let pid = cluster.nodes[1].pid() as i32;
    // (kill(2) on our own child's pid: no memory is involved.)
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let others = [ann.clone(), ann.at(bases[2])];
    let left = every_node_counts(&others, &room, 1).await;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    assert!(left, "Bob's node stopped answering: he left");
    assert!(
        every_node_counts(&on_each, &room, 2).await,
        "his node is back, and so is he"
    );
    let bob_notices = notices_naming(&ann, &room, "Bob").await;
    assert_eq!(bob_notices, ["Bob joined", "Bob left", "Bob joined"]);
}
