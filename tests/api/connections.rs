//! Stream connections on the wire: one that opens with its stream request
//! (curl, a proxy, the benchmark) and one that was kept alive from an
//! earlier request are answered differently, and must behave the same.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, eventually};

/// Reads from `stream` until `needle` has arrived (within 5 s); returns
/// everything read so far.
async fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, needle: &str) -> String {
    let mut buffer = [0u8; 4096];
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(seen).contains(needle) {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "connection closed before {needle:?}: {seen:?}");
            seen.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(seen).into_owned();
    assert!(found.is_ok(), "no {needle:?} within 5 s in {text:?}");
    text
}

/// The head of an answer, lower-cased, from what was read.
fn head_of(text: &str) -> String {
    text.split("\r\n\r\n").next().unwrap().to_ascii_lowercase()
}

fn stream_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
}

/// A viewer of room `id` on a connection of its own, as curl opens one,
/// once its stream has started (the `members` snapshot arrived); with what
/// was read so far.
async fn raw_viewer(app: &TestApp, id: &str) -> (TcpStream, Vec<u8>) {
    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    viewer
        .write_all(stream_request(&format!("/rooms/{id}/events")).as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    read_until(&mut viewer, &mut seen, "event: members").await;
    (viewer, seen)
}

#[tokio::test]
async fn a_stream_on_a_new_connection_is_chunked_and_runs_until_the_connection_closes() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Wire", 10, None).await;
    let id = room["id"].as_str().unwrap();

    let (mut viewer, mut seen) = raw_viewer(&app, id).await;
    let head = head_of(&String::from_utf8_lossy(&seen));
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        head.contains("set-cookie: "),
        "a new visitor gets a session: {head}"
    );
    assert!(head.contains("date: "), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");

    let said = alice.say(id, "over the wire").await;
    let text = read_until(&mut viewer, &mut seen, "over the wire").await;
    assert!(text.contains(&format!("id: {}\nevent: chat\ndata: ", said["id"])));

    // Two present; the viewer hangs up and is gone after the grace period.
    let count =
        || async { alice.get_json(&format!("/rooms/{id}/members")).await.json()["count"].clone() };
    let _alice_watching = alice.sse(&format!("/rooms/{id}/events"), None).await;
    assert!(eventually(Duration::from_secs(5), || async { count().await == 2 }).await);
    drop(viewer);
    assert!(
        eventually(Duration::from_secs(5), || async { count().await == 1 }).await,
        "a viewer who hung up leaves"
    );
}

/// Reads an answer's body the way Python's `requests` (urllib3) does for
/// `iter_content(chunk_size=1024)`: a chunked body chunk by chunk, as each
/// whole chunk arrives; any other body in reads of 1024 bytes, each
/// waiting until it has them all. (sseclient-py reads streams so.)
struct ReadsLikeRequests {
    stream: TcpStream,
    /// Read off the socket, not handed out yet.
    buffered: Vec<u8>,
    chunked: bool,
}

impl ReadsLikeRequests {
    /// Sends `request` and reads the answer's head.
    async fn open(app: &TestApp, request: &str) -> (ReadsLikeRequests, String) {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let text = read_until(&mut stream, &mut seen, "\r\n\r\n").await;
        let head = head_of(&text);
        let body_start = text.find("\r\n\r\n").unwrap() + 4;
        let reader = ReadsLikeRequests {
            stream,
            buffered: seen[body_start..].to_vec(),
            chunked: head.contains("transfer-encoding: chunked"),
        };
        (reader, head)
    }

    async fn fill(&mut self, at_least: usize) {
        let mut buffer = [0u8; 4096];
        while self.buffered.len() < at_least {
            let n = self.stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the connection closed");
            self.buffered.extend_from_slice(&buffer[..n]);
        }
    }

