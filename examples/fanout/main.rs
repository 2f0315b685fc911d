//! Fan-out benchmark: how many viewers one gifchat room can feed, how fast,
//! and at what cost to the server.
//!
//! Build in release (`cargo build --release --examples`), then:
//!
//! - **Fan-out** (SSE and/or long-poll viewers in one room, messages posted
//!   on a schedule):
//!   `cargo run --release --example fanout -- --subscribers 10000 --messages 3000 --rate 100`
//!   Add `--pollers K` for K long-poll clients (with or without SSE ones).
//!   Prints deliveries, missing, duplicates, latency from post to receipt
//!   (p50/p99/max), server CPU time per delivery, and server memory per
//!   idle subscriber ((RSS with N idle subscribers − RSS before) / N).
//! - **Writer** (stored messages per second from concurrent posters, each
//!   answered after its commit):
//!   `cargo run --release --example fanout -- --writer --posters 128 --duration 10s`
//!   Add `--database postgres://…` (an empty database) to measure PostgreSQL.
//! - **Idle viewers over HTTPS**: `--idle-tls h2 --subscribers 5000
//!   --streams-per-connection 10` (or `--idle-tls h1`) serves a self-signed
//!   certificate and reports server memory per idle viewer, nothing posted.
//! - **Against Nchan**: `--nchan --subscribers 0 --pollers 1000 --messages
//!   200 --rate 200` puts the same long-poll load on Nchan (nginx's pub/sub
//!   module, from Debian: `nchan.rs`) instead, so that the two can be
//!   measured in turn, in the same minutes.
//! - **Several nodes**: `--nodes 3` with `--database postgres://…` starts
//!   three servers on that database; viewers and posters are spread over
//!   them in turn (each client stays on its node), and CPU and memory are
//!   reported per node and in all.
//!
//! By default the benchmark re-executes itself with `--serve` as a child
//! process that runs `gifchat::run` on a temporary data dir (127.0.0.1, a
//! free port, logging at `--log warn`, without the per-address stream cap
//! and post rate limit, since every client comes from 127.0.0.1), so that
//! the server's CPU time and memory (read from `/proc/<pid>`) are its own.
//! `--target 127.0.0.1:8005` measures a running server instead (start it
//! with `GIFCHAT_MAX_STREAMS_PER_ADDR=0 GIFCHAT_POST_RATE=0`, and add
//! `--server-pid` for CPU and memory figures). Every wait is bounded; the
//! child stops when the benchmark ends (its stdin closes), even if the
//! benchmark dies.
//!
//! Capacity counts distinct users and a room holds at most 10,000, so
//! subscribers + pollers ≤ 10,000. Each subscriber is a new cookie-less
//! user; each poller keeps the cookie of its first answer. The OS must
//! allow enough open files (the benchmark raises its soft limit to the
//! hard one) and ephemeral ports; see the README's tuning notes.

mod http;
mod idle;
mod inproc;
mod nchan;
mod poll;
mod post;
mod serve;
mod sse;
mod stats;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use clap::Parser;
use gifchat::config::parse_duration;
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    serve::Server,
    sse::Shared,
    stats::{cpu_time, ms, rss_bytes, thread_cpu_time},
};

/// The name of the server's storage writer thread (`db/writer.rs`).
const WRITER_THREAD: &str = "gifchat-writer";

/// Most members a room can have (API: `max` is at most 10,000).
const ROOM_MAX: usize = 10_000;

