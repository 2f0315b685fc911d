//! Writer mode without HTTP: many tasks appending through the writer
//! thread directly, in this process, to tell the writer's own capacity
//! (group commit, statements, publishing) apart from the request path's.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use gifchat::{
    db::{
        self,
        writer::{Writer, now},
    },
    hub::{Hub, HubConfig},
    model::{Kind, NewEvent, RoomRow, User},
};

use crate::stats::Histogram;

pub async fn writer(
    posters: usize,
    run: Duration,
    database: Option<db::DatabaseUrl>,
) -> crate::Result<()> {
    println!(
        "writer, in process (no HTTP): {posters} concurrent posters for {:.0} s",
        run.as_secs_f64()
    );
    let dir = tempfile::TempDir::new()?;
    let mut config = gifchat::Config::for_dir(dir.path());
    config.database = database;
    std::fs::create_dir_all(&config.data_dir)?;
    std::fs::create_dir_all(&config.uploads_dir)?;
    let (_, engine) = db::open(&config.database_url()).await?;
    // Nobody is present in the benchmark's room: presence has nothing to
    // store, so its rounds go nowhere.
    let (hub, _rounds) = Hub::new(HubConfig {
        leave_grace: config.leave_grace,
        visit_window: config.visit_window,
        room_channel_capacity: config.room_channel_capacity,
    });
    let stored = prometheus::IntCounter::new("stored", "events stored")?;
    let live = gifchat::after_commit::LiveSide {
        hub,
        uploads_dir: config.uploads_dir.clone(),
    };
    let (writer, thread) = Writer::start(engine, live, stored).await?;
    let owner = User::new("benchowner0000".into(), None);
    let room = writer
        .create_room(RoomRow {
            id: "benchroom".into(),
            title: "writer benchmark".into(),
            max: 10_000,
            password_hash: None,
            owner: owner.clone(),
            created_at: now(),
            locked: false,
        })
        .await?;
    let answers = Arc::new(Histogram::new());
    let started = Instant::now();
    let cpu_before = crate::stats::cpu_time(std::process::id());
    let deadline = tokio::time::Instant::now() + run;
    let mut tasks = Vec::new();
    for k in 0..posters {
        let (writer, answers, room_id, user) = (
            writer.clone(),
            answers.clone(),
            room.id.clone(),
            User::new(format!("benchposter{k:04}"), None),
        );
        tasks.push(tokio::spawn(async move {
            let mut stored = 0u64;
            while tokio::time::Instant::now() < deadline {
                let sent = Instant::now();
                let event = NewEvent {
                    chat: Some(format!("fo {stored} 0")),
                    ..NewEvent::by(user.clone(), &room_id, Kind::Chat)
                };
                if writer.notice(event).await.is_err() {
                    break;
                }
                answers.record_us(sent.elapsed().as_micros() as u64);
                stored += 1;
            }
            stored
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += task.await.unwrap_or(0);
    }
    let elapsed = started.elapsed();
    let cpu = crate::stats::cpu_time(std::process::id())
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    writer.shutdown().await;
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    println!(
        "stored: {stored} messages in {:.2} s = {:.0} msgs/s",
        elapsed.as_secs_f64(),
        stored as f64 / elapsed.as_secs_f64()
    );
    println!("answer latency (append → committed): {}", answers.summary());
    println!(
        "{}",
        crate::cpu_line("process", cpu, elapsed, stored, "stored message")
    );
    Ok(())
}
