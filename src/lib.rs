//! gifchat: a self-hosted, real-time GIF chat server.
//!
//! A tour of the layout, in the order a message travels:
//!
//! - `routes/`: the HTTP edge. `routes/mod.rs` is the table of contents; each
//!   feature file (`lobby`, `rooms`, `messages`, `stream`, `poll`, `me`,
//!   `ops`) owns its handlers and its `routes()`, which document them too:
//!   `routes/openapi.rs` serves the OpenAPI document they make.
//! - `db/`: storage, a leaf, on SQLite (`db/sqlite/`, the default) or
//!   PostgreSQL (`db/postgres/`). Reads are named methods of one interface
//!   (`db/reads.rs`); every change goes through the single writer thread
//!   (`db/writer.rs`, one typed method per change), which commits in
//!   groups and then reports what it committed, in id order, to an
//!   `AfterCommit` implementation. It imports nothing above it and speaks
//!   its own errors.
//! - `after_commit.rs`: what a committed change means for the people
//!   watching: the hub publishes, a deleted room's files go.
//! - `hub/`: per-room broadcast channels, the lobby channel, and presence,
//!   which asks for its notices to be stored through a channel (`run`
//!   hands them to the writer) rather than holding the writer.
//! - `feed.rs`: how one viewer gets an exact, gap-free sequence of events out
//!   of a subscription plus the database, for SSE and long-polling alike.
//! - `model/`: the plain data everything shares (rooms, users, events).
//! - `events.rs`: an event rendered to JSON and SSE bytes exactly once.
//! - `uploads/`: GIF files on disk: streamed in, decoded, named, swept.
//! - `identity.rs`, `sessions.rs`, `flash.rs`: who is asking.
//! - `views/`: maud pages, pure functions of plain data.
//! - `metrics.rs`: the counters behind `GET /metrics`.
//! - `server/`: the accept loop, with timeouts for slow clients; streams that
//!   open their connection are answered without hyper (`event_streams.rs`).
//! - `config.rs`, `error.rs`, `state.rs`, `client_addr.rs`: the plumbing.
//!
//! [`run`] serves on an already-bound listener until `shutdown` resolves,
//! which is how `main` and the tests (on port 0) start the server.

pub mod after_commit;
pub mod backup;
pub mod client_addr;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod feed;
pub mod flash;
pub mod hub;
pub mod identity;
pub mod metrics;
pub mod model;
pub mod passwords;
pub mod routes;
pub mod server;
pub mod sessions;
pub mod state;
pub mod uploads;
pub mod views;

use std::{future::Future, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::{
    db::writer::Writer,
    hub::{Hub, HubConfig},
    state::AppState,
};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves gifchat on `listener` until `shutdown` resolves, then ends every
/// stream, lets requests in flight finish, closes the database and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    db::make_private_dir(&config.data_dir)?;
    std::fs::create_dir_all(&config.uploads_dir)?;
    let database = config.database_url();
    let (db, engine) = db::open(&database)
        .await
        .map_err(|e| format!("cannot open the database {database}: {e}"))?;
    // Before the first request, so it never races an upload of its own;
    // with PostgreSQL, other nodes may share the folder and be uploading.
    let shared_uploads_grace = match database {
        db::DatabaseUrl::Postgres(_) => config.upload_timeout + Duration::from_secs(60),
        db::DatabaseUrl::Sqlite(_) => Duration::ZERO,
    };
    uploads::sweep(&db, &config.uploads_dir, shared_uploads_grace).await?;
    let (hub, presence_notes) = Hub::new(HubConfig {
        leave_grace: config.leave_grace,
        unentered_room_ttl: config.unentered_room_ttl,
        room_channel_capacity: config.room_channel_capacity.max(1),
    });
    let metrics = Arc::new(metrics::Metrics::new()?);
    // Storage reports to the live side, which never holds the writer: what
    // presence needs stored comes back through `presence_notes`.
    let live = after_commit::LiveSide {
        hub: hub.clone(),
        uploads_dir: config.uploads_dir.clone(),
    };
    let (writer, writer_thread) =
        Writer::start(engine, live, metrics.events_stored.clone()).await?;
    let note_keeper = tokio::spawn(store_presence_notes(presence_notes, writer.clone()));
    for room in db.rooms().await? {
        hub.adopt_existing_room(room.id);
    }
    let (session_layer, user_ids, session_sweeper) =
        sessions::layer(&config, db.clone(), writer.clone())?;

    let token = CancellationToken::new();
    let (header_timeout, idle_timeout) = (config.header_timeout, config.idle_timeout);
    let limits = routes::limits::Limits::new(&config);
    let state = AppState::new(state::Shared {
        db,
        writer: writer.clone(),
        hub,
        limits: Arc::new(limits),
        passwords: passwords::Passwords::new(hashing_slots(), passwords::MAX_WAITING),
        user_ids,
        metrics,
        config: Arc::new(config),
        shutdown: token.clone(),
    });
    let metrics_server = match state.config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, &state, header_timeout, idle_timeout).await?),
        None => None,
    };
    let app = routes::router(state, session_layer);

    tracing::info!(addr = %listener.local_addr()?, "gifchat is listening");
    let timeouts = server::Timeouts {
        header: header_timeout,
        idle: idle_timeout,
    };
    server::serve(listener, app, timeouts, async move {
        shutdown.await;
        tracing::info!("shutting down: ending streams");
        token.cancel();
    })
    .await;

    if let Some(metrics_server) = metrics_server {
        let _ = metrics_server.await;
    }
    session_sweeper.abort();
    note_keeper.abort();
    writer.shutdown().await;
    tokio::task::spawn_blocking(move || writer_thread.join()).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Serves `GET /metrics` alone on `addr` until shutdown.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    state: &AppState,
    header_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on --metrics-addr {addr}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics are served here only");
    let app = routes::ops::metrics_only(state.clone());
    let stop = state.shutdown.clone();
    let timeouts = server::Timeouts {
        header: header_timeout,
        idle: idle_timeout,
    };
    Ok(tokio::spawn(server::serve(
        listener,
        app,
        timeouts,
        stop.cancelled_owned(),
    )))
}

/// Password hashes that run at once: one per core, so checking passwords
/// never takes more than the machine has (nor more than one Argon2 memory
/// area per core).
fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Stores what presence asks for (join and leave notices, new owners,
/// rooms to delete) through the writer, each batch of notes in order, and
/// tells the hub when they are stored.
async fn store_presence_notes(mut asks: hub::NotesToStore, writer: Writer) {
    while let Some(hub::Notes { notes, stored }) = asks.recv().await {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut result = Ok(());
            for note in notes {
                let done = match note {
                    hub::Note::Notice(notice) => writer.notice(notice).await.map(|_| ()),
                    hub::Note::NewOwner { owner, notice } => {
                        writer.set_owner(owner, notice).await.map(|_| ())
                    }
                    hub::Note::DeleteRoom(room_id) => {
                        writer.delete_room(&room_id).await.map(|_| ())
                    }
                };
                if let Err(e) = done {
                    result = Err(e.to_string());
                    break;
                }
            }
            let _ = stored.send(result);
        });
    }
}
