//! The most used third-party SSE client against the real server: npm
//! `eventsource` 4 (what `npm install eventsource` gives on Node 20), run
//! by Node. It records as its Last-Event-ID only the ids of events it
//! dispatches, so a stream that starts live must say where it stands in
//! an event with data; else a connection cut before the first event loses
//! what was posted while the client was away.
//!
//! The package is installed here with npm (into `target/sse-clients`) the
//! first time. Without Node, npm or the registry, one "skipped" line and
//! success; `GIFCHAT_NODE_TESTS=required` (CI) makes that a failure.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    net::{TcpListener, TcpStream},
    process::{Child, ChildStdout, Command},
    task::AbortHandle,
};

use crate::{
    helpers::TestApp,
    requirement::{Mode, mode},
};

const PACKAGE: &str = "eventsource@4";

/// Prints one JSON line per event or error the client sees.
const CLIENT: &str = r#"
import { EventSource } from "eventsource";
const source = new EventSource(process.argv[2]);
const say = (what) => console.log(JSON.stringify(what));
for (const type of ["members", "chat", "cursor"]) {
  source.addEventListener(type, (e) => say({ type, id: e.lastEventId, data: JSON.parse(e.data) }));
}
source.onerror = () => say({ type: "error" });
"#;

/// The directory holding `eventsource` 4 and the client script, or why
/// the test does not run.
async fn client_dir() -> Option<PathBuf> {
    let mode = mode("GIFCHAT_NODE_TESTS");
    if mode == Mode::Skip {
        return None;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sse-clients");
    let installed = dir.join("node_modules/eventsource/package.json");
    let ready = installed.is_file() || install(&dir).await.is_ok();
    match (ready, mode) {
        (true, _) => {
            std::fs::write(dir.join("client.mjs"), CLIENT).expect("write the client");
            Some(dir)
        }
        (false, Mode::Required) => panic!(
            "GIFCHAT_NODE_TESTS=required, but npm could not install {PACKAGE} (install Debian's nodejs and npm)"
        ),
        (false, _) => {
            eprintln!("sse client tests skipped: no node/npm, or npm could not install {PACKAGE}");
            None
        }
    }
}

async fn install(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(PACKAGE)
        .stdout(Stdio::null())
        .status()
        .await
        .map_err(|e| e.to_string())?;
    status.success().then_some(()).ok_or(status.to_string())
}

/// A TCP relay to the server whose connections the test can cut, and
/// then refuse until it says so: a network that drops.
struct Relay {
    addr: std::net::SocketAddr,
    refusing: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Relay {
    async fn to(server: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            refusing: Arc::default(),
            open: Arc::default(),
        };
        let (refusing, open) = (relay.refusing.clone(), relay.open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(server).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                open.lock().unwrap().push(task.abort_handle());
            }
        });
        relay
    }

    fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn resume(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

/// The client's lines, until one satisfies `wanted` (within 10 s); what
/// it said meanwhile goes into the failure message.
async fn next_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut said = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("client output") {
            let seen: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if wanted(&seen) {
                return Some(seen);
            }
            said.push(line);
        }
        None
    })
    .await;
    match found {
        Ok(Some(seen)) => seen,
        _ => panic!("the client never saw {what}; it said {said:?}"),
    }
}

#[tokio::test]
async fn npm_eventsource_4_cut_before_its_first_event_misses_nothing() {
    let Some(dir) = client_dir().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.new_room("Node", 10, None).await;
    // Alice stays, so the room outlives the client's absence.
    let _alice = alice.sse(&format!("/rooms/{room}/events"), None).await;
    alice.say(&room, "before the client came").await;

    let relay = Relay::to(app.addr).await;
    let url = format!("http://{}/rooms/{room}/events", relay.addr);
    let mut node: Child = Command::new("node")
        .arg(dir.join("client.mjs"))
        .arg(&url)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    next_line(&mut lines, "members", |seen| seen["type"] == "members").await;
    // Where the stream stands, dispatched, so the client records it.
    let cursor = next_line(&mut lines, "the cursor", |seen| seen["type"] == "cursor").await;
    assert_eq!(cursor["id"], cursor["data"]["last_event_id"].to_string());

    // The connection drops before any message; one is posted meanwhile.
    relay.cut();
    let missed = alice.say(&room, "while the client was away").await;
    relay.resume();

    let chat = next_line(&mut lines, "the missed chat", |seen| seen["type"] == "chat").await;
    assert_eq!(chat["data"]["chat"], "while the client was away");
    assert_eq!(chat["id"], missed["id"].to_string());
    let live = alice.say(&room, "and after").await;
    let next = next_line(&mut lines, "the live chat", |seen| seen["type"] == "chat").await;
    assert_eq!(
        next["id"],
        live["id"].to_string(),
        "nothing doubled: {next}"
    );
}
