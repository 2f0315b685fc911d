//! Slow readers: many viewers that never read while a room is busy must not
//! make the server's memory grow without bound. A reader that falls behind
//! is not buffered for: the kernel's socket buffers fill, its stream stops
//! being polled, and when (if ever) it reads again it catches up from
//! SQLite.
//!
//! `cargo run --release --example slow_readers -- [stalled] [messages] [bytes]`
//! (defaults: 500 viewers that never read, 20,000 messages of 1,000
//! characters). The server runs in this process; the client side is a few
//! hundred idle sockets and sixteen posters, so the process's resident
//! memory is the server's plus a small constant. Prints the resident memory
//! before, at its peak during the burst, and after.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let stalled = args.next().transpose()?.unwrap_or(500);
    let messages = args.next().transpose()?.unwrap_or(20_000);
    let bytes = args.next().transpose()?.unwrap_or(1_000);
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let dir = tempfile::TempDir::new()?;
    let mut config = gifchat::Config::for_dir(dir.path());
    config.post_rate = 0.0;
    config.max_streams_per_addr = 0;
    config.log = "warn".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gifchat::run(listener, config, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let room: Value = http
        .post(format!("{base}/rooms"))
        .header("accept", "application/json")
        .json(&json!({ "title": "busy", "max": 10_000 }))
        .send()
        .await?
        .json()
        .await?;
    let room = room["id"].as_str().ok_or("no room id")?.to_owned();

    // Viewers that send their request and never read a byte.
    let mut sockets = Vec::with_capacity(stalled);
    for _ in 0..stalled {
        let mut socket = TcpStream::connect(addr).await?;
        let request = format!(
            "GET /rooms/{room}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await?;
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kib();

    let peak = Arc::new(AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let text = "x".repeat(bytes);
    let next = Arc::new(AtomicU64::new(0));
    let posters: Vec<_> = (0..16)
        .map(|_| {
            let (http, base, room, text, next) = (
                http.clone(),
                base.clone(),
                room.clone(),
                text.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Relaxed) < messages as u64 {
                    let _ = http
                        .post(format!("{base}/rooms/{room}/messages"))
                        .header("accept", "application/json")
                        .json(&json!({ "chat": text }))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for poster in posters {
        poster.await?;
    }
    let burst = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    sampler.abort();
    let after = rss_kib();
    let peak = peak.load(Relaxed).max(after);

    let stored = (messages * bytes) as f64 / 1_048_576.0;
    println!("stalled viewers:        {stalled}");
    println!(
        "messages:               {messages} x {bytes} characters ({stored:.0} MiB stored, {:.1} s)",
        burst.as_secs_f64()
    );
    println!(
        "fan-out owed:           {:.0} MiB to viewers that never read",
        stored * stalled as f64
    );
    println!("resident before burst:  {:.1} MiB", before as f64 / 1024.0);
    println!("resident at peak:       {:.1} MiB", peak as f64 / 1024.0);
    println!("resident after burst:   {:.1} MiB", after as f64 / 1024.0);
    println!(
        "growth per stalled viewer at peak: {:.1} KiB",
        (peak.saturating_sub(before)) as f64 / stalled.max(1) as f64
    );

    drop(sockets);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    Ok(())
}

/// This process's resident memory, from /proc (0 where there is none).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
