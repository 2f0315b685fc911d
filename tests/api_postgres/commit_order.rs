//! Ids in commit order with several writers on one PostgreSQL database
//! (what several gifchat nodes will be): a reader that follows the log
//! with a cursor, as every stream and poll does, never passes an id that
//! commits later, so it sees every event.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use gifchat::{
    db::{
        self, DatabaseUrl,
        presence::PresenceDone,
        writer::{AfterCommit, Changed, Writer},
    },
    model::{EventRecord, Kind, NewEvent, Present, RoomRow, User},
};

/// Writers with nobody watching.
struct Nobody;

impl AfterCommit for Nobody {
    fn started(&self, _: i64, _: &[Present]) {}
    fn stored(&self, _: &EventRecord) {}
    fn room_created(&self, _: &RoomRow) {}
    fn room_deleted(&self, _: &str, _: bool, _: &[String]) {}
    fn owner_changed(&self, _: &str, _: &User) {}
    fn banned(&self, _: &str, _: &str) {}
    fn admitted(&self, _: &str, _: &str) {}
    fn renamed(&self, _: &User) {}
    fn gif_erased(&self, _: &str) {}
    fn room_changed(&self, _: &RoomRow) {}
    fn typing(&self, _: &str, _: &User) {}
    fn read(&self, _: &[gifchat::model::Unread]) {}
    fn presence(&self, _: &PresenceDone) {}
    fn changed_elsewhere(&self, _: &Changed) {}
}

const POSTERS_PER_WRITER: usize = 8;
const POSTS_EACH: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_following_two_writers_misses_no_event() {
    let url = DatabaseUrl::Postgres(crate::postgres::fresh_database().await);
    let mut writers = Vec::new();
    let mut threads = Vec::new();
    let mut db = None;
    for _ in 0..2 {
        let (reads, engine) = db::open(&url).await.unwrap();
        let stored = prometheus::IntCounter::new("stored", "events stored").unwrap();
        let (writer, thread) = Writer::start(engine, Nobody, stored).await.unwrap();
        writers.push(writer);
        threads.push(thread);
        db = Some(reads);
    }
    let db = db.unwrap();
    let owner = User::new("owner".into(), None);
    writers[0]
        .create_room(RoomRow {
            id: "race".into(),
            title: "race".into(),
            max: 100,
            password_hash: None,
            owner: owner.clone(),
            created_at: db::writer::now(),
            locked: false,
        })
        .await
        .unwrap();

    let posting = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn({
        let (db, posting) = (db.clone(), posting.clone());
        async move {
            let (mut seen, mut cursor) = (Vec::new(), 0);
            loop {
                // Read the flag first: a read after posting ended sees all.
                let last_round = !posting.load(Ordering::SeqCst);
                let events = db
                    .events_after("race", "reader", cursor, 256)
                    .await
                    .unwrap();
                if let Some(last) = events.last() {
                    cursor = last.id;
                }
                seen.extend(events.iter().map(|e| e.id));
                if last_round && events.is_empty() {
                    return seen;
                }
            }
        }
    });
    let mut posters = Vec::new();
    for (w, writer) in writers.iter().enumerate() {
        for p in 0..POSTERS_PER_WRITER {
            let (writer, owner) = (writer.clone(), owner.clone());
            posters.push(tokio::spawn(async move {
                for n in 0..POSTS_EACH {
                    writer
                        .post(NewEvent {
                            chat: Some(format!("writer {w} poster {p} message {n}")),
                            ..NewEvent::by(owner.clone(), "race", Kind::Chat)
                        })
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for poster in posters {
        poster.await.unwrap();
    }
    posting.store(false, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let stored: Vec<i64> = db
        .events_after("race", "reader", 0, usize::MAX / 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(stored.len(), 2 * POSTERS_PER_WRITER * POSTS_EACH);
    let seen_set: std::collections::HashSet<i64> = seen.iter().copied().collect();
    let missed: Vec<i64> = stored
        .iter()
        .copied()
        .filter(|id| !seen_set.contains(id))
        .collect();
    assert!(
        missed.is_empty(),
        "the reader's cursor passed {} ids that committed later, e.g. {:?}",
        missed.len(),
        &missed[..missed.len().min(10)]
    );
    assert_eq!(seen, stored, "each once, in id order");
    for writer in &writers {
        writer.shutdown().await;
    }
    for thread in threads {
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap();
    }
}
