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

#[tokio::test]
async fn a_stream_on_a_new_connection_runs_until_the_connection_closes() {
    let app = TestApp::spawn().await;
    let alice = app.client();
    let room = alice.create_room("Wire", 10, None).await;
    let id = room["id"].as_str().unwrap();

    let mut viewer = TcpStream::connect(app.addr).await.unwrap();
    viewer
        .write_all(stream_request(&format!("/rooms/{id}/events")).as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let text = read_until(&mut viewer, &mut seen, "event: members").await;
    let head = head_of(&text);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        head.contains("set-cookie: "),
        "a new visitor gets a session: {head}"
    );
    assert!(head.contains("date: "), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
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
