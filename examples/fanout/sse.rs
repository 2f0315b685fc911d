//! SSE subscribers: one connection and one new user each, reading the room
//! stream, decoding chunks and lines by hand, and recording for every
//! benchmark message whether it arrived, twice, and how late.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::Instant,
};

use memchr::memmem;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::{
    http::{Chunked, Conn, err},
    stats::{Histogram, Seen},
};

/// What marks a benchmark message inside an event's JSON: the chat text is
/// `fo <message number> <nanoseconds since the epoch when sent>`.
pub const MARKER: &[u8] = b"\"chat\":\"fo ";
/// Lines longer than this are not benchmark messages (members snapshots
/// are); they are skipped without being kept.
const MAX_LINE: usize = 1024;
const READ_BUF: usize = 8192;

/// Counters shared by every receiving client.
pub struct Shared {
    pub epoch: Instant,
    pub messages: usize,
    pub latency: Histogram,
    /// Distinct benchmark messages received, over all clients.
    pub delivered: AtomicU64,
    pub duplicates: AtomicU64,
    /// Stored ids that did not strictly increase on one stream.
    pub out_of_order: AtomicU64,
    pub connected: AtomicUsize,
    pub failed: AtomicUsize,
    /// Streams the server ended before the benchmark did.
    pub ended: AtomicUsize,
    /// Long-poll answers received while measuring, their body bytes, and
    /// the presence events in them (`members` snapshots and `system`
    /// notices): steady pollers should get none.
    pub answers: AtomicU64,
    pub answer_bytes: AtomicU64,
    pub snapshots: AtomicU64,
    pub notices: AtomicU64,
    /// Set when the posting starts: the window those counts cover.
    pub measuring: std::sync::atomic::AtomicBool,
    pub stop: CancellationToken,
}

impl Shared {
    pub fn new(epoch: Instant, messages: usize, stop: CancellationToken) -> Shared {
        Shared {
            epoch,
            messages,
            latency: Histogram::new(),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            answers: AtomicU64::new(0),
            answer_bytes: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            notices: AtomicU64::new(0),
            measuring: std::sync::atomic::AtomicBool::new(false),
            stop,
        }
    }

    /// Records one benchmark message found in `text` (after the marker).
    pub fn receive(&self, seen: &mut Seen, text: &[u8], now_ns: u64) {
        let Some((number, sent_ns)) = parse_marked(text) else {
            return;
        };
        match seen.mark(number) {
            Some(true) => {
                self.delivered.fetch_add(1, Relaxed);
                self.latency
                    .record_us(now_ns.saturating_sub(sent_ns) / 1000);
            }
            Some(false) => {
                self.duplicates.fetch_add(1, Relaxed);
            }
            None => {}
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// `<number> <ns>"` → the two numbers.
pub fn parse_marked(text: &[u8]) -> Option<(usize, u64)> {
    let mut parts = text.splitn(3, |b| *b == b' ' || *b == b'"');
    let number = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let sent = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    Some((number, sent))
}

/// Opens a stream as a new (cookie-less) user and waits for its answer
/// head. The returned reader is then run by [`read`].
pub async fn open(addr: SocketAddr, room: &str) -> std::io::Result<Reader> {
    let mut conn = Conn::connect(addr).await?;
    let request = format!(
        "GET /rooms/{room}/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    );
    let head = tokio::time::timeout(crate::http::ANSWER_TIMEOUT, async {
        conn.send(request.as_bytes()).await?;
        conn.read_head().await
    })
    .await
    .map_err(|_| err("no stream answer in time"))??;
    if head.status != 200 {
        return Err(err(format!("stream answered {}", head.status)));
    }
    let (stream, leftover) = conn.into_parts();
    Ok(Reader {
        stream,
        leftover,
        // gifchat ends a stream by closing it; a chunked one (through a
        // proxy, say) is decoded.
        decoder: head.chunked.then(Chunked::default),
        line: Vec::with_capacity(256),
        overlong: false,
        last_id: -1,
    })
}

pub struct Reader {
    stream: tokio::net::TcpStream,
    leftover: Vec<u8>,
    decoder: Option<Chunked>,
    line: Vec<u8>,
    overlong: bool,
    last_id: i64,
}

/// Reads until the benchmark stops or the server ends the stream; returns
/// which messages arrived.
pub async fn read(mut reader: Reader, shared: Arc<Shared>) -> Seen {
    let mut seen = Seen::new(shared.messages);
    let finder = memmem::Finder::new(MARKER);
    let leftover = std::mem::take(&mut reader.leftover);
    let now = shared.now_ns();
    if reader
        .feed(&leftover, &shared, &mut seen, &finder, now)
        .is_err()
    {
        shared.ended.fetch_add(1, Relaxed);
        return seen;
    }
    drop(leftover);
    let mut buf = vec![0u8; READ_BUF];
    // Created once: a fresh `cancelled()` per read would register and
    // unregister a waiter on every wake-up.
    let stop = shared.stop.clone();
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    loop {
        let n = tokio::select! {
            biased;
            _ = &mut cancelled => break,
            n = reader.stream.read(&mut buf) => n,
        };
        match n {
            Ok(0) | Err(_) => {
                shared.ended.fetch_add(1, Relaxed);
                break;
            }
            Ok(n) => {
                let now = shared.now_ns();
                if reader
                    .feed(&buf[..n], &shared, &mut seen, &finder, now)
                    .is_err()
                {
                    shared.ended.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
    }
    seen
}

impl Reader {
    fn feed(
        &mut self,
        input: &[u8],
        shared: &Shared,
        seen: &mut Seen,
        finder: &memmem::Finder<'_>,
        now: u64,
    ) -> std::io::Result<()> {
        let Reader {
            decoder,
            line,
            overlong,
            last_id,
            ..
        } = self;
        let mut on_data = |mut data: &[u8]| {
            while !data.is_empty() {
                match memchr::memchr(b'\n', data) {
                    Some(end) => {
                        if !*overlong {
                            if line.is_empty() {
                                on_line(&data[..end], shared, seen, finder, now, last_id);
                            } else {
                                line.extend_from_slice(&data[..end]);
                                on_line(line, shared, seen, finder, now, last_id);
                            }
                        }
                        line.clear();
                        *overlong = false;
                        data = &data[end + 1..];
                    }
                    None => {
                        if !*overlong {
                            if line.len() + data.len() > MAX_LINE {
                                *overlong = true;
                                line.clear();
                            } else {
                                line.extend_from_slice(data);
                            }
                        }
                        data = &[];
                    }
                }
            }
        };
        let done = match decoder {
            Some(chunked) => chunked.feed(input, on_data)?.1,
            None => {
                on_data(input);
                false
            }
        };
        if done {
            return Err(err("stream ended"));
        }
        Ok(())
    }
}

fn on_line(
    line: &[u8],
    shared: &Shared,
    seen: &mut Seen,
    finder: &memmem::Finder<'_>,
    now: u64,
    last_id: &mut i64,
) {
    if let Some(data) = line.strip_prefix(b"data: ") {
        if let Some(at) = finder.find(data) {
            shared.receive(seen, &data[at + MARKER.len()..], now);
        }
    } else if let Some(id) = line.strip_prefix(b"id: ") {
        let id: i64 = std::str::from_utf8(id)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if id <= *last_id {
            shared.out_of_order.fetch_add(1, Relaxed);
        }
        *last_id = id;
    }
}
