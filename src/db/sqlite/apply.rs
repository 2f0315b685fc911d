//! What each change does in SQLite, inside the writer's transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::{events, rooms};
use crate::{
    db::{
        Refusal, StoreError, StoreResult,
        changes::{Change, Done, ago, now},
        presence::{self, PresenceChange, PresenceDone, Row},
        record::mentions_column,
        targets,
    },
    model::{EventRecord, Kind, NewEvent, Quote, Unread, heir_notice, presence_notice},
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
        Change::Append(event) => insert_event(tx, event, None).map(Done::Event),
        Change::Post(event) => {
            let poster = event.user.as_ref().map(|u| u.id.as_str()).unwrap_or("");
            admitted(tx, &event.room_id, poster)?;
            let reply = match event.reply_to {
                Some(id) => Some(targets::check_reply(
                    event,
                    events::by_id(tx, id)?.as_ref(),
                )?),
                None => None,
            };
            match (insert_event(tx, event, reply), &event.client_id) {
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
        Change::Modify(change) => modify(tx, change),
        Change::CreateBot {
            room_id,
            key_hash,
            bot,
        } => {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO bots (key_hash, room_id, user_id, name, created_at)
                     SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?2)",
                )?
                .execute(params![key_hash, room_id, bot.id, bot.label(), now()])?;
            if inserted == 0 {
                return Err(StoreError::NoSuchRoom);
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO admissions (room_id, user_id) VALUES (?1, ?2)",
            )?
            .execute(params![room_id, bot.id])?;
            Ok(Done::Nothing)
        }
        Change::DeleteBot { room_id, key_hash } => {
            let deleted = tx
                .prepare_cached("DELETE FROM bots WHERE key_hash = ?1 AND room_id = ?2")?
                .execute(params![key_hash, room_id])?;
            Ok(Done::Deleted {
                existed: deleted > 0,
                gifs: Vec::new(),
            })
        }
        Change::Settings(settings) => {
            let before = rooms::get(tx, &settings.room_id)?.ok_or(StoreError::NoSuchRoom)?;
            let id = &settings.room_id;
            if let Some(locked) = settings.locked {
                tx.prepare_cached("UPDATE rooms SET locked = ?2 WHERE id = ?1")?
                    .execute(params![id, locked])?;
            }
            if let Some(max) = settings.max {
                tx.prepare_cached("UPDATE rooms SET max_members = ?2 WHERE id = ?1")?
                    .execute(params![id, max])?;
            }
            if let Some(hash) = &settings.password_hash {
                tx.prepare_cached("UPDATE rooms SET password_hash = ?2 WHERE id = ?1")?
                    .execute(params![id, hash])?;
                // Whoever is in an open room that gets a password stays in.
                if hash.is_some() && !before.is_private() {
                    for user_id in &settings.present {
                        tx.prepare_cached(
                            "INSERT OR IGNORE INTO admissions (room_id, user_id) VALUES (?1, ?2)",
                        )?
                        .execute([id, user_id])?;
                    }
                }
            }
            let room = rooms::get(tx, id)?.ok_or(StoreError::NoSuchRoom)?;
            let notice = insert_event(tx, &settings.notice, None)?;
            Ok(Done::Settings { room, notice })
        }
        Change::MarkRead(marks) => {
            let mut moved = Vec::new();
            for mark in marks {
                let changed = tx
                    .prepare_cached(
                        "INSERT INTO reads (user_id, room_id, last_read)
                         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?2)
                         ON CONFLICT (user_id, room_id) DO UPDATE SET last_read = excluded.last_read
                         WHERE excluded.last_read > reads.last_read",
                    )?
                    .execute(params![mark.user_id, mark.room_id, mark.last_read])?;
                if changed > 0 {
                    let unread = events::unread_after(tx, mark)?;
                    moved.push(Unread {
                        mark: mark.clone(),
                        unread,
                    });
                }
            }
            Ok(Done::Read(moved))
        }
        Change::Admit { room_id, user_id } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO admissions (room_id, user_id) VALUES (?1, ?2)",
            )?
            .execute(params![room_id, user_id])?;
            Ok(Done::Nothing)
        }
        Change::Ban {
            user,
            addresses,
            notice,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO bans (room_id, user_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![notice.room_id, user.id, now()])?;
            for addr in addresses {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO address_bans (room_id, addr, created_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![notice.room_id, addr, now()])?;
            }
            // Present no more, without a leave notice: the kick says it.
            tx.prepare_cached("DELETE FROM presence WHERE room_id = ?1 AND user_id = ?2")?
                .execute(params![notice.room_id, user.id])?;
            insert_event(tx, notice, None).map(Done::Event)
        }
        Change::SetOwner { owner, notice } => {
            let updated = tx
                .prepare_cached("UPDATE rooms SET owner_id = ?2, owner_name = ?3 WHERE id = ?1")?
                .execute(params![notice.room_id, owner.id, owner.name])?;
            if updated == 0 {
                return Err(StoreError::NoSuchRoom);
            }
            insert_event(tx, notice, None).map(Done::Event)
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
                None,
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
        done.heir = Some(insert_event(tx, &NewEvent::system(&room_id, text), None)?);
        done.room.owner = heir;
    }
    if plan.empty {
        tx.prepare_cached("UPDATE rooms SET vacant_since = ?2 WHERE id = ?1")?
            .execute(params![room_id, now()])?;
    }
    Ok(Done::Presence(Box::new(done)))
}
/// `Refused` unless `user_id` may post in the room; `NoSuchRoom` when
/// there is none.
fn admitted(tx: &Connection, room_id: &str, user_id: &str) -> StoreResult<()> {
    let access = rooms::access(tx, room_id, user_id)?.ok_or(StoreError::NoSuchRoom)?;
    match access.is_admitted() {
        true => Ok(()),
        false => Err(StoreError::Refused(access)),
    }
}