    /// The next piece `iter_content` would yield.
    async fn next_piece(&mut self) -> Vec<u8> {
        if !self.chunked {
            self.fill(1024).await;
            return self.buffered.drain(..1024).collect();
        }
        let line_end = loop {
            if let Some(at) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                break at;
            }
            let want = self.buffered.len() + 1;
            self.fill(want).await;
        };
        let size_line = String::from_utf8(self.buffered[..line_end].to_vec()).unwrap();
        let size = usize::from_str_radix(&size_line, 16).expect("a chunk size");
        self.fill(line_end + 2 + size + 2).await;
        let chunk: Vec<u8> = self.buffered.drain(..line_end + 2 + size + 2).collect();
        assert_eq!(
            &chunk[line_end + 2 + size..],
            b"\r\n",
            "a chunk ends with CRLF"
        );
        chunk[line_end + 2..line_end + 2 + size].to_vec()
    }

    /// Pieces until one holds `needle`, within `wait`; whether it came.
    async fn until(&mut self, needle: &str, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            loop {
                let piece = self.next_piece().await;
                if String::from_utf8_lossy(&piece).contains(needle) {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }
}

#[tokio::test]
async fn a_client_reading_by_chunks_as_requests_does_gets_each_event_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("By chunks", 10, None).await;
    let id = room["id"].as_str().unwrap();

    for path in [format!("/rooms/{id}/events"), format!("/events?rooms={id}")] {
        let (mut viewer, head) = ReadsLikeRequests::open(&app, &stream_request(&path)).await;
        assert!(head.starts_with("http/1.1 200 ok\r\n"), "{path}: {head}");
        assert!(viewer.chunked, "{path}: {head}");
        assert!(viewer.until("event: members", Duration::from_secs(2)).await);
        // One short event alone, with nothing after it to push it through.
        let chat = format!("alone on {path}");
        alice.say(id, &chat).await;
        assert!(
            viewer.until(&chat, Duration::from_secs(2)).await,
            "{path}: a lone event was held back"
        );
    }
}

#[tokio::test]
async fn an_http_1_0_stream_runs_until_the_connection_closes() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Old client", 10, None).await;
    let id = room["id"].as_str().unwrap();

    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    let request = format!("GET /rooms/{id}/events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n");
    viewer.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let text = read_until(&mut viewer, &mut seen, "event: members").await;
    let head = head_of(&text);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        !head.contains("transfer-encoding"),
        "HTTP/1.0 has no chunks: {head}"
    );
    assert!(!head.contains("content-length"), "{head}");
    let said = alice.say(id, "the old way").await;
    let text = read_until(&mut viewer, &mut seen, "the old way").await;
    assert!(text.contains(&format!("id: {}\nevent: chat\ndata: ", said["id"])));
}

#[tokio::test]
async fn a_stream_on_a_kept_alive_connection_is_served_as_well() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Reused", 10, None).await;
    let id = room["id"].as_str().unwrap();

    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    viewer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    read_until(&mut viewer, &mut seen, "\r\n\r\n").await;
    let length: usize = head_of(&String::from_utf8_lossy(&seen))
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("healthz has a length")
        .parse()
        .unwrap();
    let head_len = String::from_utf8_lossy(&seen).find("\r\n\r\n").unwrap() + 4;
    while seen.len() < head_len + length {
        let mut buffer = [0u8; 1024];
        let n = viewer.read(&mut buffer).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buffer[..n]);
    }

    // The same connection, now for a stream.
    viewer
        .write_all(stream_request(&format!("/rooms/{id}/events")).as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let text = read_until(&mut viewer, &mut seen, "event: members").await;
    let head = head_of(&text);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");

    let said = alice.say(id, "same connection").await;
    let text = read_until(&mut viewer, &mut seen, "same connection").await;
    assert!(text.contains(&format!("id: {}\nevent: chat\ndata: ", said["id"])));
}

#[tokio::test]
async fn a_refused_stream_on_a_new_connection_gets_a_whole_error() {
    let app = TestApp::spawn().await;
    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    viewer
        .write_all(stream_request("/rooms/no-such-room/events").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), viewer.read_to_end(&mut answer))
        .await
        .expect("the connection closes after the answer")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 404 not found\r\n"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"], "not_found");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn a_stream_request_sent_in_pieces_is_served_as_well() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Pieces", 10, None).await;
    let id = room["id"].as_str().unwrap();

    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    let request = stream_request(&format!("/rooms/{id}/events"));
    let (first, rest) = request.split_at(20);
    viewer.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    viewer.write_all(rest.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let text = read_until(&mut viewer, &mut seen, "event: members").await;
    assert!(head_of(&text).starts_with("http/1.1 200 ok\r\n"), "{text}");

    let said = alice.say(id, "in pieces").await;
    let text = read_until(&mut viewer, &mut seen, "in pieces").await;
    assert!(text.contains(&format!("id: {}\nevent: chat\ndata: ", said["id"])));
}

/// An HTTP/2 connection (cleartext, prior knowledge) and its driver task.
async fn h2_connection(
    app: &TestApp,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("an HTTP/2 handshake");
    (sender, tokio::spawn(connection))
}

