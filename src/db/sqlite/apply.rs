//! What each change does in SQLite, inside the writer's transaction.

use rusqlite::{Connection, params};

use super::{events, rooms};
use crate::{
    db::{
        StoreError, StoreResult,
        changes::{Change, Done, ago, now},
        presence::{self, PresenceChange, PresenceDone, Row},
    },
    model::{EventRecord, NewEvent, heir_notice, presence_notice},
};

/// The one node a SQLite database has: this process.
const NODE: &str = "local";

/// Applies one change; the caller owns the transaction.
pub(super) fn apply(tx: &Connection, change: &Change) -> StoreResult<Done> {
    match change {
        Change::CreateRoom(room) => {
            tx.prepare_cached(
                "INSERT INTO rooms (id, title, max_members, password_hash, owner_id, owner_name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                room.id,
                room.title,
                room.max,
                room.password_hash,
                room.owner.id,
                room.owner.name,
                room.created_at
            ])?;
            tx.prepare_cached("UPDATE rooms SET vacant_since = created_at WHERE id = ?1")?
                .execute([&room.id])?;
            // The creator is admitted, not only as the owner: handing the
            // room over does not lock them out of it (API.md).
            tx.prepare_cached("INSERT INTO admissions (room_id, user_id) VALUES (?1, ?2)")?
                .execute(params![room.id, room.owner.id])?;
            Ok(Done::Room(room.clone()))
        }
        Change::Append(event) => insert_event(tx, event).map(Done::Event),
        Change::Post(event) => {
            let poster = event.user.as_ref().map(|u| u.id.as_str()).unwrap_or("");
            let access =
                rooms::access(tx, &event.room_id, poster)?.ok_or(StoreError::NoSuchRoom)?;
            if !access.is_admitted() {
                return Err(StoreError::Refused(access));
            }
            match (insert_event(tx, event), &event.client_id) {
                // The room is there: what stopped the insert was the
                // poster's earlier event with this client_id (looked for
                // only then, off the path of every other post).
                (Err(StoreError::NoSuchRoom), Some(client_id)) => {
                    events::by_client_id(tx, &event.room_id, poster, client_id)?
                        .map(Done::Repeat)
                        .ok_or(StoreError::NoSuchRoom)
                }
                (result, _) => result.map(Done::Event),
            }
        }
        Change::Admit { room_id, user_id } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO admissions (room_id, user_id) VALUES (?1, ?2)",
            )?
            .execute(params![room_id, user_id])?;
            Ok(Done::Nothing)
        }
        Change::Ban { user, notice } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO bans (room_id, user_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![notice.room_id, user.id, now()])?;
            // Present no more, without a leave notice: the kick says it.
            tx.prepare_cached("DELETE FROM presence WHERE room_id = ?1 AND user_id = ?2")?
                .execute(params![notice.room_id, user.id])?;
            insert_event(tx, notice).map(Done::Event)
        }
        Change::SetOwner { owner, notice } => {
            let updated = tx
                .prepare_cached("UPDATE rooms SET owner_id = ?2, owner_name = ?3 WHERE id = ?1")?
                .execute(params![notice.room_id, owner.id, owner.name])?;
            if updated == 0 {
                return Err(StoreError::NoSuchRoom);
            }
            insert_event(tx, notice).map(Done::Event)
        }
        Change::DeleteRoom { room_id } => delete_room(tx, room_id),
        Change::DeleteIfVacant { room_id, ttl } => {
            let vacant = tx
                .prepare_cached(
                    "SELECT 1 FROM rooms WHERE id = ?1 AND vacant_since < ?2
                     AND NOT EXISTS (SELECT 1 FROM presence WHERE room_id = ?1)",
                )?
                .exists(params![room_id, ago(*ttl)])?;
            match vacant {
                true => delete_room(tx, room_id),
                false => Ok(Done::Deleted {
                    existed: false,
                    gifs: Vec::new(),
                }),
            }
        }
        Change::Rename { user } => {
            tx.prepare_cached("UPDATE rooms SET owner_name = ?2 WHERE owner_id = ?1")?
                .execute(params![user.id, user.name])?;
            tx.prepare_cached("UPDATE presence SET user_name = ?2 WHERE user_id = ?1")?
                .execute(params![user.id, user.name])?;
            Ok(Done::Nothing)
        }
        Change::Presence(change) => presence(tx, change),
        // One process, one node: no lease to keep, no dead node to forget.
        Change::RenewLease { .. } => Ok(Done::Lease { lost: false }),
        Change::ForgetDeadNodes => Ok(Done::Nothing),
        Change::CreateSession(row) => {
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO sessions (id, data, expiry) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![row.id, row.data, row.expiry])?;
            if inserted == 0 {
                return Err(StoreError::SessionTaken);
            }
            Ok(Done::Nothing)
        }
        Change::SaveSession(row) => {
            tx.prepare_cached(
                "INSERT INTO sessions (id, data, expiry) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry",
            )?
            .execute(params![row.id, row.data, row.expiry])?;
            Ok(Done::Nothing)
        }
        Change::DeleteSession { id } => {
            tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                .execute([id])?;
            Ok(Done::Nothing)
        }
        Change::DeleteExpiredSessions { now } => {
            tx.prepare_cached("DELETE FROM sessions WHERE expiry < ?1")?
                .execute([now])?;
            Ok(Done::Nothing)
        }
    }
}