/// A reaction, unreaction, edit or delete: checked against the message as
/// it is now (`targets.rs`), applied to it, and stored as an event.
fn modify(tx: &Connection, change: &NewEvent) -> StoreResult<Done> {
    let actor = change.user.as_ref().map(|u| u.id.as_str()).unwrap_or("");
    admitted(tx, &change.room_id, actor)?;
    let room = rooms::get(tx, &change.room_id)?.ok_or(StoreError::NoSuchRoom)?;
    let target_id = change.target.unwrap_or(0);
    let target = events::by_id(tx, target_id)?;
    let to = targets::check_change(change, target.as_ref(), &room.owner.id)?;
    let event = NewEvent {
        to,
        ..change.clone()
    };
    let reaction = change.chat.as_deref().unwrap_or("");
    match change.kind {
        Kind::Reaction => {
            let given: Option<i64> = tx
                .prepare_cached(
                    "SELECT added_by FROM reactions
                     WHERE event_id = ?1 AND user_id = ?2 AND reaction = ?3",
                )?
                .query_row(params![target_id, actor, reaction], |row| row.get(0))
                .optional()?;
            if let Some(first) = given.and_then(|id| events::by_id(tx, id).transpose()) {
                return Ok(Done::Repeat(first?));
            }
            let record = insert_event(tx, &event, None)?;
            tx.prepare_cached(
                "INSERT INTO reactions (event_id, user_id, reaction, user_name, added_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                target_id,
                actor,
                reaction,
                change.user.as_ref().and_then(|u| u.name.as_ref()),
                record.id
            ])?;
            Ok(Done::Event(record))
        }
        Kind::Unreaction => {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM reactions WHERE event_id = ?1 AND user_id = ?2 AND reaction = ?3",
                )?
                .execute(params![target_id, actor, reaction])?;
            if removed == 0 {
                return Err(Refusal::NoReaction.into());
            }
            insert_event(tx, &event, None).map(Done::Event)
        }
        Kind::Edit => {
            tx.prepare_cached("UPDATE events SET chat = ?2, edited_at = ?3 WHERE id = ?1")?
                .execute(params![target_id, change.chat, now()])?;
            insert_event(tx, &event, None).map(Done::Event)
        }
        Kind::Delete => {
            // Its words go from everywhere they were stored: the message,
            // its edits. (Replies quote it as it is now: deleted.)
            tx.prepare_cached(
                "UPDATE events SET chat = NULL, gif = NULL, gif_width = NULL, gif_height = NULL,
                                   gif_frames = NULL, mentions = NULL, deleted_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![target_id, now()])?;
            tx.prepare_cached("UPDATE events SET chat = NULL WHERE target = ?1 AND kind = 'edit'")?
                .execute([target_id])?;
            tx.prepare_cached("DELETE FROM reactions WHERE event_id = ?1")?
                .execute([target_id])?;
            let record = insert_event(tx, &event, None)?;
            let gif = target.and_then(|t| t.gif);
            Ok(Done::Erased { record, gif })
        }
        other => Err(StoreError::Database(
            format!("{} is no change to a message", other.as_str()).into(),
        )),
    }
}

/// Stores `event` (replying to the message `reply` quotes, if any).
fn insert_event(
    tx: &Connection,
    event: &NewEvent,
    reply: Option<Box<Quote>>,
) -> StoreResult<EventRecord> {
    let created_at = now();
    let inserted = tx
        .prepare_cached(
            "INSERT INTO events (room_id, kind, user_id, user_name, chat, gif, to_id, to_name,
                                 created_at, gif_width, gif_height, gif_frames, client_id,
                                 target, reply_to, mentions)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16
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
            event.target,
            event.reply_to,
            mentions_column(&event.mentions),
        ])?;
    if inserted == 0 {
        return Err(StoreError::NoSuchRoom);
    }
    Ok(event.stored(tx.last_insert_rowid(), created_at, reply))
}
