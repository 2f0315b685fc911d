//! Three gifchat processes on one PostgreSQL database, as behind a load
//! balancer: viewers on every node, posters on every node. Every viewer
//! ends with the same stored events, the history's, in id order, none
//! missing or doubled; a viewer that moves to another node mid-stream with
//! its Last-Event-ID goes on exactly where it was.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::join_all;
use gifchat::db::DatabaseUrl;

use crate::helpers::{Binary, Client, Installation, Sse, history_ids};

const NODES: usize = 3;
const VIEWERS_PER_NODE: usize = 2;
const POSTS_PER_NODE: usize = 40;

/// Three nodes on one fresh database, with one cookie secret and one
/// uploads folder (README, "Running several nodes").
pub struct Cluster {
    /// Killed when dropped, before their folders go.
    pub nodes: Vec<Binary>,
    _installation: Installation,
    /// The database's name.
    pub database: String,
}

/// The one cookie secret of every node.
const SECRET: &str = "one-secret-for-every-node-of-this-cluster-0123456789abcdef0123456789";

async fn cluster() -> Cluster {
    // No leave notice during the test: nothing but the news of a commit
    // may bring one node's last posts to another.
    cluster_with(&["--post-rate", "0", "--leave-grace", "60s"]).await
}

/// Three nodes started with `args` besides the shared ones.
pub async fn cluster_with(args: &[&str]) -> Cluster {
    cluster_on(crate::postgres::fresh_database().await, args).await
}

/// Three nodes on the database at `url`, started with `args` besides the
/// shared ones.
pub async fn cluster_on(url: String, args: &[&str]) -> Cluster {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let database = config.get_dbname().unwrap().to_owned();
    let installation = Installation {
        dir: tempfile::TempDir::new().unwrap(),
        database: Some(DatabaseUrl::Postgres(url)),
    };
    // Posts come from clients that are not present: without visits, a
    // post adds no member nor notices (`tests/api/helpers.rs` says why).
    let args: Vec<&str> = ["--cookie-secret", SECRET, "--visit-window", "0s"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        nodes.push(Binary::start(&installation, &args).await);
    }
    Cluster {
        nodes,
        _installation: installation,
        database,
    }
}

/// What a viewer has seen: the ids of the stored events, in the order
/// they came, and the chats among them.
#[derive(Default)]
pub struct Seen {
    pub ids: Vec<i64>,
    pub chats: HashSet<String>,
}

