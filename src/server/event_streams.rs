//! Connections that open with an event-stream request (`GET /events`,
//! `GET /rooms/{id}/events`): answered here, without hyper.
//!
//! hyper keeps two 8 KiB buffers for the whole life of a connection: the
//! one it writes response heads into (allocated up front) and the read
//! buffer it refills to notice a client hanging up mid-response. A viewer's
//! stream uses neither after its first second, and with thousands of
//! viewers those buffers were most of the server's memory. So the accept
//! loop peeks at a new connection's first request ([`sniff`]); when it is
//! a stream request whose head has fully arrived, the request still goes
//! through the whole router (sessions, limits, logging, the handler), and
//! [`serve`] writes the answer: the head, then every frame as the body
//! yields it, each in a chunk of its own (as hyper frames them: clients
//! that read by chunks, as Python's `requests` does, get each event at
//! once; an HTTP/1.0 client gets a body that ends with the connection).
//! An answer that is not a stream (an error, a redirect) is written whole,
//! with its length. Everything else, including a stream request on a connection
//! already used for something else, is hyper's.
//!
//! What hyper would otherwise guard, this module guards itself: which paths
//! it takes is the router's own predicate (`routes::is_stream_path`); heads
//! it writes carry no hop-by-hop header from the handler and no length
//! where none may be; every write has a deadline, shortened at shutdown, so
//! a peer that stops reading (a zero window) holds neither memory nor the
//! drain for long; and a client that keeps sending after its request is
//! cut off after [`MAX_TRAILING_BYTES`].

use std::{
    io,
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{
        HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version, header, response::Parts,
    },
};
use bytes::{Buf, Bytes, buf::Chain};
use http_body_util::BodyExt;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::routes::{ServedDirectly, is_room_poll_path, is_stream_path};

/// Most bytes of a first request looked at: a browser's stream request,
/// cookies included, is well under this; a longer one goes to hyper.
const SNIFF_BYTES: usize = 4096;
/// Most headers in a stream request taken here.
const MAX_HEADERS: usize = 48;
/// Largest answer that is not a stream (error pages) collected to send.
const MAX_PLAIN_ANSWER: usize = 1024 * 1024;
/// Bytes a client may send after its stream request (nothing is expected:
/// the stream is the whole answer) before it is cut off.
pub const MAX_TRAILING_BYTES: usize = 1024;
/// Longest a write may wait for a peer that does not read: a viewer that
/// far behind is cut off, and resumes from its `Last-Event-ID`.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// Longest a write may wait once shutdown has begun.
const SHUTDOWN_WRITE_DEADLINE: Duration = Duration::from_secs(1);
/// Headers that describe one hop, not the answer: never copied from a
/// handler's answer into a head written here (which says its own
/// `connection` and length).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "content-length",
];

/// A stream request read off the front of a connection.
#[derive(Debug)]
pub struct StreamRequest {
    request: Request<Body>,
    /// Length of its head on the wire, still unread in the socket.
    head_len: usize,
}

/// What a connection opens with.
#[derive(Debug)]
pub enum Sniffed {
    /// A whole stream request, answered here (boxed: the other two are
    /// most connections, and carry nothing).
    Stream(Box<StreamRequest>),
    /// A room poll: the connection is `polls.rs`'s.
    RoomPoll,
    /// Anything else: hyper's.
    Other,
}

/// Waits for the connection's first bytes and looks at them without
/// consuming them.
pub async fn sniff(stream: &TcpStream) -> io::Result<Sniffed> {
    // On the heap: this future must stay small, and the buffer is gone
    // before the stream starts.
    let mut buf = vec![0u8; SNIFF_BYTES];
    let n = stream.peek(&mut buf).await?;
    let bytes = &buf[..n];
    if let Some(request) = parse(bytes) {
        return Ok(Sniffed::Stream(Box::new(request)));
    }
    Ok(match request_target(bytes) {
        Some(path) if is_room_poll_path(path) => Sniffed::RoomPoll,
        _ => Sniffed::Other,
    })
}

/// The path of a `GET` request line at the front of `bytes`, whole or not.
fn request_target(bytes: &[u8]) -> Option<&str> {
    let line = bytes.strip_prefix(b"GET ")?;
    let end = line.iter().position(|&b| b == b' ' || b == b'?')?;
    std::str::from_utf8(&line[..end]).ok()
}

