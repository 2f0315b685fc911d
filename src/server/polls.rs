//! Connections that open with a room poll (`GET /rooms/{id}/poll`):
//! answered here, one request after another on the kept-alive connection,
//! without hyper.
//!
//! A long-poller's connection carries one poll after another, each waiting
//! up to its timeout. Under hyper each waiting poll held the connection's
//! buffers and the router's whole future: most of the memory of a waiting
//! poll, and, request after request, much of its CPU. Here a connection
//! holds nothing between polls but the socket and who polled last, and a
//! waiting poll holds only its feed.
//!
//! Each request's head is read into a buffer that is let go of before the
//! wait. A poll whose head is the router's last answered one on this
//! connection, but for its query, is a steady poll, answered by
//! `routes/steady.rs` (which hands back to the router anything but a
//! plain answer); any other poll goes through the whole router, as under
//! hyper. The first request that is not a `GET` of a room poll (or that
//! has a body, or a head too long) hands the connection, with the bytes
//! read of it, to hyper for good.
//!
//! What hyper would guard, this module guards: the head must arrive
//! within the header timeout (slowloris), also between requests; a client
//! that hangs up while its poll waits ends the poll (its presence then
//! lapses as under hyper); every write has the deadline of
//! `event_streams.rs`; at shutdown the poll in flight is answered (polls
//! answer when the server shuts down) and the connection is closed.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{Response, Uri},
};
use bytes::{Buf, BytesMut};
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::{
    MAX_HEAD_BYTES, Timeouts,
    event_streams::{Framing, Whole, get_request, whole_answer, write},
    serve_http,
};
use crate::routes::{Poller, REVALIDATE, SteadyPolls, is_room_poll_path};

/// Most headers in a poll's head taken here.
const MAX_HEADERS: usize = 48;
/// Largest answer collected to send: a poll answers at most 500 events.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// The router's last poll answered on this connection: its head (after
/// the request line) and who polled which room.
struct Known {
    headers: Box<[u8]>,
    poller: Poller,
    at: Instant,
}

/// A poll's head, read off the connection.
struct Head {
    /// The request line's path and query.
    target: String,
    /// Everything after the request line; `None` when it is the known
    /// poll's (not copied again: a steady poll's head is compared in the
    /// read buffer and nothing of it but the target is kept).
    headers: Option<Box<[u8]>>,
    /// HTTP/1.1 without `Connection: close`.
    keep_alive: bool,
}

/// A connection whose first request is a room poll.
pub struct PollConnection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub app: Router,
    pub steady: SteadyPolls,
    pub builder: Arc<auto::Builder<TokioExecutor>>,
    pub timeouts: Timeouts,
    pub closing: CancellationToken,
}

impl PollConnection {
    /// Serves the connection until it closes, or hands it to hyper.
    ///
    /// The connection is kept in place and its polls borrow it: an async
    /// fn taking it by value would hold each field twice for as long as
    /// the connection lasts (its arguments, and the locals they become).
    #[allow(clippy::manual_async_fn, reason = "an async fn holds `self` twice")]
    pub fn serve(mut self) -> impl Future<Output = ()> + Send {
        async move {
            let Some(unread) = self.polls().await else {
                return;
            };
            // Not a poll: hyper's, with what was read of it.
            let PollConnection {
                stream,
                peer,
                app,
                builder,
                timeouts,
                closing,
                ..
            } = self;
            let rest = Prefixed {
                prefix: unread.freeze(),
                stream,
            };
            Box::pin(serve_http(rest, peer, app, &builder, timeouts, closing)).await;
        }
    }

    /// Answers polls until the connection closes (`None`), or until a
    /// request that is not one: then what was read of it.
    async fn polls(&mut self) -> Option<BytesMut> {
        let mut known: Option<Known> = None;
        let mut unread = BytesMut::new();
        loop {
            // Biased, here and below: no random draw per poll.
            let read = tokio::select! {
                biased;
                read = tokio::time::timeout(
                    self.timeouts.header,
                    next_head(&mut self.stream, &mut unread, known.as_ref()),
                ) => read,
                () = self.closing.cancelled() => return None,
            };
            let head = match read {
                Ok(Ok(Some(head))) => head,
                Ok(Ok(None)) => return Some(unread),
                // Closed, broken, or too slow.
                Ok(Err(_)) | Err(_) => return None,
            };
            if unread.is_empty() {
                // Nothing pipelined: no buffer held while the poll waits.
                unread = BytesMut::new();
            }
            let keep_alive = head.keep_alive;
            let answered = answer(self, head, &mut known, unread.is_empty());
            let mut whole = answered.await?;
            write(&mut self.stream, &mut whole, &self.closing)
                .await
                .ok()?;
            if !keep_alive || self.closing.is_cancelled() {
                let _ = self.stream.shutdown().await;
                return None;
            }
        }
    }
}

/// The bytes of the answer to `head`; `None` when the client hung up
/// meanwhile (`watch_hang_up`: nothing of its next request was read).
async fn answer(
    connection: &PollConnection,
    head: Head,
    known: &mut Option<Known>,
    watch_hang_up: bool,
) -> Option<Whole> {
    let PollConnection {
        stream,
        peer,
        app,
        steady,
        ..
    } = connection;
    let hung_up = async {
        if watch_hang_up {
            hang_up(stream).await
        } else {
            std::future::pending().await
        }
    };
    let answering = async {
        if let Some(known) = known.as_ref().filter(|known| known.fits(&head))
            && let Some(answered) = steady_answer(steady, known, &head).await
        {
            return answered;
        }
        // Boxed: the router's future is large, and only this rare path
        // needs it.
        Box::pin(through_router(head, *peer, app, known)).await
    };
    tokio::select! {
        biased;
        bytes = answering => bytes,
        () = hung_up => None,
    }
}