fn h2_get(path: &str) -> hyper::Request<http_body_util::Empty<bytes::Bytes>> {
    hyper::Request::get(format!("http://localhost{path}"))
        .body(http_body_util::Empty::new())
        .unwrap()
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let app = TestApp::spawn_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let (mut sender, connection) = h2_connection(&app).await;
    let answer = sender.send_request(h2_get("/healthz")).await.unwrap();
    assert_eq!(answer.status(), 200);
    drop(answer);
    let closed = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(closed.is_ok(), "the server closed the idle connection");
}

#[tokio::test]
async fn an_http2_connection_carrying_a_stream_is_not_idle() {
    use http_body_util::BodyExt;
    let app = TestApp::spawn_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let alice = app.client();
    let room = alice.create_room("Multiplexed", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let (mut sender, connection) = h2_connection(&app).await;
    let answer = sender
        .send_request(h2_get(&format!("/rooms/{id}/events")))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mut body = answer.into_body();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!connection.is_finished(), "a stream is a request in flight");
    alice.say(id, "still here").await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("still here") {
            let frame = body.frame().await.unwrap().unwrap();
            if let Some(data) = frame.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
            }
        }
    })
    .await;
    assert!(found.is_ok(), "{seen}");
}

#[tokio::test]
async fn a_client_that_keeps_sending_after_its_stream_request_is_cut_off() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Chatty", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let (mut viewer, _) = raw_viewer(&app, id).await;
    // Junk after the request: a little is ignored, a lot is a hang-up.
    let _ = viewer.write_all(&[b'x'; 64 * 1024]).await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), viewer.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server closed the connection");
}

#[tokio::test]
async fn a_head_on_a_stream_or_poll_does_not_join_the_room() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Heads", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let peeker = app.client();
    for path in [format!("/rooms/{id}/events"), format!("/rooms/{id}/poll")] {
        let answer = peeker.http.head(peeker.url(&path)).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{path}");
    }
    let events = peeker.http.head(peeker.url(&format!("/rooms/{id}/events")));
    let answer = events.send().await.unwrap();
    assert_eq!(answer.headers()["content-type"], "text/event-stream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let members = alice.get_json(&format!("/rooms/{id}/members")).await.json();
    assert_eq!(members["count"], 0, "{members}");
    let history = alice
        .get_json(&format!("/rooms/{id}/messages"))
        .await
        .json();
    assert_eq!(history["events"], serde_json::json!([]), "no join notice");
    // And a HEAD is refused where a GET would be.
    let unknown = peeker.http.head(peeker.url("/rooms/nope/events")).send();
    assert_eq!(unknown.await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn streams_are_counted_by_what_serves_them() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Gauged", 10, None).await;
    let id = room["id"].as_str().unwrap();
    let (direct, _) = raw_viewer(&app, id).await;
    let (mut sender, _connection) = h2_connection(&app).await;
    let over_h2 = sender.send_request(h2_get("/events")).await.unwrap();
    assert_eq!(over_h2.status(), 200);
    let gauge = |served_by: &'static str| {
        let alice = alice.clone();
        async move {
            let text = alice.get_json("/metrics").await.text;
            crate::operations::sample(
                &text,
                &format!("gifchat_streams{{served_by=\"{served_by}\"}}"),
            )
        }
    };
    assert_eq!(gauge("direct").await, Some(1.0));
    assert_eq!(gauge("hyper").await, Some(1.0));
    drop(direct);
    assert!(
        eventually(Duration::from_secs(5), || async {
            gauge("direct").await == Some(0.0)
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stops_reading_does_not_hold_shutdown() {
    let mut app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Stalled", 10, None).await;
    let id = room["id"].as_str().unwrap().to_owned();
    // A viewer with a tiny receive window that never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    stalled
        .write_all(stream_request(&format!("/rooms/{id}/events")).as_bytes())
        .await
        .unwrap();
    read_until(&mut stalled, &mut Vec::new(), "event: members").await;
    // Far more than the socket buffers hold, so the server's writes stall.
    let long = "x".repeat(2000);
    let posters: Vec<_> = (0..8)
        .map(|_| {
            let (client, id, long) = (app.client(), id.clone(), long.clone());
            tokio::spawn(async move {
                for _ in 0..400 {
                    client.say(&id, &long).await;
                }
            })
        })
        .collect();
    for poster in posters {
        poster.await.unwrap();
    }
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        started.elapsed()
    );
    drop(stalled);
}
