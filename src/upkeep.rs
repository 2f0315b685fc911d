//! Background work on a timer, which every node does and which holds
//! however many nodes do it: what must happen once (a dead node's users
//! leaving, a vacant room's deletion) is decided by the store under the
//! room's lock, so a second node doing the same finds nothing left to do,
//! and the work goes on while any node lives.
//!
//! - The lease (PostgreSQL): this node says it is alive every third of
//!   `--node-lease`; if it had been taken for dead meanwhile (paused, cut
//!   off), its presence is stored again.
//! - Dead nodes (PostgreSQL): the presence of a node whose lease ran out is
//!   removed as its users' departures, with leave notices and heirs.
//! - Vacant rooms: a room nobody has been in for `--unentered-room-ttl`
//!   (since its creation, a restart, or its node's death) is deleted.
//! - Read positions: what streams and polls delivered is stored every
//!   [`READS_EVERY`] (and once more at shutdown, by [`store_reads`]), and
//!   the lobby hears the new unread counts.

use std::time::Duration;

/// How often the read positions streams and polls moved are stored.
pub const READS_EVERY: Duration = Duration::from_secs(1);

use tokio::task::JoinHandle;

use crate::{
    db::{Db, presence::PresenceChange, writer::Writer},
    hub::Hub,
};

/// What the timers need.
pub struct Upkeep {
    pub db: Db,
    pub writer: Writer,
    pub hub: Hub,
    /// `--node-lease`, when nodes share the database.
    pub lease: Option<Duration>,
    pub vacant_room_ttl: Duration,
}

impl Upkeep {
    /// Starts the timers; they run until aborted.
    pub fn start(self) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let Some(lease) = self.lease {
            let (writer, hub) = (self.writer.clone(), self.hub.clone());
            tasks.push(tokio::spawn(keep_lease(writer, hub, lease)));
            let (db, writer) = (self.db.clone(), self.writer.clone());
            tasks.push(tokio::spawn(remove_dead_nodes(db, writer, lease / 3)));
        }
        let (writer, hub) = (self.writer.clone(), self.hub.clone());
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(READS_EVERY);
            loop {
                every.tick().await;
                store_reads(&hub, &writer).await;
            }
        }));
        tasks.push(tokio::spawn(delete_vacant_rooms(
            self.db,
            self.writer,
            self.hub,
            self.vacant_room_ttl,
        )));
        tasks
    }
}

/// Stores the read positions that moved since last time.
pub async fn store_reads(hub: &Hub, writer: &Writer) {
    let marks = hub.take_reads();
    if marks.is_empty() {
        return;
    }
    if let Err(e) = writer.mark_read(marks).await {
        tracing::warn!(error = %e, "storing read positions failed");
    }
}

async fn keep_lease(writer: Writer, hub: Hub, lease: Duration) {
    let mut every = tokio::time::interval(lease / 3);
    loop {
        every.tick().await;
        match writer.renew_lease(lease).await {
            Ok(true) => hub.lease_lost(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "renewing this node's lease failed"),
        }
    }
}

async fn remove_dead_nodes(db: Db, writer: Writer, every: Duration) {
    let mut every = tokio::time::interval(every);
    loop {
        every.tick().await;
        if let Err(e) = remove_dead_nodes_once(&db, &writer).await {
            tracing::warn!(error = %e, "removing dead nodes' presence failed");
        }
    }
}

async fn remove_dead_nodes_once(db: &Db, writer: &Writer) -> crate::db::StoreResult<()> {
    for gone in db.stale_presence().await? {
        tracing::info!(
            node = gone.node,
            room = gone.room_id,
            users = gone.users.len(),
            "a dead node's users leave"
        );
        let change = PresenceChange {
            room_id: gone.room_id,
            node: Some(gone.node),
            arrived: Vec::new(),
            departed: gone.users,
        };
        match writer.presence(change).await {
            // Deleted since: its presence went with it.
            Ok(_) | Err(crate::db::StoreError::NoSuchRoom) => {}
            Err(e) => return Err(e),
        }
    }
    // Also those that died with nobody present: their rows would stay.
    writer.forget_dead_nodes().await
}

async fn delete_vacant_rooms(db: Db, writer: Writer, hub: Hub, ttl: Duration) {
    let period = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        let vacant = match db.vacant_rooms(ttl).await {
            Ok(vacant) => vacant,
            Err(e) => {
                tracing::warn!(error = %e, "looking for vacant rooms failed");
                continue;
            }
        };
        for room_id in vacant {
            // Someone may have just come in here, not stored yet.
            if hub.member_count(&room_id) > 0 {
                continue;
            }
            if let Err(e) = writer.delete_if_vacant(&room_id, ttl).await {
                tracing::warn!(room = room_id, error = %e, "deleting a vacant room failed");
            }
        }
    }
}
