//! Long-poll clients: each keeps one keep-alive connection and its own
//! session (the cookie from its first answer), and asks
//! `GET /rooms/{id}/poll?after=N` again as soon as an answer arrives.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use memchr::memmem;

use crate::{
    http::{Conn, cookie_line, err},
    sse::{MARKER, Shared},
    stats::Seen,
};

pub struct Poller {
    addr: SocketAddr,
    conn: Conn,
    cookie: Option<String>,
    after: Option<i64>,
    room: Arc<str>,
    timeout_secs: u64,
}

/// Connects and makes the first poll, which answers at once (with the
/// members snapshot) and gives the session cookie.
pub async fn open(addr: SocketAddr, room: Arc<str>, timeout_secs: u64) -> std::io::Result<Poller> {
    let mut poller = Poller {
        addr,
        conn: Conn::connect(addr).await?,
        cookie: None,
        after: None,
        room,
        timeout_secs,
    };
    poller.poll(None).await?;
    if poller.cookie.is_none() {
        return Err(err("the first poll set no session cookie"));
    }
    Ok(poller)
}

impl Poller {
    async fn poll(&mut self, shared: Option<(&Shared, &mut Seen)>) -> std::io::Result<()> {
        let after = self
            .after
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let request = format!(
            "GET /rooms/{}/poll?timeout={}{after} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n{}\r\n",
            self.room,
            self.timeout_secs,
            cookie_line(self.cookie.as_deref()),
        );
        let limit = Duration::from_secs(self.timeout_secs + 30);
        let response = self.conn.request_within(request.as_bytes(), limit).await?;
        if response.head.status != 200 {
            return Err(err(format!("poll answered {}", response.head.status)));
        }
        if let Some(cookie) = response.head.cookie {
            self.cookie = Some(cookie);
        }
        let body = &response.body;
        let last = memmem::rfind(body, b"\"last_event_id\":")
            .and_then(|at| {
                let digits = &body[at + 16..];
                let end = digits.iter().position(|b| !b.is_ascii_digit())?;
                std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
            })
            .ok_or_else(|| err("poll answer without last_event_id"))?;
        if let Some((shared, seen)) = shared {
            let now = shared.now_ns();
            if shared.measuring.load(Relaxed) {
                shared.answers.fetch_add(1, Relaxed);
                shared.answer_bytes.fetch_add(body.len() as u64, Relaxed);
                let count = |kind: &[u8]| memmem::find_iter(body, kind).count() as u64;
                shared
                    .snapshots
                    .fetch_add(count(b"\"type\":\"members\""), Relaxed);
                shared
                    .notices
                    .fetch_add(count(b"\"type\":\"system\""), Relaxed);
            }
            for at in memmem::find_iter(body, MARKER) {
                shared.receive(seen, &body[at + MARKER.len()..], now);
            }
            if self.after.is_some_and(|before| last < before) {
                shared.out_of_order.fetch_add(1, Relaxed);
            }
        }
        self.after = Some(last);
        Ok(())
    }
}

/// Polls until the benchmark stops; returns which messages arrived.
pub async fn run(mut poller: Poller, shared: Arc<Shared>) -> Seen {
    let mut seen = Seen::new(shared.messages);
    let stop = shared.stop.clone();
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    loop {
        let result = tokio::select! {
            biased;
            _ = &mut cancelled => break,
            result = poller.poll(Some((&shared, &mut seen))) => result,
        };
        if result.is_err() {
            shared.failed.fetch_add(1, Relaxed);
            // A broken connection is replaced; the session goes on.
            match Conn::connect(poller.addr).await {
                Ok(conn) => poller.conn = conn,
                Err(_) => {
                    shared.ended.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
    }
    seen
}
