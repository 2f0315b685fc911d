//! A refused request must not break the next one on the same connection.
//!
//! Each test speaks HTTP/1.1 by hand on one kept-alive connection, as a
//! browser or an HTTP library does: a request the server refuses before
//! reading its body (cross-site, rate limit, too large, wrong type, not
//! admitted), then an ordinary request. Either the server read and
//! discarded the small body and the same connection serves the next
//! request, or it said `Connection: close` so that the client opens a new
//! one; never a connection closed under the next request.

use std::time::Duration;

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::TestApp;

/// An answer read off the wire.
pub struct WireAnswer {
    pub status: u16,
    /// Lowercased.
    pub head: String,
    /// As sent (cookie values keep their case).
    pub raw_head: String,
    pub body: Vec<u8>,
}

impl WireAnswer {
    pub fn says_close(&self) -> bool {
        self.head.contains("\r\nconnection: close\r\n")
    }
}

/// Writes `request` (head and body) and reads one whole answer.
/// The head goes first and the body a moment later, as many clients write
/// them: the server may answer before the body has arrived.
async fn exchange(conn: &mut TcpStream, request: &[u8]) -> Option<WireAnswer> {
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(request.len(), |at| at + 4);
    let (head, body) = request.split_at(head_end);
    conn.write_all(head).await.ok()?;
    if !body.is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A server that closed meanwhile may refuse the body; the answer
        // may still be there to read.
        let _ = conn.write_all(body).await;
    }
    read_answer(conn).await
}

/// One answer with a `Content-Length` body; `None` when the connection
/// closed (or broke) before a whole answer came.
pub async fn read_answer(conn: &mut TcpStream) -> Option<WireAnswer> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 8192];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end + 2].to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .map_or(0, |l| l.trim().parse().unwrap());
                if seen.len() >= end + 4 + length {
                    let status = head[9..12].parse().unwrap();
                    let body = seen[end + 4..end + 4 + length].to_vec();
                    let raw_head = text[..end + 2].to_owned();
                    return Some(WireAnswer {
                        status,
                        head,
                        raw_head,
                        body,
                    });
                }
            }
            match conn.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.expect("an answer or a close within 10 s")
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends `refused` on a fresh connection, expects `status`, then an
/// ordinary request, which must succeed: on the same connection, or on a
/// new one when the refusal said `Connection: close`. Returns whether the
/// connection was kept.
async fn refused_then_ordinary(app: &TestApp, refused: &[u8], status: u16) -> bool {
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    let answer = exchange(&mut conn, refused)
        .await
        .expect("the refusal is answered");
    assert_eq!(answer.status, status, "{}", answer.head);
    // Give a server that would close the connection time to do so.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = !answer.says_close();
    if !kept {
        conn = TcpStream::connect(app.addr).await.unwrap();
    }
    let next = exchange(
        &mut conn,
        b"GET /rooms HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
    )
    .await
    .unwrap_or_else(|| {
        panic!("the connection was kept alive after a {status}, but the next request was lost")
    });
    assert_eq!(next.status, 200, "{}", next.head);
    kept
}

async fn public_room(app: &TestApp) -> String {
    let room = app.client().create_room("Edges", 10, None).await;
    room["id"].as_str().unwrap().to_owned()
}

/// An upload of a "GIF" of `size` bytes (a signature, then filler).
fn gif_upload(room: &str, size: usize) -> Vec<u8> {
    let mut body =
        b"--b\r\nContent-Disposition: form-data; name=\"gif\"; filename=\"a.gif\"\r\n\r\nGIF89a"
            .to_vec();
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(b"\r\n--b--\r\n");
    request(
        "POST",
        &format!("/rooms/{room}/gifs"),
        &[("Content-Type", "multipart/form-data; boundary=b")],
        &body,
    )
}

fn chat_body(len: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({ "chat": "x".repeat(len) })).unwrap()
}

#[tokio::test]
async fn a_cross_site_refusal_keeps_the_connection_usable() {
    let app = TestApp::spawn().await;
    let room = public_room(&app).await;
    let refused = request(
        "POST",
        &format!("/rooms/{room}/messages"),
        &[
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
        &chat_body(1000),
    );
    assert!(
        refused_then_ordinary(&app, &refused, 403).await,
        "a small unread body is read and discarded, so the connection stays"
    );
}

#[tokio::test]
async fn a_rate_limit_refusal_keeps_the_connection_usable() {
    let app = TestApp::spawn_with(|c| {
        c.post_rate = 0.01;
        c.post_burst = 1;
    })
    .await;
    let room = public_room(&app).await; // the address's burst allows this
    let mut refusals = 0;
    for _ in 0..6 {
        let post = request(
            "POST",
            &format!("/rooms/{room}/messages"),
            &[("Content-Type", "application/json")],
            &chat_body(2000),
        );
        let mut conn = TcpStream::connect(app.addr).await.unwrap();
        let status = exchange(&mut conn, &post).await.unwrap().status;
        if status == 429 {
            refusals += 1;
            assert!(refused_then_ordinary(&app, &post, 429).await);
            break;
        }
    }
    assert_eq!(refusals, 1, "the address ran out of posts");
}

#[tokio::test]
async fn a_body_over_the_limit_does_not_break_the_next_request() {
    let app = TestApp::spawn().await;
    let room = public_room(&app).await;
    let refused = request(
        "POST",
        &format!("/rooms/{room}/messages"),
        &[("Content-Type", "application/json")],
        &chat_body(100_000),
    );
    refused_then_ordinary(&app, &refused, 413).await;
}

#[tokio::test]
async fn an_upload_declared_too_large_does_not_break_the_next_request() {
    let app = TestApp::spawn_with(|c| c.max_upload = 1024).await;
    let room = public_room(&app).await;
    let refused = gif_upload(&room, 200 * 1024);
    refused_then_ordinary(&app, &refused, 413).await;
}

#[tokio::test]
async fn an_upload_of_the_wrong_type_does_not_break_the_next_request() {
    let app = TestApp::spawn().await;
    let room = public_room(&app).await;
    let refused = request(
        "POST",
        &format!("/rooms/{room}/gifs"),
        &[("Content-Type", "image/gif")],
        &vec![b'G'; 20_000],
    );
    assert!(refused_then_ordinary(&app, &refused, 415).await);
}

#[tokio::test]
async fn an_upload_by_a_visitor_not_admitted_does_not_break_the_next_request() {
    let app = TestApp::spawn().await;
    let room = app.client().create_room("Private", 10, Some("pw")).await;
    let room = room["id"].as_str().unwrap();
    let refused = gif_upload(room, 30_000);
    assert!(refused_then_ordinary(&app, &refused, 403).await);
}

#[tokio::test]
async fn a_wrong_password_does_not_break_the_next_request() {
    let app = TestApp::spawn().await;
    let room = app.client().create_room("Locked", 10, Some("right")).await;
    let room = room["id"].as_str().unwrap();
    let refused = request(
        "POST",
        &format!("/rooms/{room}/join"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"password=wrong",
    );
    assert!(refused_then_ordinary(&app, &refused, 403).await);
}
