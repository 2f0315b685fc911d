//! `TestApp`: a running server on its own temporary data dir (and, on
//! PostgreSQL, its own database); `Client`: a visitor with its own cookie
//! jar; `Sse`: a minimal EventSource reader; `Binary`: the real binary as a
//! child process on an `Installation`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gifchat::{Config, db::DatabaseUrl};
use reqwest::{StatusCode, header::HeaderMap, redirect};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl TestApp {
    /// A server with test-friendly timings (short leave grace).
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tune: impl FnOnce(&mut Config)) -> TestApp {
        init_logs();
        let dir = Arc::new(TempDir::new().expect("temp dir"));
        let mut config = Config::for_dir(dir.path());
        config.leave_grace = Duration::from_millis(300);
        // Most tests post from clients that are not present, and speak of
        // posts, not presence: a post would make each poster a member for
        // the visit window, with join and leave notices in the history.
        // The presence tests turn visits on (`routes/visits.rs`).
        config.visit_window = Duration::ZERO;
        // Tests post in bursts from one address; `hardening` tests the
        // limits themselves with the defaults or tighter.
        config.post_rate = 2000.0;
        config.post_burst = 2000;
        tune(&mut config);
        if config.database.is_none() {
            config.database = crate::backend::new_database().await;
        }
        TestApp::start(dir, config, "127.0.0.1:0".parse().unwrap()).await
    }

    async fn start(dir: Arc<TempDir>, config: Config, addr: SocketAddr) -> TestApp {
        let listener = bind(addr).await;
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let run_config = config.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            gifchat::run(listener, run_config, shutdown)
                .await
                .expect("server ran");
        });
        TestApp {
            addr,
            config,
            dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("server stopped within 20 s")
                .expect("server task");
        }
    }

    /// Stops the server and starts it again on the same data dir, database
    /// and port.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let (dir, config, addr) = (self.dir.clone(), self.config.clone(), self.addr);
        TestApp::start(dir, config, addr).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new visitor with an empty cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.url(""))
    }

    /// The folder uploaded GIFs are stored in.
    pub fn uploads_dir(&self) -> std::path::PathBuf {
        self.config.uploads_dir.clone()
    }

    /// How many rows `table` of this server's database holds, whichever
    /// its backend.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self.config.database_url() {
            DatabaseUrl::Sqlite(path) => rusqlite::Connection::open(&path)
                .and_then(|db| db.query_row(&sql, [], |row| row.get(0)))
                .unwrap_or_else(|e| panic!("{sql} in {}: {e}", path.display())),
            DatabaseUrl::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
                tokio::spawn(connection);
                let row = client
                    .query_one(&sql, &[])
                    .await
                    .unwrap_or_else(|e| panic!("{sql} on {url}: {e}"));
                row.get(0)
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Server logs go to the test output (shown for failing tests); the
/// filter comes from `GIFCHAT_TEST_LOG` (default: warnings).
fn init_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let filter = std::env::var("GIFCHAT_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    });
}

/// Binds, retrying briefly: a restarted server reuses its port.
async fn bind(addr: SocketAddr) -> TcpListener {
    for _ in 0..50 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not bind {addr}");
}

