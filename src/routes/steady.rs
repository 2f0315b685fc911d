//! The steady long-poll: a room poll that repeats, on the same connection,
//! the request the router answered last there, answered without the
//! router's middleware (`server/polls.rs` tells which polls are).
//!
//! A poller asks the same thing over and over (the cursor apart): the same
//! cookie, the same room, from the same address. Run through the router,
//! each poll reads its session, builds and drops a dozen layers' futures
//! and answers the same checks; that was most of what a poll cost. So the
//! router's answer names who polled which room ([`Poller`], put in the
//! answer's extensions by the handler), and the connection's next poll
//! whose head is the same but for its query is answered here, from that:
//! the same query parsing, admission check, address slot, gauge, log line
//! and handler code (`poll::poll_as`), and the answer headers every page
//! gets. What the middleware would do differently cannot happen to such a
//! request: it changes no state (no post limits, no cross-site check), its
//! session is unchanged (tower-sessions saves none and sets no cookie),
//! and whatever goes wrong here (a bad query, no slot left, a refusal, a
//! failure) is handed back to the router, which answers it as ever.
//!
//! The connection goes back through the router every [`REVALIDATE`], so a
//! session revoked or a name changed elsewhere is seen within that.

use std::{sync::Arc, time::Duration};

use axum::{
    http::{Method, StatusCode},
    response::Response,
};

use prometheus::{Histogram, IntGauge};

use crate::{
    metrics::Transport,
    routes::{
        limits::poll_slot,
        logging::{Answered, latency_of},
        page_policies,
        poll::{RoomPollQuery, poll_as},
        stream::ROOM_POLL_ROUTE,
    },
    state::AppState,
};

pub use crate::routes::poll::Poller;

/// How long a connection's polls may be answered from the router's last
/// answer there.
pub const REVALIDATE: Duration = Duration::from_secs(5);

/// Answers steady polls; a clone per connection is cheap.
#[derive(Clone)]
pub struct SteadyPolls {
    state: Arc<AppState>,
    /// The metrics every steady poll moves, found once rather than by
    /// their labels per poll: the open-polls gauge and the route's
    /// latency histogram.
    open_polls: IntGauge,
    latency: Histogram,
}

impl SteadyPolls {
    pub fn new(state: AppState) -> SteadyPolls {
        let open_polls = (state.metrics.connections).with_label_values(&[Transport::Poll.label()]);
        let latency = latency_of(&state, &Method::GET, ROOM_POLL_ROUTE);
        SteadyPolls {
            state: Arc::new(state),
            open_polls,
            latency,
        }
    }

    /// The answer to `poller`'s poll of `path` with `query`, as the router
    /// would give it, with what must live until it is sent; `None` when
    /// it is anything but an answer with events (or none): the router
    /// then answers the same request.
    pub async fn answer(
        &self,
        poller: &Poller,
        path: &str,
        query: Option<&str>,
    ) -> Option<(Response, impl Send + use<>)> {
        let started = std::time::Instant::now();
        let state = &*self.state;
        let query: RoomPollQuery = serde_urlencoded::from_str(query.unwrap_or("")).ok()?;
        let slot = poll_slot(state, poller.addr, &self.open_polls)?;
        let answer = poll_as(state, poller, &query).await.ok()?;
        if answer.status() != StatusCode::OK {
            return None;
        }
        let answered = Answered {
            method: &Method::GET,
            path,
            route: ROOM_POLL_ROUTE,
            status: answer.status().as_u16(),
            client: Some(poller.addr),
        };
        answered.log_to(&self.latency, started);
        Some((page_policies(answer), slot))
    }
}