/// The answer to `head`, a steady poll of `known`'s, as bytes (`None`
/// inside when it cannot be had); `None` when the router must answer it.
async fn steady_answer(steady: &SteadyPolls, known: &Known, head: &Head) -> Option<Option<Whole>> {
    let (path, query) = split_target(&head.target);
    let (answer, slot) = steady.answer(&known.poller, path, query).await?;
    let whole = whole(answer, head.keep_alive).await;
    drop(slot);
    Some(whole)
}

impl Known {
    /// Whether `head` is this poll again (its query aside), recently.
    fn fits(&self, head: &Head) -> bool {
        let (path, _) = split_target(&head.target);
        self.at.elapsed() < REVALIDATE
            && head.headers.is_none()
            && path
                .strip_prefix("/rooms/")
                .and_then(|p| p.strip_suffix("/poll"))
                == Some(self.poller.room_id.as_str())
    }
}

/// Answers `head` through the whole router, and remembers who polled for
/// the connection's next polls when it was a room poll's answer.
async fn through_router(
    head: Head,
    peer: SocketAddr,
    app: &Router,
    known: &mut Option<Known>,
) -> Option<Whole> {
    let headers = match head.headers {
        Some(headers) => headers,
        // The known poll's, as `poll_head` found.
        None => known.take()?.headers,
    };
    let mut request = request_of(&head.target, &headers)?;
    request.extensions_mut().insert(ConnectInfo(peer));
    let answer = match app.clone().oneshot(request).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    *known = answer.extensions().get::<Poller>().map(|poller| Known {
        headers,
        poller: poller.clone(),
        at: Instant::now(),
    });
    whole(answer, head.keep_alive).await
}

/// The request of `target` with `headers`, for the router.
fn request_of(target: &str, headers: &[u8]) -> Option<axum::http::Request<Body>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let line = format!("GET {target} HTTP/1.1\r\n");
    let whole_head = [line.as_bytes(), headers].concat();
    parsed.parse(&whole_head).ok()?;
    get_request(&parsed)
}

/// `answer`, head and body, as bytes to write.
async fn whole(answer: Response<Body>, keep_alive: bool) -> Option<Whole> {
    let (parts, body) = answer.into_parts();
    let whole = whole_answer(&parts, body, MAX_ANSWER, Framing::Chunked, !keep_alive);
    whole.await.ok()
}

/// Reads until `unread` holds a whole request head, and takes it: `None`
/// when it is not a room poll this module answers (then `unread` holds
/// all that was read of it).
async fn next_head(
    stream: &mut TcpStream,
    unread: &mut BytesMut,
    known: Option<&Known>,
) -> io::Result<Option<Head>> {
    loop {
        match parse_head(unread, known) {
            Parsed::Poll(head, len) => {
                unread.advance(len);
                return Ok(Some(head));
            }
            Parsed::NotAPoll => return Ok(None),
            Parsed::Partial => {}
        }
        if unread.capacity() == unread.len() {
            unread.reserve(1024);
        }
        if stream.read_buf(unread).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// What the front of the bytes read holds.
enum Parsed {
    /// A room poll's head, and its length.
    Poll(Head, usize),
    /// A request this module does not answer, whole or not, or no request
    /// at all: hyper answers it as it should.
    NotAPoll,
    /// Not a whole head yet.
    Partial,
}

fn parse_head(bytes: &[u8], known: Option<&Known>) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => match poll_head(&parsed, &bytes[..len], known) {
            Some(head) => Parsed::Poll(head, len),
            None => Parsed::NotAPoll,
        },
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD_BYTES => Parsed::Partial,
        _ => Parsed::NotAPoll,
    }
}

/// The head of a room poll answered here: a `GET` of a room's poll path
/// without a body (nor an upgrade), in HTTP/1.1.
fn poll_head(parsed: &httparse::Request, bytes: &[u8], known: Option<&Known>) -> Option<Head> {
    let target = parsed.path?;
    if parsed.method != Some("GET")
        || parsed.version != Some(1)
        || !is_room_poll_path(split_target(target).0)
    {
        return None;
    }
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")? + 2;
    let headers = &bytes[line_end..];
    let headers = if known.is_some_and(|known| *known.headers == *headers) {
        // The headers the router took last time: only the line is new.
        Uri::try_from(target).ok()?;
        None
    } else {
        get_request(parsed)?;
        Some(headers.into())
    };
    let close = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    });
    Some(Head {
        target: target.to_owned(),
        headers,
        keep_alive: !close,
    })
}

fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// Resolves when the client closes its side or the connection breaks;
/// never when it sends more (its next request, read in turn). A closure
/// over the socket rather than `peek`'s future: a waiting poll holds
/// this, and the socket keeps the waker.
fn hang_up(stream: &TcpStream) -> impl Future<Output = ()> + '_ {
    let (mut one, mut sent_more) = ([0u8; 1], false);
    std::future::poll_fn(move |cx| {
        if sent_more {
            return Poll::Pending;
        }
        match stream.poll_peek(cx, &mut ReadBuf::new(&mut one)) {
            Poll::Ready(Ok(0) | Err(_)) => Poll::Ready(()),
            Poll::Ready(Ok(_)) => {
                sent_more = true;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    })
}

/// A connection handed to hyper with the bytes already read of it.
struct Prefixed {
    prefix: bytes::Bytes,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix[..n]);
        self.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