impl StreamRequest {
    /// Length of its head on the wire.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    pub fn uri(&self) -> &Uri {
        self.request.uri()
    }
}

/// The stream request at the front of `bytes`, when they hold a whole one
/// that can be answered here (see [`sniff`]).
pub fn parse(bytes: &[u8]) -> Option<StreamRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = head.parse(bytes).ok()? else {
        return None;
    };
    let request = get_request(&head)?;
    if !is_stream_path(request.uri().path()) {
        return None;
    }
    Some(StreamRequest { request, head_len })
}

/// The `GET` request `head` is, without a body; `None` for another method,
/// or for one with a body or an upgrade (hyper knows what to do with
/// those).
pub fn get_request(head: &httparse::Request) -> Option<Request<Body>> {
    if head.method != Some("GET") {
        return None;
    }
    let uri = Uri::try_from(head.path?).ok()?;
    let version = match head.version? {
        0 => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .version(version);
    for h in head.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        // A request with a body (or an upgrade) is not a plain stream
        // request: hyper knows what to do with those.
        if name == header::CONTENT_LENGTH && h.value != b"0"
            || name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
        {
            return None;
        }
        request = request.header(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    request.body(Body::empty()).ok()
}

/// Answers `first` through `app` and writes the answer on `stream`, then
/// closes it. `closing` is cancelled at shutdown.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    first: StreamRequest,
    app: Router,
    closing: CancellationToken,
) {
    if let Err(e) = answer(&mut stream, peer, first, app, &closing).await {
        tracing::debug!(%peer, error = %e, "stream connection ended with an error");
    }
}

async fn answer(
    stream: &mut TcpStream,
    peer: SocketAddr,
    first: StreamRequest,
    app: Router,
    closing: &CancellationToken,
) -> io::Result<()> {
    // Take the head off the socket: it was only peeked at.
    let mut head = vec![0u8; first.head_len];
    stream.read_exact(&mut head).await?;
    drop(head);

    let mut request = first.request;
    let framing = match request.version() {
        Version::HTTP_10 => Framing::UntilClose,
        _ => Framing::Chunked,
    };
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(ServedDirectly);
    let (answer, mut body) = match app.oneshot(request).await {
        Ok(response) => response.into_parts(),
        Err(never) => match never {},
    };
    let (mut reader, mut writer) = stream.split();
    if !is_event_stream(&answer) {
        let mut whole = whole_answer(&answer, body, MAX_PLAIN_ANSWER, framing, true).await?;
        write(&mut writer, &mut whole, closing).await?;
        return writer.shutdown().await;
    }

    write(
        &mut writer,
        &mut &write_head(&answer, None, framing, true)[..],
        closing,
    )
    .await?;
    let hung_up = hung_up(&mut reader);
    tokio::pin!(hung_up);
    loop {
        let frame = tokio::select! {
            biased;
            () = &mut hung_up => return Ok(()),
            frame = body.frame() => frame,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref().filter(|data| !data.is_empty()) {
                    match framing {
                        Framing::Chunked => {
                            let size = ChunkSize::of(data.len());
                            let mut chunk =
                                Buf::chain(Buf::chain(size.as_slice(), &data[..]), &b"\r\n"[..]);
                            write(&mut writer, &mut chunk, closing).await?;
                        }
                        Framing::UntilClose => write(&mut writer, &mut &data[..], closing).await?,
                    }
                }
            }
            // The stream ended (kicked, room deleted, shutdown).
            None => {
                if let Framing::Chunked = framing {
                    write(&mut writer, &mut &b"0\r\n\r\n"[..], closing).await?;
                }
                break;
            }
            Some(Err(e)) => return Err(io::Error::other(e)),
        }
    }
    writer.shutdown().await
}

/// How a stream's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// HTTP/1.1: each frame a chunk, and the last chunk at the end.
    Chunked,
    /// HTTP/1.0, which has no chunks: the body ends with the connection.
    UntilClose,
}

/// A chunk's size line, hexadecimal digits and CRLF, made on the stack:
/// it is written once per event per viewer.
struct ChunkSize {
    bytes: [u8; 18],
    len: usize,
}

