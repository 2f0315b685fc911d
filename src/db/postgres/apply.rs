//! What each change does in PostgreSQL, inside the writer's transaction.
//!
//! # Why event ids come from a counter row
//!
//! A reader resumes "after id N" and must never miss an event. With a
//! sequence (or an identity column), ids are handed out when a transaction
//! *asks*, not when it commits: writer A takes 10, writer B takes 11 and
//! commits first, a reader sees 11 and moves its cursor past 10, then A
//! commits 10 and that reader never sees it. On one SQLite writer this
//! cannot happen; with several gifchat nodes on one PostgreSQL it would.
//!
//! So ids come from the one row of `event_ids`, incremented by the
//! statement that inserts the event (`UPDATE ... RETURNING`), in the
//! writing transaction. The update locks the row until that transaction
//! ends, so a second writer's increment waits for the first to commit (or
//! roll back) and then reads its result: ids are handed out in commit
//! order, by construction, however many writers there are. PostgreSQL
//! makes a transaction visible before it releases its locks, so by the
//! time id N+1 can be handed out, id N is visible to every reader. The
//! cost is that writers take turns on that row; each holds it for one
//! group commit, which is what the single writer per node already does.

use deadpool_postgres::Transaction;

use super::reads::access_of;
use crate::{
    db::{
        StoreError, StoreResult,
        changes::{Change, Done, now},
    },
    model::{EventRecord, NewEvent},
};

/// Inserts an event with the next id if `$guard` holds; `$1` is the room,
/// `$3` the poster.
macro_rules! insert_event_if {
    ($guard:literal) => {
        concat!(
            "WITH next AS (
                 UPDATE event_ids SET last = last + 1 WHERE ",
            $guard,
            " RETURNING last
             )
             INSERT INTO events (id, room_id, kind, user_id, user_name, chat, gif, to_id,
                                 to_name, created_at, gif_width, gif_height, gif_frames)
             SELECT last, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM next
             RETURNING id"
        )
    };
}

/// An event of a room that exists (notices).
const INSERT_EVENT: &str = insert_event_if!("EXISTS (SELECT 1 FROM rooms WHERE id = $1)");

/// A member's post: the room exists, the poster is not banned, and the room
/// is open or the poster may enter it (as `rooms::ACCESS` reads it).
const INSERT_POST: &str = insert_event_if!(
    "EXISTS (SELECT 1 FROM rooms WHERE id = $1
              AND NOT EXISTS (SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $3)
              AND (password_hash IS NULL OR owner_id = $3
                   OR EXISTS (SELECT 1 FROM admissions WHERE room_id = $1 AND user_id = $3)))"
);

