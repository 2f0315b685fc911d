//! `AppState`: what every handler and middleware may use, behind one
//! cheap handle.

use std::{ops::Deref, sync::Arc};

use tokio_util::sync::CancellationToken;

use crate::{
    config::Config, db::Db, db::writer::Writer, hub::Hub, identity::UserIds, metrics::Metrics,
    passwords::Passwords, routes::limits::Limits, routes::poll_answers::PollAnswers,
};

/// A handle on [`Shared`]: extractors and middleware clone the state for
/// every request, several times, so a clone is one reference count rather
/// than one per field (cloning the shutdown token alone takes a lock).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// Reads, on the r2d2 pool (each runs on the blocking thread pool).
    pub db: Db,
    /// The single writer thread: every change goes through it.
    pub writer: Writer,
    /// Room and lobby channels, presence.
    pub hub: Hub,
    pub config: Arc<Config>,
    /// Counters and gauges behind `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Post rate buckets and stream slots per client.
    pub limits: Arc<Limits>,
    /// Room passwords, hashed and checked a few at a time.
    pub passwords: Passwords,
    /// The user id of a session, the same on every node.
    pub user_ids: UserIds,
    /// The last room poll answers, shared by a busy room's pollers.
    pub poll_answers: PollAnswers,
    /// Cancelled at shutdown: streams and polls end, so that graceful
    /// shutdown does not wait forever on open connections.
    pub shutdown: CancellationToken,
}