/// A visitor: a browser-like client with its own cookie jar that does not
/// follow redirects (so tests see the 303s).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    /// The same visitor (same cookie jar), opening every stream on a new
    /// connection, as curl or a proxy does: those are the connections the
    /// server answers without hyper. A stream on a kept-alive connection
    /// is tested on its own (streams.rs).
    streams: reqwest::Client,
    pub base: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// Asserts the API.md error shape and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status of: {}", self.text);
        let body = self.json();
        assert_eq!(body["error"], code, "error code of: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "an error needs a human message: {body}"
        );
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client::tuned(base, |builder| builder)
    }

    /// A visitor whose HTTP clients `tune` sets up further (HTTPS roots,
    /// protocol versions).
    pub fn tuned(
        base: &str,
        tune: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let build = |pooled: bool| {
            let builder = tune(reqwest::Client::builder())
                .cookie_provider(jar.clone())
                .redirect(redirect::Policy::none());
            let builder = if pooled {
                builder
            } else {
                builder.pool_max_idle_per_host(0)
            };
            builder.build().expect("http client")
        };
        Client {
            http: build(true),
            streams: build(false),
            base: base.to_owned(),
        }
    }

    /// The same visitor (same cookies) at another server on this host:
    /// cookies belong to the host, whatever its port.
    pub fn at(&self, base: &str) -> Client {
        Client {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request built by hand and reads its answer.
    pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        Answer {
            status,
            headers,
            text,
        }
    }

    /// GET with `Accept: application/json`.
    pub async fn get_json(&self, path: &str) -> Answer {
        Client::answer(
            self.http
                .get(self.url(path))
                .header("accept", "application/json"),
        )
        .await
    }

    /// GET as a browser navigating to a page.
    pub async fn get_html(&self, path: &str) -> Answer {
        Client::answer(
            self.http
                .get(self.url(path))
                .header("accept", "text/html,application/xhtml+xml"),
        )
        .await
    }

    /// POST a JSON body, asking for JSON.
    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        Client::answer(
            self.http
                .post(self.url(path))
                .header("accept", "application/json")
                .json(&body),
        )
        .await
    }

    /// PATCH a JSON body, asking for JSON.
    pub async fn patch_json(&self, path: &str, body: Value) -> Answer {
        Client::answer(
            self.http
                .patch(self.url(path))
                .header("accept", "application/json")
                .json(&body),
        )
        .await
    }

    /// DELETE, asking for JSON.
    pub async fn delete(&self, path: &str) -> Answer {
        Client::answer(
            self.http
                .delete(self.url(path))
                .header("accept", "application/json"),
        )
        .await
    }

    /// The events of a room's newest history page (up to 200).
    pub async fn history(&self, room: &str) -> Vec<Value> {
        let answer = self
            .get_json(&format!("/rooms/{room}/messages?limit=200"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()["events"].as_array().expect("events").clone()
    }

    /// POST an HTML form, as a browser does.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        Client::answer(
            self.http
                .post(self.url(path))
                .header("accept", "text/html")
                .header("referer", self.url("/rooms/new"))
                .form(fields),
        )
        .await
    }

    /// POST raw bytes with a content type, asking for JSON.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> Answer {
        Client::answer(
            self.http
                .post(self.url(path))
                .header("accept", "application/json")
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// POST a multipart form with `bytes` in the field `gif` under the
    /// client-side `file_name` (sent as is, not percent-encoded), asking
    /// for JSON.
    pub async fn post_gif(&self, room: &str, file_name: &str, bytes: Vec<u8>) -> Answer {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("image/gif")
            .expect("mime");
        let form = reqwest::multipart::Form::new()
            .percent_encode_noop()
            .part("gif", part);
        Client::answer(
            self.http
                .post(self.url(&format!("/rooms/{room}/gifs")))
                .header("accept", "application/json")
                .multipart(form),
        )
        .await
    }

    pub async fn create_room(&self, title: &str, max: u32, password: Option<&str>) -> Value {
        let answer = self
            .post_json(
                "/rooms",
                json!({ "title": title, "max": max, "password": password.unwrap_or("") }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()
    }

    /// Posts a chat message and returns the stored event.
    /// Creates a room (as [`Client::create_room`]) and returns its id.
    pub async fn new_room(&self, title: &str, max: u32, password: Option<&str>) -> String {
        let room = self.create_room(title, max, password).await;
        room["id"].as_str().expect("the room's id").to_owned()
    }

    pub async fn say(&self, room: &str, chat: &str) -> Value {
        let answer = self
            .post_json(&format!("/rooms/{room}/messages"), json!({ "chat": chat }))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()
    }

    pub async fn me(&self) -> Value {
        self.get_json("/me").await.json()
    }

    /// Opens an SSE stream, optionally resuming with a `Last-Event-ID` header.
    pub async fn sse(&self, path: &str, last_event_id: Option<i64>) -> Sse {
        self.try_sse(path, last_event_id)
            .await
            .expect("stream opened")
    }

    /// Like `sse`, but a refused connection (a restarting server) is `None`.
    pub async fn try_sse(&self, path: &str, last_event_id: Option<i64>) -> Option<Sse> {
        let mut request = self
            .streams
            .get(self.url(path))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.ok()?;
        response.status().is_success().then(|| Sse::new(response))
    }
}

/// One SSE event block.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<String>,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().unwrap_or("null")).expect("data is JSON")
    }

    pub fn id_number(&self) -> Option<i64> {
        self.id.as_deref().map(|id| id.parse().expect("numeric id"))
    }

    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// A minimal EventSource: parses blocks, records comments.
pub struct Sse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send + Unpin>,
    buffer: String,
    pub comments: Vec<String>,
    pub closed: bool,
}

impl Sse {
    fn new(response: reqwest::Response) -> Sse {
        Sse {
            status: response.status(),
            headers: response.headers().clone(),
            body: Box::new(response.bytes_stream()),
            buffer: String::new(),
            comments: Vec::new(),
            closed: false,
        }
    }