/// Reads `sse` until every chat in `wanted` has been seen (`who` says
/// which viewer, should it time out).
pub async fn read_until(sse: &mut Sse, wanted: &HashSet<String>, seen: &mut Seen, who: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !wanted.is_subset(&seen.chats) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = sse.next_within(left).await else {
            let mut missing: Vec<_> = wanted.difference(&seen.chats).collect();
            missing.sort();
            panic!(
                "{who}: {} chats never arrived, e.g. {:?}; {} ids seen, the last {:?}",
                missing.len(),
                &missing[..missing.len().min(5)],
                seen.ids.len(),
                seen.ids.last()
            );
        };
        // (`cursor` says where a stream started live stands: not an event.)
        let (Some(id), Some(_)) = (event.id_number(), &event.data) else {
            continue;
        };
        if event.kind() == "cursor" {
            continue;
        }
        seen.ids.push(id);
        if let Some(chat) = event.json()["chat"].as_str() {
            seen.chats.insert(chat.to_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_every_node_see_every_event_once_in_order() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Cluster", 100, None).await;
    let path = format!("/rooms/{room}/events");

    let mut viewers = Vec::new();
    for node in nodes {
        for _ in 0..VIEWERS_PER_NODE {
            let viewer = Client::new(&node.base);
            viewers.push(viewer.sse(&path, Some(0)).await);
        }
    }
    // Starts on node 0 and moves to node 1 halfway through.
    let mover = Client::new(&nodes[0].base);
    let mut moving = mover.sse(&path, Some(0)).await;

    // Joins are folded into one notice per room and second: let them be
    // stored before posting, so that afterwards no node writes anything
    // that would read the others' last posts along the way.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posters: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let poster = Client::new(&node.base);
            let room = room.clone();
            tokio::spawn(async move {
                for i in 0..POSTS_PER_NODE {
                    poster.say(&room, &format!("node {n} message {i}")).await;
                }
            })
        })
        .collect();
    let expected: HashSet<String> = (0..NODES)
        .flat_map(|n| (0..POSTS_PER_NODE).map(move |i| format!("node {n} message {i}")))
        .collect();

    // The mover reads a part on node 0, then resumes on node 1.
    let first_half: HashSet<String> = (0..POSTS_PER_NODE / 2)
        .map(|i| format!("node 0 message {i}"))
        .collect();
    let mut moved_seen = Seen::default();
    read_until(
        &mut moving,
        &first_half,
        &mut moved_seen,
        "the mover on node 0",
    )
    .await;
    drop(moving);
    let mover = mover.at(&nodes[1].base);
    let mut moved = mover.sse(&path, moved_seen.ids.last().copied()).await;

    for poster in posters {
        poster.await.unwrap();
    }
    let seen = join_all(viewers.iter_mut().enumerate().map(|(v, sse)| {
        let expected = &expected;
        async move {
            let mut seen = Seen::default();
            let who = format!("viewer {v} on node {}", v / VIEWERS_PER_NODE);
            read_until(sse, expected, &mut seen, &who).await;
            seen.ids
        }
    }))
    .await;
    read_until(
        &mut moved,
        &expected,
        &mut moved_seen,
        "the mover on node 1",
    )
    .await;

    let last_chat = *seen.iter().flat_map(|ids| ids.last()).max().unwrap();
    let upto =
        |ids: &[i64]| -> Vec<i64> { ids.iter().copied().filter(|id| *id <= last_chat).collect() };
    let expected_ids = upto(&history_ids(&owner, &room).await);
    for (n, node) in nodes.iter().enumerate() {
        let reader = Client::new(&node.base);
        assert_eq!(
            upto(&history_ids(&reader, &room).await),
            expected_ids,
            "node {n} serves the same history"
        );
    }
    for (v, ids) in seen.iter().chain([&moved_seen.ids]).enumerate() {
        assert_eq!(
            upto(ids),
            expected_ids,
            "viewer {v} saw every stored event once, in id order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_goes_on_when_the_listening_connections_are_cut() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Cut", 100, None).await;
    let path = format!("/rooms/{room}/events");
    let mut viewer = Client::new(&nodes[0].base).sse(&path, Some(0)).await;
    let poster = Client::new(&nodes[1].base);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let admin = crate::postgres::admin().await;
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'gifchat listener' AND datname = $1",
            &[&cluster.database],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), NODES, "every node was listening");
    let mut seen = Seen::default();
    for n in 0..5 {
        let chat = format!("after the cut {n}");
        poster.say(&room, &chat).await;
        read_until(
            &mut viewer,
            &HashSet::from([chat]),
            &mut seen,
            "the viewer on node 0",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_retried_on_another_node_is_stored_once() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let alice = Client::new(&nodes[0].base);
    let room = alice.new_room("Retry", 10, None).await;
    let path = format!("/rooms/{room}/messages");
    let body = serde_json::json!({ "chat": "sent twice", "client_id": "c-42" });
    let first = alice.post_json(&path, body.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    for node in &nodes[1..] {
        let again = alice.at(&node.base).post_json(&path, body.clone()).await;
        assert_eq!(again.status.as_u16(), 200, "{}", again.text);
        assert_eq!(again.json(), first.json());
    }
    assert_eq!(history_ids(&alice, &room).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gif_uploaded_through_one_node_is_served_by_the_others() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let alice = Client::new(&nodes[0].base);
    let room = alice.new_room("Shared", 10, None).await;
    let bytes = crate::uploads::gif(8, 8, 1, 5);
    let posted = alice.post_gif(&room, "cat.gif", bytes.clone()).await;
    assert_eq!(posted.status.as_u16(), 201, "{}", posted.text);
    let url = posted.json()["gif"].as_str().unwrap().to_owned();
    for node in &nodes[1..] {
        let served = Client::new(&node.base)
            .http
            .get(format!("{}{url}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(served.status().as_u16(), 200);
        assert_eq!(served.bytes().await.unwrap(), bytes);
    }
}

/// Posts `body` to the room's messages: the stored event's id, or why
/// not (the status and whether it said `Retry-After`; none when the node
/// did not answer).
pub async fn post_message(
    client: &Client,
    room: &str,
    body: &serde_json::Value,
) -> Result<i64, Option<(u16, bool)>> {
    let sent = client
        .http
        .post(client.url(&format!("/rooms/{room}/messages")))
        .header("accept", "application/json")
        .json(body)
        .send()
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => {
            let event: serde_json::Value = answer.json().await.map_err(|_| None)?;
            event["id"].as_i64().ok_or(None)
        }
        Ok(answer) => Err(Some((
            answer.status().as_u16(),
            answer.headers().contains_key("retry-after"),
        ))),
        Err(_) => Err(None),
    }
}

/// The node-independent id of a visitor.
async fn user_id(client: &Client) -> String {
    client.me().await["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_on_one_node_cuts_the_user_off_on_another() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Moderated", 10, None).await;
    let mallory = Client::new(&nodes[1].base);
    let mallory_id = user_id(&mallory).await;
    let mut watching = mallory.sse(&format!("/rooms/{room}/events"), None).await;
    mallory.say(&room, "spam").await;

    let kicked = owner
        .post_json(
            &format!("/rooms/{room}/kick"),
            serde_json::json!({ "user": mallory_id }),
        )
        .await;
    assert_eq!(kicked.status.as_u16(), 200, "{}", kicked.text);
    let notice = tokio::time::timeout(Duration::from_secs(5), watching.next_of("kicked")).await;
    assert!(
        matches!(notice, Ok(Some(_))),
        "the stream on node 1 was told"
    );
    assert!(
        watching.next_within(Duration::from_secs(5)).await.is_none(),
        "and then it ended"
    );
    mallory
        .post_json(
            &format!("/rooms/{room}/messages"),
            serde_json::json!({ "chat": "back" }),
        )
        .await
        .assert_error(403, "kicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_deleted_on_one_node_ends_its_streams_on_another() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Short-lived", 10, None).await;
    let mut watching = Client::new(&nodes[2].base)
        .sse(&format!("/rooms/{room}/events"), None)
        .await;
    let deleted = owner
        .http
        .delete(owner.url(&format!("/rooms/{room}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let notice =
        tokio::time::timeout(Duration::from_secs(5), watching.next_of("room-deleted")).await;
    assert!(
        matches!(notice, Ok(Some(_))),
        "the stream on node 2 was told"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_given_on_one_node_admits_on_every_node() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Private", 10, Some("hunter2")).await;
    let guest = Client::new(&nodes[1].base);
    let history = format!("/rooms/{room}/messages");
    // Node 1 now remembers that this guest may not come in.
    guest
        .get_json(&history)
        .await
        .assert_error(403, "forbidden");
    let joined = guest
        .at(&nodes[0].base)
        .post_json(
            &format!("/rooms/{room}/join"),
            serde_json::json!({ "password": "hunter2" }),
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);
    let admitted = eventually_ok(&guest, &history).await;
    assert!(admitted, "node 1 forgot what it remembered");
}

/// Whether `path` answers 200 within a few seconds (the other node hears
/// of a change within its listener's backstop at worst).
async fn eventually_ok(client: &Client, path: &str) -> bool {
    for _ in 0..50 {
        if client.get_json(path).await.status.as_u16() == 200 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_is_one_user_whichever_node_answers() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    // The first request makes the session, which node 0 keeps in memory
    // only until the visitor comes back; they come back to the others.
    let visitor = Client::new(&nodes[0].base);
    let id = user_id(&visitor).await;
    for node in &nodes[1..] {
        assert_eq!(user_id(&visitor.at(&node.base)).await, id);
    }
    assert_eq!(user_id(&visitor).await, id, "and back on node 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_set_through_one_node_is_the_name_on_every_node() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let alice = Client::new(&nodes[0].base);
    alice.me().await;
    // Every node has read the session once.
    for node in &nodes[1..] {
        alice.at(&node.base).me().await;
    }
    let named = alice
        .post_json("/me", serde_json::json!({ "name": "Alice" }))
        .await;
    assert!(named.status.is_success(), "{}", named.text);
    for node in &nodes[1..] {
        assert_eq!(alice.at(&node.base).me().await["name"], "Alice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_retried_on_another_node_after_a_sigkill_are_stored_once_none_lost() {
    let mut cluster = cluster().await;
    let owner = Client::new(&cluster.nodes[0].base);
    let room = owner.new_room("Crash", 50, None).await;
    let (doomed, survivor) = (cluster.nodes[2].base.clone(), cluster.nodes[0].base.clone());
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let client = Client::new(&doomed);
            let (room, survivor, acknowledged) =
                (room.clone(), survivor.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let mut client = client;
                for i in 0..60 {
                    let chat = format!("poster {p} message {i}");
                    let body =
                        serde_json::json!({ "chat": chat, "client_id": format!("p{p}-{i}") });
                    // Sent until stored: on the doomed node, then (once it
                    // stops answering) on a survivor, with the same client_id.
                    loop {
                        match post_message(&client, &room, &body).await {
                            Ok(id) => {
                                acknowledged.lock().unwrap().push((id, chat));
                                break;
                            }
                            Err(_) => client = client.at(&survivor),
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.nodes.remove(2).kill();
    for poster in posters {
        poster.await.unwrap();
    }

    let reader = Client::new(&survivor);
    let mut stored: Vec<(i64, String)> = Vec::new();
    let mut before = String::new();
    loop {
        let page = reader
            .get_json(&format!("/rooms/{room}/messages?limit=200{before}"))
            .await
            .json();
        let events = page["events"].as_array().unwrap();
        for event in events.iter().filter(|e| e["type"] == "chat") {
            let chat = event["chat"].as_str().unwrap().to_owned();
            stored.push((event["id"].as_i64().unwrap(), chat));
        }
        match (page["has_more"].as_bool(), events.first()) {
            (Some(true), Some(oldest)) => before = format!("&before={}", oldest["id"]),
            _ => break,
        }
    }
    stored.sort();
    assert_eq!(stored.len(), 4 * 60, "every message once, no double");
    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort();
    assert_eq!(
        acknowledged, stored,
        "every acknowledged message, as answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_catches_up_in_order() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let owner = Client::new(&nodes[0].base);
    let room = owner.new_room("Paused", 10, None).await;
    let path = format!("/rooms/{room}/events");
    let mut paused_viewer = Client::new(&nodes[1].base).sse(&path, Some(0)).await;
    let mut live_viewer = Client::new(&nodes[2].base).sse(&path, Some(0)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let pid = nodes[1].pid() as i32;
    // SIGSTOP: the node, its listener and its writer freeze mid-whatever.
    // (kill(2) on our own child's pid: no memory is involved.)
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let chats: HashSet<String> = (0..30).map(|i| format!("while paused {i}")).collect();
    for i in 0..30 {
        owner.say(&room, &format!("while paused {i}")).await;
    }
    let mut live = Seen::default();
    read_until(&mut live_viewer, &chats, &mut live, "the viewer on node 2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);

    let mut caught_up = Seen::default();
    read_until(
        &mut paused_viewer,
        &chats,
        &mut caught_up,
        "the viewer on node 1",
    )
    .await;
    let last = *live.ids.last().unwrap();
    let upto = |ids: &[i64]| -> Vec<i64> { ids.iter().copied().filter(|id| *id <= last).collect() };
    assert_eq!(
        upto(&caught_up.ids),
        upto(&live.ids),
        "the same events, once each, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_features_reach_every_node() {
    let cluster = cluster().await;
    let nodes = &cluster.nodes;
    let alice = Client::new(&nodes[0].base);
    let room = alice.new_room("Everywhere", 10, None).await;
    let bob = Client::new(&nodes[1].base);
    // Known, and back with his cookie: his session is stored, so every
    // node knows who he is.
    user_id(&bob).await;
    let mut watching = bob.sse(&format!("/rooms/{room}/events"), None).await;
    watching.next_of("members").await.unwrap();

    // Typing on node 0 reaches node 1, though it is never stored.
    let typed = alice
        .post_json(&format!("/rooms/{room}/typing"), serde_json::json!({}))
        .await;
    assert_eq!(typed.status.as_u16(), 204);
    let typing = tokio::time::timeout(Duration::from_secs(5), watching.next_of("typing")).await;
    assert!(matches!(typing, Ok(Some(_))), "typing crossed nodes");

    // A reaction and an edit made on node 0 arrive on node 1 in order.
    let said = alice.say(&room, "helo").await;
    let path = format!("/rooms/{room}/events/{}", said["id"]);
    alice
        .post_json(
            &format!("{path}/reactions"),
            serde_json::json!({ "reaction": "👍" }),
        )
        .await;
    alice
        .patch_json(&path, serde_json::json!({ "chat": "hello" }))
        .await;
    let reaction = watching.next_of("reaction").await.unwrap().json();
    assert_eq!(reaction["target"], said["id"]);
    let edit = watching.next_of("edit").await.unwrap().json();
    assert_eq!(edit["chat"], "hello");

    // Search on node 2 finds the text as it is now.
    let carol = Client::new(&nodes[2].base);
    let found = carol
        .get_json(&format!("/rooms/{room}/search?q=hello"))
        .await
        .json();
    assert_eq!(found["events"][0]["id"], said["id"]);

    // Bob's lobby on node 2 hears of what his stream on node 1 read.
    let bobs_lobby = bob.at(&nodes[2].base);
    let mut lobby = bobs_lobby.sse("/events", None).await;
    lobby.next_of("rooms").await.unwrap();
    let more = alice.say(&room, "one more").await;
    let activity = lobby.next_of("room-activity").await.unwrap().json();
    assert_eq!(activity["last_event_id"], more["id"]);
    let heard = tokio::time::timeout(Duration::from_secs(5), lobby.next_of("read")).await;
    let heard = heard.expect("the read crossed nodes").unwrap().json();
    assert_eq!(heard["last_event_id"], more["id"]);
    assert_eq!(heard["unread"], 0);

    // Locked on node 0: a newcomer on node 2 is kept out, Bob is not.
    alice
        .post_json(
            &format!("/rooms/{room}/settings"),
            serde_json::json!({ "locked": true }),
        )
        .await;
    let newcomer = Client::new(&nodes[2].base);
    let kept_out = eventually_status(&newcomer, &format!("/rooms/{room}"), 409).await;
    assert!(kept_out, "the lock crossed nodes");
    assert_eq!(
        bob.at(&nodes[2].base)
            .get_json(&format!("/rooms/{room}"))
            .await
            .status
            .as_u16(),
        200
    );
}

/// Whether `path` answers `status` within a few seconds.
async fn eventually_status(client: &Client, path: &str, status: u16) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if client.get_json(path).await.status.as_u16() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