fn delete_room(tx: &Connection, room_id: &str) -> StoreResult<Done> {
    let gifs = tx
        .prepare_cached("SELECT gif FROM events WHERE room_id = ?1 AND gif IS NOT NULL")?
        .query_map([room_id], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    tx.prepare_cached("DELETE FROM presence WHERE room_id = ?1")?
        .execute([room_id])?;
    let deleted = tx
        .prepare_cached("DELETE FROM rooms WHERE id = ?1")?
        .execute([room_id])?;
    Ok(Done::Deleted {
        existed: deleted > 0,
        gifs,
    })
}

/// A round of presence, as `presence.rs` plans it from the room's rows.
fn presence(tx: &Connection, change: &PresenceChange) -> StoreResult<Done> {
    let room = rooms::get(tx, &change.room_id)?.ok_or(StoreError::NoSuchRoom)?;
    let rows = tx
        .prepare_cached(
            "SELECT user_id, user_name, node FROM presence WHERE room_id = ?1 ORDER BY since",
        )?
        .query_map([&room.id], |row| {
            Ok(Row {
                user: crate::model::User::new(row.get(0)?, row.get(1)?),
                node: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<Row>>>()?;
    let node = change.node.as_deref().unwrap_or(NODE);
    let plan = presence::plan(
        &room.owner.id,
        rows,
        node,
        &change.arrived,
        &change.departed,
    );
    for user in &plan.insert {
        tx.prepare_cached(
            "INSERT INTO presence (room_id, user_id, user_name, node) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![room.id, user.id, user.name, node])?;
    }
    if !plan.insert.is_empty() {
        tx.prepare_cached("UPDATE rooms SET vacant_since = NULL WHERE id = ?1")?
            .execute([&room.id])?;
    }
    for user in &plan.delete {
        tx.prepare_cached(
            "DELETE FROM presence WHERE room_id = ?1 AND user_id = ?2 AND node = ?3",
        )?
        .execute(params![room.id, user.id, node])?;
    }
    let mut done = PresenceDone::rows(room, change.node.clone(), plan.insert, plan.delete);
    // Emptied by its people leaving, the room goes (nobody reads notices in
    // it); emptied by a node's death, it waits to be re-entered.
    if plan.empty && change.node.is_none() {
        if let Done::Deleted { gifs, .. } = delete_room(tx, &done.room.id)? {
            done.deleted = Some(gifs);
        }
        return Ok(Done::Presence(Box::new(done)));
    }
    let room_id = done.room.id.clone();
    let notice = |users: &[crate::model::User], verb| -> StoreResult<Option<EventRecord>> {
        match users.is_empty() {
            true => Ok(None),
            false => insert_event(
                tx,
                &NewEvent::system(&room_id, presence_notice(users, verb)),
            )
            .map(Some),
        }
    };
    done.joined = notice(&plan.joined, "joined")?;
    done.left = notice(&plan.left, "left")?;
    if let Some(heir) = plan.heir {
        tx.prepare_cached("UPDATE rooms SET owner_id = ?2, owner_name = ?3 WHERE id = ?1")?
            .execute(params![room_id, heir.id, heir.name])?;
        let text = heir_notice(&heir);
        done.heir = Some(insert_event(tx, &NewEvent::system(&room_id, text))?);
        done.room.owner = heir;
    }
    if plan.empty {
        tx.prepare_cached("UPDATE rooms SET vacant_since = ?2 WHERE id = ?1")?
            .execute(params![room_id, now()])?;
    }
    Ok(Done::Presence(Box::new(done)))
}
fn insert_event(tx: &Connection, event: &NewEvent) -> StoreResult<EventRecord> {
    let created_at = now();
    let inserted = tx
        .prepare_cached(
            "INSERT INTO events (room_id, kind, user_id, user_name, chat, gif, to_id, to_name,
                                 created_at, gif_width, gif_height, gif_frames, client_id)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
             WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?1)
             ON CONFLICT (room_id, user_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
        )?
        .execute(params![
            event.room_id,
            event.kind.as_str(),
            event.user.as_ref().map(|u| &u.id),
            event.user.as_ref().and_then(|u| u.name.as_ref()),
            event.chat,
            event.gif,
            event.to.as_ref().map(|u| &u.id),
            event.to.as_ref().and_then(|u| u.name.as_ref()),
            created_at,
            event.gif_info.map(|g| g.width),
            event.gif_info.map(|g| g.height),
            event.gif_info.map(|g| g.frames),
            event.client_id,
        ])?;
    if inserted == 0 {
        return Err(StoreError::NoSuchRoom);
    }
    Ok(event.stored(tx.last_insert_rowid(), created_at))
}