    /// The next block (comment-only blocks are recorded and skipped), or
    /// `None` when the stream ended or nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.parse_block() {
                return Some(event);
            }
            if self.closed {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_))) | Ok(None) => self.closed = true,
            }
        }
    }

    pub async fn next(&mut self) -> Option<SseEvent> {
        self.next_within(Duration::from_secs(10)).await
    }

    /// The next event of type `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Option<SseEvent> {
        while let Some(event) = self.next().await {
            if event.kind() == kind {
                return Some(event);
            }
        }
        None
    }

    /// Reads events until `n` stored ones (with ids and data; the
    /// `cursor` event only says where the stream stands) have arrived.
    pub async fn stored(&mut self, n: usize) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next().await {
                Some(event)
                    if event.id.is_some() && event.data.is_some() && event.kind() != "cursor" =>
                {
                    out.push(event)
                }
                Some(_) => {}
                None => panic!("stream ended after {} of {n} stored events", out.len()),
            }
        }
        out
    }

    fn parse_block(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = SseEvent::default();
            let mut has_field = false;
            for line in block.lines().filter(|line| !line.is_empty()) {
                if let Some(comment) = line.strip_prefix(':') {
                    self.comments.push(comment.trim().to_owned());
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                has_field = true;
                match field {
                    "id" => event.id = Some(value),
                    "event" => event.event = Some(value),
                    "data" => {
                        assert!(event.data.is_none(), "one data line per event: {block:?}");
                        event.data = Some(value)
                    }
                    "retry" => event.retry = Some(value),
                    other => panic!("unknown SSE field {other:?} in {block:?}"),
                }
            }
            if has_field {
                return Some(event);
            }
        }
    }
}

/// A room owned by the first client, with every client (named as given)
/// present in it, each holding a stream, in arrival order.
pub async fn room_with(app: &TestApp, names: &[&str]) -> (String, Vec<Client>, Vec<Sse>) {
    let mut clients = Vec::new();
    for name in names {
        let client = app.client();
        client.post_json("/me", json!({ "name": name })).await;
        clients.push(client);
    }
    let room = clients[0].create_room("Life", 20, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut streams = Vec::new();
    for client in &clients {
        let mut sse = client.sse(&format!("/rooms/{id}/events"), None).await;
        sse.next_of("members").await.unwrap();
        streams.push(sse);
        // Distinct arrival order for "present longest".
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (id, clients, streams)
}

/// The client's user id.
pub async fn user_id(client: &Client) -> String {
    client.me().await["id"].as_str().unwrap().to_owned()
}

/// Polls `check` until it holds or `wait` passes.
pub async fn eventually<F, Fut>(wait: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored event of a room as its creator-independent history (ids).
/// The texts of the room's `system` notices (join, leave, ownership),
/// oldest first, from the newest 200 events of its history.
pub async fn notices(client: &Client, room: &str) -> Vec<String> {
    let page = client
        .get_json(&format!("/rooms/{room}/messages?limit=200"))
        .await;
    page.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "system")
        .map(|e| e["chat"].as_str().expect("a notice's text").to_owned())
        .collect()
}

pub async fn history_ids(client: &Client, room: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/rooms/{room}/messages?limit=200&before={b}"),
            None => format!("/rooms/{room}/messages?limit=200"),
        };
        let page = client.get_json(&path).await.json();
        let events = page["events"].as_array().expect("events").clone();
        let mut page_ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        page_ids.append(&mut ids);
        ids = page_ids;
        if !page["has_more"].as_bool().unwrap() || events.is_empty() {
            return ids;
        }
        before = ids.first().copied();
    }
}

/// Where the real binary keeps its data: the data and uploads folders in a
/// temporary directory and, on PostgreSQL, a database of its own. A
/// `Binary` started again on the same installation finds the same data.
pub struct Installation {
    pub dir: TempDir,
    pub database: Option<DatabaseUrl>,
}

impl Installation {
    pub async fn new() -> Installation {
        Installation {
            dir: TempDir::new().expect("temp dir"),
            database: crate::backend::new_database().await,
        }
    }
}

/// `--database <URL>` naming `database`, or nothing.
pub fn database_args(database: Option<&DatabaseUrl>) -> Vec<String> {
    database.map_or_else(Vec::new, |database| {
        vec!["--database".to_owned(), database.as_str().into_owned()]
    })
}

/// The real `gifchat` binary as a child process on a fresh port, for what
/// only a process of its own shows: a SIGKILL, its memory.
pub struct Binary {
    child: std::process::Child,
    pub base: String,
}

impl Binary {
    /// Starts the binary on `installation` with `args` after the data
    /// flags, and waits until it answers `/healthz`.
    pub async fn start(installation: &Installation, args: &[&str]) -> Binary {
        let dir = installation.dir.path();
        // Bind port 0 to find a free port, then hand it to the binary.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gifchat"))
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--uploads-dir")
            .arg(dir.join("uploads"))
            .args(database_args(installation.database.as_ref()))
            .args(["--log", "warn"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gifchat starts");
        let base = format!("http://127.0.0.1:{port}");
        let probe = Client::new(&base);
        let up = eventually(Duration::from_secs(20), || async {
            probe.http.get(probe.url("/healthz")).send().await.is_ok()
        })
        .await;
        assert!(up, "the server answered /healthz");
        Binary { child, base }
    }

    /// A line of `/proc/<pid>/status` in KiB, e.g. `VmHWM` (peak resident
    /// memory) or `VmRSS`.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("killed");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