/// Applies one change; the caller owns the transaction.
pub(super) async fn apply(tx: &Transaction<'_>, change: &Change) -> StoreResult<Done> {
    match change {
        Change::CreateRoom(room) => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO rooms (id, title, max_members, password_hash, owner_id,
                                        owner_name, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .await?;
            tx.execute(
                &statement,
                &[
                    &room.id,
                    &room.title,
                    &i64::from(room.max),
                    &room.password_hash,
                    &room.owner.id,
                    &room.owner.name,
                    &room.created_at,
                ],
            )
            .await?;
            // The creator is admitted, not only as the owner: handing the
            // room over does not lock them out of it (API.md).
            let statement = tx
                .prepare_cached("INSERT INTO admissions (room_id, user_id) VALUES ($1, $2)")
                .await?;
            tx.execute(&statement, &[&room.id, &room.owner.id]).await?;
            Ok(Done::Room(room.clone()))
        }
        Change::Append(event) => insert_event(tx, INSERT_EVENT, event).await,
        Change::Post(event) => match insert_event(tx, INSERT_POST, event).await {
            // Refused: say why (no room, or which refusal).
            Err(StoreError::NoSuchRoom) => {
                let poster = event.user.as_ref().map_or("", |u| u.id.as_str());
                match access_of(tx, &event.room_id, poster).await? {
                    Some(access) => Err(StoreError::Refused(access)),
                    None => Err(StoreError::NoSuchRoom),
                }
            }
            done => done,
        },
        Change::Admit { room_id, user_id } => {
            execute(
                tx,
                "INSERT INTO admissions (room_id, user_id)
                 SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $1)
                 ON CONFLICT DO NOTHING",
                &[room_id, user_id],
            )
            .await?;
            Ok(Done::Nothing)
        }
        Change::Ban { user, notice } => {
            execute(
                tx,
                "INSERT INTO bans (room_id, user_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&notice.room_id, &user.id, &now()],
            )
            .await?;
            insert_event(tx, INSERT_EVENT, notice).await
        }
        Change::SetOwner { owner, notice } => {
            let updated = execute(
                tx,
                "UPDATE rooms SET owner_id = $2, owner_name = $3 WHERE id = $1",
                &[&notice.room_id, &owner.id, &owner.name],
            )
            .await?;
            if updated == 0 {
                return Err(StoreError::NoSuchRoom);
            }
            insert_event(tx, INSERT_EVENT, notice).await
        }
        Change::DeleteRoom { room_id } => {
            let statement = tx
                .prepare_cached("SELECT gif FROM events WHERE room_id = $1 AND gif IS NOT NULL")
                .await?;
            let gifs = tx
                .query(&statement, &[room_id])
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<Vec<String>, _>>()?;
            let deleted = execute(tx, "DELETE FROM rooms WHERE id = $1", &[room_id]).await?;
            Ok(Done::Deleted {
                existed: deleted > 0,
                gifs,
            })
        }
        Change::Rename { user } => {
            execute(
                tx,
                "UPDATE rooms SET owner_name = $2 WHERE owner_id = $1",
                &[&user.id, &user.name],
            )
            .await?;
            Ok(Done::Nothing)
        }
        Change::CreateSession(row) => {
            let inserted = execute(
                tx,
                "INSERT INTO sessions (id, data, expiry) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&row.id, &row.data, &row.expiry],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::SessionTaken);
            }
            Ok(Done::Nothing)
        }
        Change::SaveSession(row) => {
            execute(
                tx,
                "INSERT INTO sessions (id, data, expiry) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry",
                &[&row.id, &row.data, &row.expiry],
            )
            .await?;
            Ok(Done::Nothing)
        }
        Change::DeleteSession { id } => {
            execute(tx, "DELETE FROM sessions WHERE id = $1", &[id]).await?;
            Ok(Done::Nothing)
        }
        Change::DeleteExpiredSessions { now } => {
            execute(tx, "DELETE FROM sessions WHERE expiry < $1", &[now]).await?;
            Ok(Done::Nothing)
        }
    }
}

/// Runs one cached statement; the rows it changed.
async fn execute(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<u64> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&statement, params).await?)
}

/// Stores `event` with `sql` (one of the `insert_event_if!`s): `NoSuchRoom`
/// when its guard refused it.
async fn insert_event(tx: &Transaction<'_>, sql: &str, event: &NewEvent) -> StoreResult<Done> {
    let created_at = now();
    let gif = event.gif_info;
    let statement = tx.prepare_cached(sql).await?;
    let row = tx
        .query_opt(
            &statement,
            &[
                &event.room_id,
                &event.kind.as_str(),
                &event.user.as_ref().map(|u| &u.id),
                &event.user.as_ref().and_then(|u| u.name.as_ref()),
                &event.chat,
                &event.gif,
                &event.to.as_ref().map(|u| &u.id),
                &event.to.as_ref().and_then(|u| u.name.as_ref()),
                &created_at,
                &gif.map(|g| i64::from(g.width)),
                &gif.map(|g| i64::from(g.height)),
                &gif.map(|g| i64::from(g.frames)),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NoSuchRoom);
    };
    Ok(Done::Event(EventRecord {
        id: row.try_get(0)?,
        kind: event.kind,
        room: event.room_id.clone(),
        user: event.user.clone(),
        chat: event.chat.clone(),
        gif: event.gif.clone(),
        gif_info: event.gif_info,
        to: event.to.clone(),
        created_at,
    }))
}
