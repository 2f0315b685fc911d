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
//!   which asks for its rounds of arrivals and departures to be stored
//!   through a channel (`run` hands them to the writer) rather than
//!   holding the writer.
//! - `upkeep.rs`: timers every node runs: its lease, dead nodes' users
//!   leaving, vacant rooms deleted.
//! - `feed.rs`: how one viewer gets an exact, gap-free sequence of events out
//!   of a subscription plus the database, for SSE and long-polling alike.
//! - `model/`: the plain data everything shares (rooms, users, events).
//! - `events.rs`: an event rendered to JSON and SSE bytes exactly once.
//! - `uploads/`: GIF files on disk: streamed in, decoded, named, swept.
//! - `identity.rs`, `sessions.rs`, `flash.rs`: who is asking.
//! - `views/`: maud pages, pure functions of plain data.
//! - `metrics.rs`: the counters behind `GET /metrics`.
//! - `server/`: the accept loop, with timeouts for slow clients; streams that
//!   open their connection are answered without hyper (`event_streams.rs`),
//!   and so are the polls of a connection that opens with one (`polls.rs`).
//! - `config.rs`, `error.rs`, `state.rs`, `client_addr.rs`: the plumbing.
//!
//! [`run`] serves on an already-bound listener until `shutdown` resolves,
//! which is how `main` and the tests (on port 0) start the server.

/// The allocator of the server, its tests and its benchmarks alike: see
/// its comment in Cargo.toml, and docs/performance.md for the figures.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read as it starts (`_RJEM_MALLOC_CONF` in the
/// environment overrides them): memory freed goes back to the system
/// within about a second, returned by jemalloc's own background thread
/// rather than by the threads that serve. Its default, ten seconds and
/// returned by whichever thread allocates next, kept what a burst of
/// connections freed (1,000 pollers connecting through the router) in
/// the server's resident memory: 47 KiB per waiting poll instead of 17.
///
/// Each thread caches freed blocks of up to 1 KiB only, and at most 50 of
/// a size: by default it keeps up to 32 KiB blocks, 200 of a small size,
/// which after a burst (1,000 pollers connecting) leaves megabytes cached
/// in threads that then wait: 10 KiB per waiting poll instead of 6.5-7,
/// for no CPU measured (the writer, which allocates the most, was as fast
/// or faster; without any cache it was 12-23% slower per message).
#[used]
#[unsafe(export_name = "_rjem_malloc_conf")]
static ALLOCATOR_SETTINGS: Option<&'static std::ffi::c_char> =
    // SAFETY: a C string literal is a valid, 'static, NUL-terminated string.
    Some(unsafe {
        &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:1024,tcache_nslots_small_max:50".as_ptr()
    });

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
pub mod upkeep;
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
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let (tls, certificate_keeper) = match config.certificate_source()? {
        Some(source) => {
            db::make_private_dir(&config.data_dir)?;
            let (acceptor, keeper) = server::tls_acceptor(&source)?;
            // A cookie sent over HTTPS only, since that is all there is.
            config.secure_cookies = true;
            (Some(acceptor), Some(keeper))
        }
        None => (None, None),
    };
    if config.secure_cookies && tls.is_none() && config.trust_proxy.is_empty() {
        tracing::warn!(
            "--secure-cookies over plain HTTP with no trusted proxy: browsers will not send \
             the cookie back unless something in front serves HTTPS. Serve HTTPS \
             (--tls-cert, --acme-domain), or trust the proxy that does (--trust-proxy)"
        );
    }
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
    let (hub, presence_rounds) = Hub::new(HubConfig {
        leave_grace: config.leave_grace,
        visit_window: config.visit_window,
        room_channel_capacity: config.room_channel_capacity.max(1),
    });
    let metrics = Arc::new(metrics::Metrics::new()?);
    // Storage reports to the live side, which never holds the writer: what
    // presence needs stored comes back through `presence_rounds`.
    let live = after_commit::LiveSide {
        hub: hub.clone(),
        uploads_dir: config.uploads_dir.clone(),
    };
    let (writer, writer_thread) =
        Writer::start(engine, live, metrics.events_stored.clone()).await?;
    let round_keeper = tokio::spawn(store_presence(presence_rounds, writer.clone()));
    let read_keeper = hub.clone();
    let upkeep = upkeep::Upkeep {
        db: db.clone(),
        writer: writer.clone(),
        hub: hub.clone(),
        lease: matches!(database, db::DatabaseUrl::Postgres(_)).then_some(config.node_lease),
        vacant_room_ttl: config.unentered_room_ttl,
    }
    .start();
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
        poll_answers: routes::poll_answers::PollAnswers::default(),
        shutdown: token.clone(),
    });
    let metrics_server = match state.config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, &state, header_timeout, idle_timeout).await?),
        None => None,
    };
    let steady = routes::SteadyPolls::new(state.clone());
    let app = routes::router(state, session_layer);

    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %listener.local_addr()?, scheme, "gifchat is listening");
    let timeouts = server::Timeouts {
        header: header_timeout,
        idle: idle_timeout,
    };
    server::serve(listener, (app, Some(steady)), timeouts, tls, async move {
        shutdown.await;
        tracing::info!("shutting down: ending streams");
        token.cancel();
    })
    .await;

    if let Some(metrics_server) = metrics_server {
        let _ = metrics_server.await;
    }
    session_sweeper.abort();
    round_keeper.abort();
    if let Some(keeper) = certificate_keeper {
        keeper.abort();
    }
    for task in upkeep {
        task.abort();
    }
    // What the last streams and polls delivered is read, restart or not.
    upkeep::store_reads(&read_keeper, &writer).await;
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
        (app, None),
        timeouts,
        None,
        stop.cancelled_owned(),
    )))
}

/// Password hashes that run at once: one per core, so checking passwords
/// never takes more than the machine has (nor more than one Argon2 memory
/// area per core).
fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Stores presence's rounds through the writer and tells the hub when
/// each is stored. With PostgreSQL, this node's presence stays stored when
/// it stops: its users who reconnect elsewhere (or here, after a restart)
/// within the lease never left; the others leave when it runs out.
async fn store_presence(mut rounds: hub::RoundsToStore, writer: Writer) {
    while let Some(round) = rounds.recv().await {
        let writer = writer.clone();
        tokio::spawn(async move {
            let change = db::presence::PresenceChange {
                room_id: round.room_id,
                node: None,
                arrived: round.arrived,
                departed: round.departed,
            };
            let stored = writer.presence(change).await;
            let _ = round
                .stored
                .send(stored.map(|_| ()).map_err(|e| e.to_string()));
        });
    }
}