#[derive(Parser, Debug)]
#[command(about = "gifchat fan-out and writer benchmark")]
struct Args {
    /// SSE subscribers in the room.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Long-poll clients in the room.
    #[arg(long, default_value_t = 0)]
    pollers: usize,
    /// Messages to post.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Messages per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Poster connections (each its own session). Writer mode: concurrent
    /// posters.
    #[arg(long, default_value_t = 4)]
    posters: usize,
    /// Writer mode: post as fast as answers come, for `--duration`.
    #[arg(long)]
    writer: bool,
    /// Every post carries a `client_id`, as the browser's do.
    #[arg(long)]
    client_ids: bool,
    /// Writer mode without HTTP: append through the writer thread in this
    /// process (its own capacity, apart from the request path).
    #[arg(long, requires = "writer")]
    in_process: bool,
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Pause after every viewer connected, before memory is read.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// Longest wait, after the last post, for every delivery.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    drain: Duration,
    /// `timeout` of each long-poll, in seconds.
    #[arg(long, default_value_t = 30)]
    poll_timeout: u64,
    /// Worker threads of the client's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Log filter of the server started by the benchmark.
    #[arg(long, default_value = "warn")]
    log: String,
    /// The database of the server the benchmark starts (default: SQLite
    /// in a temporary folder), e.g. a fresh, empty PostgreSQL database.
    #[arg(long, value_parser = gifchat::db::DatabaseUrl::parse)]
    database: Option<gifchat::db::DatabaseUrl>,
    /// Measure memory per idle viewer over HTTPS, HTTP/1.1 or HTTP/2.
    #[arg(long, value_enum)]
    idle_tls: Option<idle::Over>,
    /// With `--idle-tls h2`: viewers sharing each connection.
    #[arg(long, default_value_t = 10)]
    streams_per_connection: usize,
    /// Servers to start on `--database` (PostgreSQL for more than one).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// A running server to measure instead of starting one.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// Measure Nchan (nginx's pub/sub module, from Debian) instead of
    /// gifchat, under the same load: see `nchan.rs`.
    #[arg(long, conflicts_with_all = ["target", "database", "writer", "idle_tls"])]
    nchan: bool,
    /// With `--target`: the server's pid, for CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Internal: run the server (the benchmark's child process).
    #[arg(long, hide = true)]
    serve: bool,
    #[arg(long, hide = true)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.serve {
        let result = serve::data_dir_arg(args.data_dir.clone())
            .and_then(|dir| serve::serve(&dir, args.database.clone(), &args.log));
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fanout server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let nofile = stats::raise_nofile_limit();
    let needed = args.subscribers + args.pollers + args.posters + 64;
    if nofile < needed as u64 {
        eprintln!("warning: open-file limit {nofile} < {needed} connections; raise `ulimit -n`");
    }
    if args.in_process {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads.max(1))
            .enable_all()
            .build();
        let result = match runtime {
            Ok(runtime) => runtime.block_on(inproc::writer(
                args.posters,
                args.duration,
                args.database.clone(),
            )),
            Err(e) => Err(e.into()),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fanout: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let certificate = match args.idle_tls.map(|_| tls_files()).transpose() {
        Ok(certificate) => certificate,
        Err(e) => {
            eprintln!("fanout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls = certificate
        .as_ref()
        .map(|(dir, _)| (dir.path().join("cert.pem"), dir.path().join("key.pem")));
    let mut servers = Vec::new();
    let mut nginx = None;
    let (addrs, pids) = match args.target {
        Some(addr) => (vec![addr], args.server_pid.into_iter().collect::<Vec<_>>()),
        None if args.nchan => match nchan::Nginx::start() {
            Ok(started) => {
                let (addr, pids) = (started.addr, started.pids.clone());
                nginx = Some(started);
                (vec![addr], pids)
            }
            Err(e) => {
                eprintln!("fanout: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            for _ in 0..args.nodes.max(1) {
                let tls = tls.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
                match Server::start(args.database.as_ref(), &args.log, tls) {
                    Ok(server) => servers.push(server),
                    Err(e) => {
                        eprintln!("fanout: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            (
                servers.iter().map(|s| s.addr).collect(),
                servers.iter().map(|s| s.pid).collect(),
            )
        }
    };
    for (addr, pid) in addrs.iter().zip(&pids) {
        println!("server pid {pid} on {addr}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fanout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        if let (Some(over), Some((_, cert))) = (args.idle_tls, &certificate) {
            let pid = pids.first().copied();
            let (viewers, per) = (args.subscribers, args.streams_per_connection);
            idle::run(addrs[0], pid, cert, over, viewers, per, args.settle).await
        } else if args.writer {
            writer(&args, &addrs, &pids).await
        } else {
            fanout(&args, &addrs, &pids).await
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    for server in servers {
        server.stop(Duration::from_secs(30));
    }
    drop(nginx);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, gifchat::BoxError>;
type BoxError = gifchat::BoxError;

/// A self-signed certificate and key written to a temporary folder, and
/// the certificate's PEM.
fn tls_files() -> Result<(tempfile::TempDir, String)> {
    let dir = tempfile::TempDir::new()?;
    let (cert, key) = idle::certificate()?;
    std::fs::write(dir.path().join("cert.pem"), &cert)?;
    std::fs::write(dir.path().join("key.pem"), key)?;
    Ok((dir, cert))
}

/// CPU time of each server and of this client since `self` was taken.
struct CpuMark {
    servers: Vec<Option<Duration>>,
    /// Of the servers' storage writer threads, added up.
    writers: Option<Duration>,
    client: Option<Duration>,
    at: Instant,
}

/// CPU used since a [`CpuMark`].
struct CpuUsed {
    /// Per server, in the order of their pids.
    servers: Vec<Option<Duration>>,
    /// The servers' storage writer threads (storing the messages: a cost
    /// per message, not per delivery), added up.
    writers: Option<Duration>,
    client: Option<Duration>,
    wall: Duration,
}

impl CpuUsed {
    /// Every server's CPU, added up (unknown if any is).
    fn servers_total(&self) -> Option<Duration> {
        self.servers.iter().copied().sum()
    }
}

impl CpuMark {
    fn now(pids: &[u32]) -> CpuMark {
        CpuMark {
            servers: pids.iter().map(|&pid| cpu_time(pid)).collect(),
            writers: pids
                .iter()
                .map(|&pid| thread_cpu_time(pid, WRITER_THREAD))
                .sum(),
            client: cpu_time(std::process::id()),
            at: Instant::now(),
        }
    }

    fn since(&self, pids: &[u32]) -> CpuUsed {
        let later = CpuMark::now(pids);
        let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
        CpuUsed {
            servers: (self.servers.iter().zip(&later.servers))
                .map(|(a, b)| diff(*a, *b))
                .collect(),
            writers: diff(self.writers, later.writers),
            client: diff(self.client, later.client),
            wall: later.at - self.at,
        }
    }
}

/// The RSS of every server, added up (unknown if any is).
fn rss_total(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| rss_bytes(pid)).sum()
}

/// Prints `what` (bytes before and with `n` idle viewers) per viewer.
fn per_viewer(what: &str, before_and_idle: Option<(u64, u64)>, n: usize) {
    if let Some((before, idle)) = before_and_idle {
        println!(
            "server {what} {:.1} MiB before, {:.1} MiB with {n} idle viewers = {:.2} KiB per idle viewer",
            before as f64 / 1048576.0,
            idle as f64 / 1048576.0,
            (idle as f64 - before as f64) / n as f64 / 1024.0
        );
    }
}

/// Bytes every server says it has allocated (`gifchat_heap_allocated_bytes`
/// of its `/metrics`), added up; unknown if any does not say, or if the
/// server is Nchan.
async fn heap_total(addrs: &[SocketAddr], nchan: bool) -> Option<u64> {
    if nchan {
        return None;
    }
    let mut total = 0;
    for &addr in addrs {
        let mut conn = http::Conn::connect(addr).await.ok()?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let answer = conn.request(request.as_bytes()).await.ok()?;
        let text = String::from_utf8(answer.body).ok()?;
        total += text.lines().find_map(|line| {
            let value = line.strip_prefix("gifchat_heap_allocated_bytes ")?;
            value.trim().parse::<u64>().ok()
        })?;
    }
    Some(total)
}

fn cpu_line(what: &str, cpu: Option<Duration>, wall: Duration, per: u64, unit: &str) -> String {
    match cpu {
        Some(cpu) => format!(
            "{what} CPU {:.2} s over {:.1} s ({:.0}% of one core) = {:.2} µs per {unit}",
            cpu.as_secs_f64(),
            wall.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9),
            cpu.as_secs_f64() * 1e6 / per.max(1) as f64
        ),
        None => format!("{what} CPU: unknown (no pid)"),
    }
}

/// What a viewer saw, once `opened`, from `run`: counted as connected, or
/// as failed (the first few say why).
async fn watch<V, F>(
    what: &str,
    opened: std::io::Result<V>,
    shared: Arc<Shared>,
    run: impl FnOnce(V, Arc<Shared>) -> F,
) -> Option<stats::Seen>
where
    F: Future<Output = stats::Seen>,
{
    match opened {
        Ok(viewer) => {
            shared.connected.fetch_add(1, Relaxed);
            Some(run(viewer, shared).await)
        }
        Err(e) => {
            if shared.failed.fetch_add(1, Relaxed) < 3 {
                eprintln!("{what} failed: {e}");
            }
            None
        }
    }
}

/// `n` publishers to Nchan at `addr`.
async fn nchan_publishers(addr: SocketAddr, n: usize) -> Result<Vec<post::Session>> {
    let mut publishers = Vec::new();
    for _ in 0..n.max(1) {
        publishers.push(post::Session::nchan_publisher(addr).await?);
    }
    Ok(publishers)
}

/// `n` posters, spread over `addrs` in turn.
async fn open_posters(addrs: &[SocketAddr], n: usize) -> Result<Vec<post::Session>> {
    let mut set = JoinSet::new();
    for i in 0..n.max(1) {
        set.spawn(post::Session::open(addrs[i % addrs.len()]));
    }
    let mut sessions = Vec::new();
    while let Some(session) = set.join_next().await {
        sessions.push(session??);
    }
    Ok(sessions)
}

async fn fanout(args: &Args, addrs: &[SocketAddr], pids: &[u32]) -> Result<()> {
    let viewers = args.subscribers + args.pollers;
    if viewers > ROOM_MAX {
        return Err(format!("subscribers + pollers must be at most {ROOM_MAX}").into());
    }
    println!(
        "fan-out: {} SSE subscribers, {} long-poll clients, {} messages at {}/s from {} poster connections",
        args.subscribers, args.pollers, args.messages, args.rate, args.posters
    );
    let epoch = Instant::now();
    let (mut posters, room) = if args.nchan {
        (
            nchan_publishers(addrs[0], args.posters).await?,
            nchan::CHANNEL.into(),
        )
    } else {
        let mut posters = open_posters(addrs, args.posters).await?;
        let room: Arc<str> = posters[0].create_room(ROOM_MAX).await?.into();
        for poster in &mut posters {
            poster.view(&room).await?;
        }
        (posters, room)
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_total(pids);
    let heap_before = heap_total(addrs, args.nchan).await;

    // Viewers: each task opens its connection (a bounded number at once),
    // then reads until told to stop, and hands back what it saw.
    let stop = CancellationToken::new();
    let sse_shared = Arc::new(Shared::new(epoch, args.messages, stop.clone()));
    let poll_shared = Arc::new(Shared::new(epoch, args.messages, stop.clone()));
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let connecting = Instant::now();
    let mut sse_tasks = JoinSet::new();
    for i in 0..args.subscribers {
        let (gate, shared, room) = (gate.clone(), sse_shared.clone(), room.clone());
        let addr = addrs[i % addrs.len()];
        sse_tasks.spawn(async move {
            let permit = gate.acquire_owned().await.ok()?;
            let opened = sse::open(addr, &room).await;
            drop(permit);
            watch("subscriber", opened, shared, sse::read).await
        });
    }
    let mut poll_tasks = JoinSet::new();
    for i in 0..args.pollers {
        let (gate, shared, room) = (gate.clone(), poll_shared.clone(), room.clone());
        let addr = addrs[i % addrs.len()];
        let (timeout, to_nchan) = (args.poll_timeout, args.nchan);
        poll_tasks.spawn(async move {
            let permit = gate.acquire_owned().await.ok()?;
            if to_nchan {
                let opened = nchan::open(addr).await;
                drop(permit);
                return watch("poller", opened, shared, nchan::run).await;
            }
            let opened = poll::open(addr, room, timeout).await;
            drop(permit);
            watch("poller", opened, shared, poll::run).await
        });
    }
    let all_in = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let done = |s: &Shared| s.connected.load(Relaxed) + s.failed.load(Relaxed);
        if done(&sse_shared) >= args.subscribers && done(&poll_shared) >= args.pollers {
            break;
        }
        if tokio::time::Instant::now() > all_in {
            eprintln!("not every viewer connected within 300 s; going on");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_sse = sse_shared.connected.load(Relaxed);
    let connected_poll = poll_shared.connected.load(Relaxed);
    println!(
        "connected: {connected_sse}/{} SSE, {connected_poll}/{} long-poll in {:.1} s",
        args.subscribers,
        args.pollers,
        connecting.elapsed().as_secs_f64()
    );
    tokio::time::sleep(args.settle).await;
    let rss_idle = rss_total(pids);
    let heap_idle = heap_total(addrs, args.nchan).await;
    let n = (connected_sse + connected_poll).max(1);
    per_viewer("memory: RSS", rss_before.zip(rss_idle), n);
    per_viewer("heap: allocated", heap_before.zip(heap_idle), n);

    let mark = CpuMark::now(pids);
    poll_shared.measuring.store(true, Relaxed);
    let posted = post::scheduled(
        std::mem::take(&mut posters),
        room.clone(),
        args.messages,
        args.rate,
        epoch,
    )
    .await;
    let ok_count = posted.ok.iter().filter(|b| **b).count() as u64;
    println!(
        "posted: {ok_count}/{} answered 201 ({} errors) in {:.1} s, worst schedule lag {}; answers {}",
        args.messages,
        posted.errors,
        mark.at.elapsed().as_secs_f64(),
        ms(posted.worst_lag),
        posted.answers.summary()
    );

    // Wait for every viewer to have every message, or the drain limit.
    let expect_sse = connected_sse as u64 * ok_count;
    let expect_poll = connected_poll as u64 * ok_count;
    let drain_until = tokio::time::Instant::now() + args.drain;
    while tokio::time::Instant::now() < drain_until
        && (sse_shared.delivered.load(Relaxed) < expect_sse
            || poll_shared.delivered.load(Relaxed) < expect_poll)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let used = mark.since(pids);
    let rss_end = rss_total(pids);
    stop.cancel();

    let deliveries = sse_shared.delivered.load(Relaxed) + poll_shared.delivered.load(Relaxed);
    for (name, shared, mut tasks, expected) in [
        ("SSE", &sse_shared, sse_tasks, expect_sse),
        ("long-poll", &poll_shared, poll_tasks, expect_poll),
    ] {
        if expected == 0 && shared.connected.load(Relaxed) == 0 {
            continue;
        }
        let mut missing = 0u64;
        let collect = async {
            while let Some(joined) = tasks.join_next().await {
                if let Ok(Some(seen)) = joined {
                    missing += posted
                        .ok
                        .iter()
                        .enumerate()
                        .filter(|(i, ok)| **ok && !seen.has(*i))
                        .count() as u64;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), collect)
            .await
            .is_err()
        {
            eprintln!("{name}: some viewers did not stop within 30 s");
        }
        println!(
            "{name}: deliveries {} of {expected} expected | missing {missing} | duplicates {} | ids out of order {} | viewer errors {} | ended early {}",
            shared.delivered.load(Relaxed),
            shared.duplicates.load(Relaxed),
            shared.out_of_order.load(Relaxed),
            shared.failed.load(Relaxed),
            shared.ended.load(Relaxed),
        );
        println!(
            "{name}: latency post → receipt {}",
            shared.latency.summary()
        );
        let answers = shared.answers.load(Relaxed);
        if answers > 0 {
            let delivered = shared.delivered.load(Relaxed).max(1);
            println!(
                "{name}: {answers} answers, {:.0} body bytes per delivery; to steady pollers {} members snapshots, {} join/leave notices",
                shared.answer_bytes.load(Relaxed) as f64 / delivered as f64,
                shared.snapshots.load(Relaxed),
                shared.notices.load(Relaxed),
            );
        }
    }
    let (servers, wall) = (used.servers_total(), used.wall);
    println!(
        "{}",
        cpu_line("servers", servers, wall, deliveries, "delivery")
    );
    // Storing a message (a commit, an fsync on SQLite) costs the same with
    // one viewer or ten thousand.
    let delivering = servers
        .zip(used.writers)
        .map(|(all, w)| all.saturating_sub(w));
    println!(
        "{}",
        cpu_line(
            "servers but their storage writers",
            delivering,
            wall,
            deliveries,
            "delivery"
        )
    );
    if pids.len() > 1 && !args.nchan {
        // Viewers are spread in turn: node k serves every k-th one.
        for (k, cpu) in used.servers.iter().enumerate() {
            let share = (0..connected_sse + connected_poll)
                .filter(|i| i % pids.len() == k)
                .count() as u64;
            let per = deliveries * share / (connected_sse + connected_poll).max(1) as u64;
            println!(
                "{}",
                cpu_line(&format!("node {k}"), *cpu, wall, per, "delivery")
            );
        }
    }
    println!(
        "{}",
        cpu_line("client", used.client, wall, deliveries, "delivery")
    );
    if let Some(end) = rss_end {
        println!("server RSS at the end: {:.1} MiB", end as f64 / 1048576.0);
    }
    Ok(())
}

async fn writer(args: &Args, addrs: &[SocketAddr], pids: &[u32]) -> Result<()> {
    println!(
        "writer: {} concurrent posters (one session and connection each) for {:.0} s",
        args.posters,
        args.duration.as_secs_f64()
    );
    let mut posters = open_posters(addrs, args.posters).await?;
    let room: Arc<str> = posters[0].create_room(ROOM_MAX).await?.into();
    let mark = CpuMark::now(pids);
    for poster in &mut posters {
        poster.client_ids = args.client_ids;
    }
    let flood = post::flood(std::mem::take(&mut posters), room, args.duration).await;
    let used = mark.since(pids);
    let (server_cpu, client_cpu) = (used.servers_total(), used.client);
    let rate = flood.stored as f64 / flood.elapsed.as_secs_f64();
    println!(
        "stored: {} messages in {:.2} s = {rate:.0} msgs/s (answers by status {:?}, broken connections {})",
        flood.stored,
        flood.elapsed.as_secs_f64(),
        flood.by_status,
        flood.failures
    );
    println!(
        "answer latency (post → 201 after commit): {}",
        flood.answers.summary()
    );
    println!(
        "{}",
        cpu_line(
            "server",
            server_cpu,
            flood.elapsed,
            flood.stored,
            "stored message"
        )
    );
    println!(
        "{}",
        cpu_line(
            "client",
            client_cpu,
            flood.elapsed,
            flood.stored,
            "stored message"
        )
    );
    Ok(())
}