impl ChunkSize {
    fn of(size: usize) -> ChunkSize {
        let digits = (usize::BITS - size.leading_zeros()).div_ceil(4).max(1) as usize;
        let mut bytes = [0u8; 18];
        for (i, byte) in bytes[..digits].iter_mut().enumerate() {
            let nibble = (size >> (4 * (digits - 1 - i))) & 0xf;
            *byte = b"0123456789abcdef"[nibble];
        }
        bytes[digits..digits + 2].copy_from_slice(b"\r\n");
        ChunkSize {
            bytes,
            len: digits + 2,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Writes all of `bytes` (in one vectored write where it can) within
/// [`WRITE_DEADLINE`], or within [`SHUTDOWN_WRITE_DEADLINE`] once `closing`
/// is cancelled.
pub(super) async fn write(
    writer: &mut (impl AsyncWrite + Unpin),
    bytes: &mut impl Buf,
    closing: &CancellationToken,
) -> io::Result<()> {
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "the peer stopped reading");
    // One write, whose deadline may shorten while it runs: restarting it
    // would send its first bytes twice. Biased, write first: a write that
    // completes at once (nearly all of them) never arms a timer nor joins
    // the token's waiters, which would cost a lock per event per viewer.
    let write = writer.write_all_buf(bytes);
    tokio::pin!(write);
    tokio::select! {
        biased;
        written = &mut write => return written,
        () = tokio::time::sleep(WRITE_DEADLINE) => return Err(timed_out()),
        () = closing.cancelled() => {}
    }
    tokio::time::timeout(SHUTDOWN_WRITE_DEADLINE, write)
        .await
        .map_err(|_| timed_out())?
}

fn is_event_stream(answer: &Parts) -> bool {
    answer.status.is_success()
        && answer
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
}

/// A whole answer (not a stream), head and body, as the bytes to write:
/// its body collected (at most `limit` bytes), its head with its length,
/// and `Connection: close` when `close`. The body is not copied behind
/// the head: the two go out in one vectored write.
pub(super) async fn whole_answer(
    answer: &Parts,
    body: Body,
    limit: usize,
    framing: Framing,
    close: bool,
) -> io::Result<Whole> {
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(io::Error::other)?;
    let head = write_head(answer, Some(body.len()), framing, close);
    let body = if may_have_body(answer) {
        body
    } else {
        Bytes::new()
    };
    Ok(Bytes::from(head).chain(body))
}

/// A whole answer's head and body, to write.
pub(super) type Whole = Chain<Bytes, Bytes>;

/// Whether an answer with this status carries a body (RFC 9110 §6.4.1).
fn may_have_body(answer: &Parts) -> bool {
    let status = answer.status;
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// The answer's head: with the length of a whole answer, or the framing
/// of a stream's body.
pub(super) fn write_head(
    answer: &Parts,
    length: Option<usize>,
    framing: Framing,
    close: bool,
) -> Vec<u8> {
    let status = answer.status;
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &answer.headers {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    match length {
        Some(length) if may_have_body(answer) => {
            head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
        }
        None if framing == Framing::Chunked && may_have_body(answer) => {
            head.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        _ => {}
    }
    head.extend_from_slice(b"date: ");
    head.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    head.extend_from_slice(b"\r\n");
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Resolves when the client closes its side, the connection breaks, or
/// the client has sent more than [`MAX_TRAILING_BYTES`] after its request
/// (read and ignored until then).
async fn hung_up(reader: &mut (impl AsyncRead + Unpin)) {
    let mut scratch = [0u8; 64];
    let mut trailing = 0;
    loop {
        match reader.read(&mut scratch).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                trailing += n;
                if trailing > MAX_TRAILING_BYTES {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_whole_stream_requests_only() {
        let room =
            b"GET /rooms/abc/events?last_event_id=4 HTTP/1.1\r\nHost: x\r\nCookie: id=1\r\n\r\n";
        let taken = parse(room).expect("a room stream request");
        assert_eq!(taken.head_len, room.len());
        assert_eq!(taken.request.uri().query(), Some("last_event_id=4"));
        assert_eq!(taken.request.headers()["cookie"], "id=1");
        assert!(parse(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").is_some());

        // Not whole yet, not a stream, not a GET, or with a body: hyper's.
        assert!(parse(b"GET /rooms/abc/events HTTP/1.1\r\nHost: x\r\n").is_none());
        assert!(parse(b"GET /rooms/abc HTTP/1.1\r\n\r\n").is_none());
        assert!(parse(b"GET /rooms/a/b/events HTTP/1.1\r\n\r\n").is_none());
        // The router routes an empty id too (and answers 404): so do we.
        assert!(parse(b"GET /rooms//events HTTP/1.1\r\n\r\n").is_some());
        assert!(parse(b"POST /events HTTP/1.1\r\n\r\n").is_none());
        assert!(parse(b"GET /events HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").is_none());
        assert!(parse(b"GET /events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").is_none());
        assert!(parse(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").is_none());
    }

    use axum::http::Response;

    #[test]
    fn heads_close_delimit_streams_and_size_the_rest() {
        let stream = Response::builder()
            .header("content-type", "text/event-stream")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let head = String::from_utf8(write_head(&stream, None, Framing::UntilClose, true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("set-cookie: a=1\r\nset-cookie: b=2\r\n"));
        assert!(head.contains("connection: close\r\n"));
        assert!(!head.contains("content-length"));
        assert!(head.ends_with("\r\n\r\n"));

        let error = Response::builder()
            .status(403)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let head = String::from_utf8(write_head(&error, Some(12), Framing::Chunked, true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(head.contains("content-length: 12\r\n"));
    }

    #[test]
    fn heads_carry_no_hop_by_hop_header_and_no_length_where_none_may_be() {
        let mut answer = Response::builder()
            .header("content-type", "text/event-stream")
            .header("connection", "keep-alive")
            .header("keep-alive", "timeout=5")
            .header("transfer-encoding", "chunked")
            .header("upgrade", "h2c")
            .header("te", "trailers")
            .header("trailer", "x")
            .header("proxy-connection", "keep-alive")
            .header("content-length", "99")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let head = String::from_utf8(write_head(&answer, None, Framing::UntilClose, true)).unwrap();
        for name in HOP_BY_HOP {
            let lines = head.lines().filter(|l| l.starts_with(&format!("{name}:")));
            let expected = usize::from(name == "connection");
            assert_eq!(lines.count(), expected, "{name} in {head}");
        }
        assert!(head.contains("connection: close\r\n"));
        for status in [101, 204, 304] {
            answer.status = StatusCode::from_u16(status).unwrap();
            let head =
                String::from_utf8(write_head(&answer, Some(0), Framing::Chunked, true)).unwrap();
            assert!(!head.contains("content-length"), "{status}: {head}");
        }
    }

    #[test]
    fn http_1_1_streams_are_chunked_and_chunk_sizes_are_hexadecimal() {
        let stream = Response::builder()
            .header("content-type", "text/event-stream")
            .header("transfer-encoding", "chunked")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let head = String::from_utf8(write_head(&stream, None, Framing::Chunked, true)).unwrap();
        let framing = head.lines().filter(|l| l.starts_with("transfer-encoding:"));
        assert_eq!(framing.collect::<Vec<_>>(), ["transfer-encoding: chunked"]);
        assert!(!head.contains("content-length"));
        for (size, line) in [(0, "0"), (9, "9"), (10, "a"), (255, "ff"), (256, "100")] {
            let got = ChunkSize::of(size);
            assert_eq!(got.as_slice(), format!("{line}\r\n").as_bytes());
        }
        let big = ChunkSize::of(usize::MAX);
        assert_eq!(big.as_slice(), format!("{:x}\r\n", usize::MAX).as_bytes());
    }

    #[tokio::test]
    async fn a_client_sending_after_its_request_is_cut_off() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let hang_up = hung_up(&mut server);
        tokio::pin!(hang_up);
        client.write_all(&[b'x'; MAX_TRAILING_BYTES]).await.unwrap();
        let cut = tokio::time::timeout(Duration::from_millis(100), &mut hang_up).await;
        assert!(cut.is_err(), "a few bytes are ignored");
        client.write_all(b"one more").await.unwrap();
        let cut = tokio::time::timeout(Duration::from_secs(1), &mut hang_up).await;
        assert!(cut.is_ok(), "more is a hang-up");
    }
}
