//! A request refused before its body was read (cross-site, rate limit,
//! too large, wrong type, not admitted) must not break the next request on
//! the same HTTP/1.1 connection.
//!
//! hyper cannot reuse a connection whose request body is still in the
//! socket, and when the refusal is answered before the body has arrived it
//! closes the connection without saying so: a keep-alive client then sends
//! its next request into a closed connection. So the connection keeps hold
//! of every request body ([`hold`]), and once the answer is ready it reads
//! and discards what the handler left unread ([`Held::finish`]), when that
//! is small and comes quickly; otherwise the answer says `Connection:
//! close` and the client opens a new connection for its next request.
//! HTTP/2 needs neither: an unread body there costs its stream only.
//!
//! This is the connection's business, not a route layer's: a layer would
//! cost every request (a waiting poll included) a boxed future of its own.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Version, header},
    response::Response,
};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

/// Most unread bytes read and discarded to keep a connection: a refused
/// form or JSON post fits many times over, a refused GIF upload does not.
const DRAIN_BYTES: u64 = 256 * 1024;
/// Longest wait for the unread rest of a body.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A request body held for [`Held::finish`].
pub struct Held {
    held: Arc<Mutex<HeldInner>>,
    declared: Option<u64>,
    expects_continue: bool,
}

/// Holds `request`'s body when it has one (on HTTP/1.x), handing the
/// handler a view of it.
pub fn hold(request: Request) -> (Request, Option<Held>) {
    if request.version() >= Version::HTTP_2 || request.body().is_end_stream() {
        return (request, None);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = request.into_parts();
    let held = Arc::new(Mutex::new(HeldInner {
        body,
        polled: false,
    }));
    let request = Request::from_parts(parts, Body::new(HeldBody(held.clone())));
    let held = Held {
        held,
        declared,
        expects_continue,
    };
    (request, Some(held))
}

impl Held {
    /// Once the answer is ready: reads and discards what is left of the
    /// body, or marks the answer `Connection: close`.
    pub async fn finish(self, response: &mut Response) {
        let leftover = {
            let mut held = lock(&self.held);
            let polled = held.polled;
            let body = std::mem::replace(&mut held.body, Body::empty());
            (!body.is_end_stream()).then_some((body, polled))
        };
        let Some((body, polled)) = leftover else {
            return;
        };
        // A client waiting for `100 Continue` that never came will not send
        // the body: asking for it now would only cost it a round trip.
        let keep = (polled || !self.expects_continue)
            && self.declared.is_none_or(|length| length <= DRAIN_BYTES)
            && drain(body).await;
        if !keep {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

/// Reads the rest of `body` and throws it away: `true` when it ended
/// within [`DRAIN_BYTES`] and [`DRAIN_TIME`].
async fn drain(mut body: Body) -> bool {
    let read = async {
        let mut left = DRAIN_BYTES;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return false;
            };
            let size = frame.data_ref().map_or(0, |data| data.len() as u64);
            let Some(rest) = left.checked_sub(size) else {
                return false;
            };
            left = rest;
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

struct HeldInner {
    body: Body,
    /// Whether the handler asked for the body at all (which is when hyper
    /// sends `100 Continue`).
    polled: bool,
}

fn lock(held: &Mutex<HeldInner>) -> std::sync::MutexGuard<'_, HeldInner> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The body the handler reads: the held one, through a lock that is only
/// ever taken for one poll, never across an await.
struct HeldBody(Arc<Mutex<HeldInner>>);

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut held = lock(&self.0);
        held.polled = true;
        Pin::new(&mut held.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        lock(&self.0).body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        lock(&self.0).body.size_hint()
    }
}
