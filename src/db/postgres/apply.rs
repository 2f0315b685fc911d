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
//! So ids come from the one row of `event_ids`: the writing transaction
//! first takes a block of ids from it, one for every change of its batch
//! that may store an event (`UPDATE ... RETURNING`, [`reserve_ids`]). The
//! update locks the row until that transaction ends, so a second writer's
//! block waits for the first to commit (or roll back) and then starts after
//! it: ids are handed out in commit order, by construction, however many
//! writers there are. PostgreSQL makes a transaction visible before it
//! releases its locks, so by the time id N+1 can be handed out, id N is
//! visible to every reader. A change that stores nothing (a refused post)
//! leaves its id unused: ids only ever need to increase.
//!
//! # What other nodes must hear besides events
//!
//! A room created or deleted, a new owner, a ban, an admission, a new
//! display name change what every node shows and lets through, but are no
//! events. Each is written to `changes` with an id from the same block, so
//! other nodes read it in the log in its place among the events (a new
//! owner just before the notice saying so, a ban just after), exactly once,
//! whatever notifications were lost ([`ids_needed`] says how many ids a
//! change takes). The cost is that
//! writers take turns on that row; each holds it for one group commit,
//! which is what the single writer per node already does. (One update per
//! batch, not per event: every update of a row makes a new version of it,
//! and a transaction's own versions pile up until it ends.)

use deadpool_postgres::Transaction;

use super::reads::{access_of, event_by_id, room_at};
use crate::{
    db::{
        Refusal, StoreError, StoreResult,
        changes::{Change, Done, RoomSettings, now},
        presence::{self, PresenceChange, PresenceDone, Row},
        record::mentions_column,
        targets,
    },
    model::{Access, Kind, NewEvent, Quote, ReadMark, Unread, User, heir_notice, presence_notice},
};

/// Stores an event with id `$13` (a change to message `$15`, a reply to
/// `$16`, mentioning `$17`) if `$guard` holds and the poster (`$3`)
/// has no event with its `client_id` (`$14`) in the room (`$1`) yet,
/// reading what the poster may do there in the same statement. One row,
/// `(id, banned, allowed, first)`: the id stored (null when nothing was),
/// whether the poster is banned (null when there is no such room), whether
/// the guard held, and the id of the event this one repeats.
macro_rules! insert_event_if {
    ($guard:literal) => {
        concat!(
            "WITH access AS (
                 SELECT EXISTS (SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $3) AS banned,
                        password_hash IS NULL OR owner_id = $3
                        OR EXISTS (SELECT 1 FROM admissions WHERE room_id = $1 AND user_id = $3)
                        AS admitted
                 FROM rooms WHERE id = $1
             ), allowed AS (
                 SELECT EXISTS (SELECT 1 FROM access WHERE ",
            $guard,
            ") AS allowed
             ), first AS (
                 SELECT id FROM events WHERE room_id = $1 AND user_id = $3 AND client_id = $14
             ), stored AS (
                 INSERT INTO events (id, room_id, kind, user_id, user_name, chat, gif, to_id,
                                     to_name, created_at, gif_width, gif_height, gif_frames,
                                     client_id, target, reply_to, mentions)
                 SELECT $13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $15, $16,
                        $17
                 WHERE (SELECT allowed FROM allowed) AND NOT EXISTS (SELECT 1 FROM first)
                 ON CONFLICT (room_id, user_id, client_id) WHERE client_id IS NOT NULL
                 DO NOTHING
                 RETURNING id
             )
             SELECT (SELECT id FROM stored), (SELECT banned FROM access),
                    (SELECT allowed FROM allowed), (SELECT id FROM first)"
        )
    };
}

/// An event of a room that exists (notices).
const INSERT_EVENT: &str = insert_event_if!("TRUE");

/// A member's post: the poster is not banned, and the room is open or the
/// poster may enter it.
const INSERT_POST: &str = insert_event_if!("NOT banned AND admitted");

/// Deletes room `$1` if `$guard` holds: see [`DELETE_ROOM`].
macro_rules! delete_room_if {
    ($guard:literal) => {
        concat!(
            "WITH gone AS (DELETE FROM rooms WHERE id = $1 AND ",
            $guard,
            " RETURNING id),
                  noted AS (INSERT INTO changes (id, kind, room_id)
                            SELECT $2, 'room_deleted', id FROM gone)
             SELECT EXISTS (SELECT 1 FROM gone),
                    ARRAY(SELECT gif FROM events
                          WHERE room_id = $1 AND gif IS NOT NULL
                            AND EXISTS (SELECT 1 FROM gone))"
        )
    };
}

/// Deletes a room (its events, admissions and bans go with it), notes it
/// as change `$2`, and says whether it was there and which GIFs its events
/// showed: the main query reads the snapshot from before the delete.
const DELETE_ROOM: &str = delete_room_if!("TRUE");

/// Deletes room `$1` as [`DELETE_ROOM`] does if nobody has been in it for
/// `$3` seconds.
const DELETE_IF_VACANT: &str = delete_room_if!(
    "vacant_since < now() - make_interval(secs => $3)
     AND NOT EXISTS (SELECT 1 FROM presence WHERE room_id = $1)"
);

/// Extends node `$1`'s lease to `$2` seconds from now; a row is written
/// (and counted) only when the lease had run out or never existed.
const RENEW_LEASE: &str = "WITH held AS (
        UPDATE nodes SET lease_until = now() + make_interval(secs => $2)
        WHERE id = $1 AND lease_until > now() RETURNING id
    )
    INSERT INTO nodes (id, lease_until)
    SELECT $1, now() + make_interval(secs => $2) WHERE NOT EXISTS (SELECT 1 FROM held)
    ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until";
const FORGET_DEAD_NODES: &str = "DELETE FROM nodes n WHERE lease_until < now()
    AND NOT EXISTS (SELECT 1 FROM presence p WHERE p.node_id = n.id)";

/// Moves `$1`'s read position in room `$2` on to `$3` (if the room is
/// there, and it is further on), and if it moved, notes it as change `$4`
/// with what is left unread (one row: the count), for the other nodes.
const MARK_READ: &str = "WITH moved AS (
        INSERT INTO reads (user_id, room_id, last_read)
        SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $2)
        ON CONFLICT (user_id, room_id) DO UPDATE SET last_read = excluded.last_read
        WHERE excluded.last_read > reads.last_read
        RETURNING room_id
    ), counted AS (
        SELECT count(*) AS unread FROM events e
        WHERE e.room_id = $2 AND e.id > $3 AND e.kind IN ('chat', 'gif', 'whisper')
          AND e.deleted_at IS NULL AND (e.to_id IS NULL OR e.user_id = $1 OR e.to_id = $1)
          AND e.user_id <> $1
    ), noted AS (
        INSERT INTO changes (id, kind, room_id, user_id, mark, unread)
        SELECT $4, 'read', $2, $1, $3, unread FROM counted WHERE EXISTS (SELECT 1 FROM moved)
    )
    SELECT unread FROM counted WHERE EXISTS (SELECT 1 FROM moved)";

/// The statements of the other single-statement changes.
const ADMIT: &str = "WITH admitted AS (
        INSERT INTO admissions (room_id, user_id)
        SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $1)
        ON CONFLICT DO NOTHING
        RETURNING room_id
    )
    INSERT INTO changes (id, kind, room_id, user_id) SELECT $3, 'admitted', room_id, $2 FROM admitted";
const RENAME: &str = "WITH renamed AS (UPDATE rooms SET owner_name = $2 WHERE owner_id = $1),
                      present AS (UPDATE presence SET user_name = $2 WHERE user_id = $1)
    INSERT INTO changes (id, kind, user_id, user_name) VALUES ($3, 'renamed', $1, $2)";
/// Notes a change of `kind` for the other nodes.
const NOTE: &str = "INSERT INTO changes (id, kind, room_id, user_id, user_name)
    VALUES ($1, $2, $3, $4, $5)";
const CREATE_SESSION: &str = "INSERT INTO sessions (id, data, expiry) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING";
const SAVE_SESSION: &str = "INSERT INTO sessions (id, data, expiry) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id = $1";
/// Expired sessions go, and notes of changes a day old: a node reads the
/// log from where it was, and a node that starts reads from the newest id.
const DELETE_EXPIRED_SESSIONS: &str =
    "WITH pruned AS (DELETE FROM changes WHERE created_at < now() - interval '1 day')
     DELETE FROM sessions WHERE expiry < $1";

/// The one statement a change runs, for those that run one (see
/// [`Change::writes_once`]): each runs it alone, with nothing awaited
/// before it is sent but its (cached) preparation, which is what lets the
/// writer pipeline a run of them.
pub(super) fn single_statement(change: &Change) -> Option<&'static str> {
    Some(match change {
        Change::Append(_) => INSERT_EVENT,
        // A reply reads the message it replies to first.
        Change::Post(post) if post.reply_to.is_none() => INSERT_POST,
        Change::Admit { .. } => ADMIT,
        Change::DeleteRoom { .. } => DELETE_ROOM,
        Change::Rename { .. } => RENAME,
        Change::CreateSession(_) => CREATE_SESSION,
        Change::SaveSession(_) => SAVE_SESSION,
        Change::DeleteSession { .. } => DELETE_SESSION,
        Change::DeleteExpiredSessions { .. } => DELETE_EXPIRED_SESSIONS,
        Change::RenewLease { .. } => RENEW_LEASE,
        Change::ForgetDeadNodes => FORGET_DEAD_NODES,
        Change::DeleteIfVacant { .. } => DELETE_IF_VACANT,
        Change::CreateRoom(_)
        | Change::CreateBot { .. }
        | Change::DeleteBot { .. }
        | Change::Settings(_)
        | Change::Post(_)
        | Change::Modify(_)
        | Change::MarkRead(_)
        | Change::Ban { .. }
        | Change::SetOwner { .. }
        | Change::Presence(_) => return None,
    })
}

/// How many ids a change takes from the batch's block: one per event it
/// stores and one per note in `changes`.
pub(super) fn ids_needed(change: &Change) -> usize {
    match change {
        Change::Append(_) | Change::Post(_) | Change::Modify(_) => 1,
        // A note of each that moves, for the other nodes' lobbies.
        Change::MarkRead(marks) => marks.len(),
        Change::Ban { .. } | Change::SetOwner { .. } | Change::Settings(_) => 2,
        Change::CreateRoom(_)
        | Change::DeleteRoom { .. }
        | Change::DeleteIfVacant { .. }
        | Change::Admit { .. }
        | Change::Rename { .. } => 1,
        // A note per row, then at most: a join notice, a leave notice, a
        // new owner's note and notice, a deleted room's note.
        Change::Presence(change) => change.arrived.len() + change.departed.len() + 5,
        Change::CreateSession(_)
        | Change::SaveSession(_)
        | Change::DeleteSession { .. }
        | Change::DeleteExpiredSessions { .. }
        | Change::RenewLease { .. }
        | Change::ForgetDeadNodes
        | Change::CreateBot { .. }
        | Change::DeleteBot { .. } => 0,
    }
}

/// Takes `count` ids for this transaction: the first of them.
pub(super) async fn reserve_ids(
    tx: &Transaction<'_>,
    count: usize,
) -> Result<i64, tokio_postgres::Error> {
    let count = count as i64;
    let row = tx
        .query_one(
            "UPDATE event_ids SET last = last + $1 RETURNING last",
            &[&count],
        )
        .await?;
    Ok(row.get::<_, i64>(0) - count + 1)
}

/// Applies one change for node `node`; the caller owns the transaction.
/// `id` is the first of the change's ids ([`ids_needed`]).
pub(super) async fn apply(
    tx: &Transaction<'_>,
    change: &Change,
    id: i64,
    node: &str,
) -> StoreResult<Done> {
    match change {
        Change::CreateRoom(room) => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO rooms (id, title, max_members, password_hash, owner_id,
                                        owner_name, created_at, vacant_since)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, now())",
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
            note(tx, id, "room_created", Some(&room.id), None).await?;
            Ok(Done::Room(room.clone()))
        }
        Change::Append(event) => insert_event(tx, INSERT_EVENT, event, id, None).await,
        Change::Post(event) => {
            let reply = match event.reply_to {
                Some(original) => Some(targets::check_reply(
                    event,
                    event_by_id(tx, original).await?.as_ref(),
                )?),
                None => None,
            };
            insert_event(tx, INSERT_POST, event, id, reply).await
        }
        Change::Modify(change) => modify(tx, change, id).await,
        Change::MarkRead(marks) => mark_read(tx, marks, id).await,
        Change::CreateBot {
            room_id,
            key_hash,
            bot,
        } => {
            let inserted = execute(
                tx,
                "INSERT INTO bots (key_hash, room_id, user_id, name, created_at)
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $2)",
                &[key_hash, room_id, &bot.id, &bot.label(), &now()],
            )
            .await?;
            if inserted == 0 {
                return Err(StoreError::NoSuchRoom);
            }
            execute(
                tx,
                "INSERT INTO admissions (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[room_id, &bot.id],
            )
            .await?;
            Ok(Done::Nothing)
        }
        Change::DeleteBot { room_id, key_hash } => {
            let deleted = execute(
                tx,
                "DELETE FROM bots WHERE key_hash = $1 AND room_id = $2",
                &[key_hash, room_id],
            )
            .await?;
            Ok(Done::Deleted {
                existed: deleted > 0,
                gifs: Vec::new(),
            })
        }
        Change::Settings(settings) => room_settings(tx, settings, id).await,
        Change::Admit { room_id, user_id } => {
            execute(tx, ADMIT, &[room_id, user_id, &id]).await?;
            Ok(Done::Nothing)
        }
        Change::Ban {
            user,
            addresses,
            notice,
        } => {
            execute(
                tx,
                "INSERT INTO address_bans (room_id, addr, created_at)
                 SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING",
                &[&notice.room_id, addresses, &now()],
            )
            .await?;
            // Present no more, without a leave notice (the kick says it):
            // under the room's lock, as presence changes are.
            execute(
                tx,
                "WITH locked AS (SELECT 1 FROM rooms WHERE id = $1 FOR NO KEY UPDATE)
                 DELETE FROM presence WHERE room_id = $1 AND user_id = $2",
                &[&notice.room_id, &user.id],
            )
            .await?;
            execute(
                tx,
                "INSERT INTO bans (room_id, user_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&notice.room_id, &user.id, &now()],
            )
            .await?;
            // After the notice, as where it was committed: the kicked
            // user's stream gets the notice, then `kicked`.
            let done = insert_event(tx, INSERT_EVENT, notice, id, None).await?;
            note(tx, id + 1, "banned", Some(&notice.room_id), Some(user)).await?;
            Ok(done)
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
            // Before the notice: whoever reads "bob is now the owner" finds
            // bob the owner.
            note(tx, id, "owner", Some(&notice.room_id), Some(owner)).await?;
            insert_event(tx, INSERT_EVENT, notice, id + 1, None).await
        }
        Change::DeleteRoom { room_id } => delete_room(tx, DELETE_ROOM, &[room_id, &id]).await,
        Change::DeleteIfVacant { room_id, ttl } => {
            let ttl = ttl.as_secs_f64();
            delete_room(tx, DELETE_IF_VACANT, &[room_id, &id, &ttl]).await
        }
        Change::Presence(change) => presence(tx, change, node, id).await,
        Change::RenewLease { lease } => {
            let written = execute(tx, RENEW_LEASE, &[&node, &lease.as_secs_f64()]).await?;
            Ok(Done::Lease { lost: written > 0 })
        }
        Change::ForgetDeadNodes => {
            execute(tx, FORGET_DEAD_NODES, &[]).await?;
            Ok(Done::Nothing)
        }
        Change::Rename { user } => {
            execute(tx, RENAME, &[&user.id, &user.name, &id]).await?;
            Ok(Done::Nothing)
        }
        Change::CreateSession(row) => {
            let inserted = execute(tx, CREATE_SESSION, &[&row.id, &row.data, &row.expiry]).await?;
            if inserted == 0 {
                return Err(StoreError::SessionTaken);
            }
            Ok(Done::Nothing)
        }
        Change::SaveSession(row) => {
            execute(tx, SAVE_SESSION, &[&row.id, &row.data, &row.expiry]).await?;
            Ok(Done::Nothing)
        }
        Change::DeleteSession { id } => {
            execute(tx, DELETE_SESSION, &[id]).await?;
            Ok(Done::Nothing)
        }
        Change::DeleteExpiredSessions { now } => {
            execute(tx, DELETE_EXPIRED_SESSIONS, &[now]).await?;
            Ok(Done::Nothing)
        }
    }
}

/// Runs one of the `delete_room_if!`s.
async fn delete_room(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Done> {
    let statement = tx.prepare_cached(sql).await?;
    let row = tx.query_one(&statement, params).await?;
    Ok(Done::Deleted {
        existed: row.try_get(0)?,
        gifs: row.try_get(1)?,
    })
}

/// A round of presence, as `presence.rs` plans it from the room's rows
/// read under the room's lock (`FOR NO KEY UPDATE`: posts, which only
/// refer to the room, go on). Ids from `id`: a note per row written, for
/// the other nodes, then the notices, a new owner, a deleted room.
async fn presence(
    tx: &Transaction<'_>,
    change: &PresenceChange,
    own: &str,
    id: i64,
) -> StoreResult<Done> {
    let statement = tx
        .prepare_cached(
            "SELECT id, title, max_members, password_hash, owner_id, owner_name, created_at,
                    locked
             FROM rooms WHERE id = $1 FOR NO KEY UPDATE",
        )
        .await?;
    let found = tx.query(&statement, &[&change.room_id]).await?;
    let room = room_at(found.first().ok_or(StoreError::NoSuchRoom)?, 0)?;
    let statement = tx
        .prepare_cached(
            "SELECT user_id, user_name, node_id FROM presence WHERE room_id = $1
             ORDER BY since, user_id",
        )
        .await?;
    let rows = tx
        .query(&statement, &[&room.id])
        .await?
        .iter()
        .map(|row| {
            Ok(Row {
                user: User::new(row.try_get(0)?, row.try_get(1)?),
                node: row.try_get(2)?,
            })
        })
        .collect::<StoreResult<Vec<Row>>>()?;
    let node = change.node.as_deref().unwrap_or(own);
    let plan = presence::plan(
        &room.owner.id,
        rows,
        node,
        &change.arrived,
        &change.departed,
    );
    write_rows(tx, &room.id, node, &plan, id).await?;
    let mut next = id + (plan.insert.len() + plan.delete.len()) as i64;
    let mut done = PresenceDone::rows(room, change.node.clone(), plan.insert, plan.delete);
    let room_id = done.room.id.clone();
    // Emptied by its people leaving, the room goes (nobody reads notices in
    // it); emptied by a node's death, it waits to be re-entered.
    if plan.empty && change.node.is_none() {
        if let Done::Deleted { gifs, .. } = delete_room(tx, DELETE_ROOM, &[&room_id, &next]).await?
        {
            done.deleted = Some(gifs);
        }
        return Ok(Done::Presence(Box::new(done)));
    }
    for (users, verb, slot) in [
        (&plan.joined, "joined", &mut done.joined),
        (&plan.left, "left", &mut done.left),
    ] {
        if !users.is_empty() {
            let notice = NewEvent::system(&room_id, presence_notice(users, verb));
            if let Done::Event(record) = insert_event(tx, INSERT_EVENT, &notice, next, None).await?
            {
                *slot = Some(record);
            }
            next += 1;
        }
    }
    if let Some(heir) = plan.heir {
        execute(
            tx,
            "UPDATE rooms SET owner_id = $2, owner_name = $3 WHERE id = $1",
            &[&room_id, &heir.id, &heir.name],
        )
        .await?;
        note(tx, next, "owner", Some(&room_id), Some(&heir)).await?;
        let notice = NewEvent::system(&room_id, heir_notice(&heir));
        if let Done::Event(record) = insert_event(tx, INSERT_EVENT, &notice, next + 1, None).await?
        {
            done.heir = Some(record);
        }
        done.room.owner = heir;
    }
    if plan.empty {
        execute(
            tx,
            "UPDATE rooms SET vacant_since = now() WHERE id = $1",
            &[&room_id],
        )
        .await?;
    }
    Ok(Done::Presence(Box::new(done)))
}

/// Writes a round's rows of `node`, and a note of each with ids from `id`
/// (arrivals first), for the other nodes.
async fn write_rows(
    tx: &Transaction<'_>,
    room_id: &str,
    node: &str,
    plan: &presence::Plan,
    id: i64,
) -> StoreResult<()> {
    if !plan.insert.is_empty() {
        execute(
            tx,
            "WITH entered AS (UPDATE rooms SET vacant_since = NULL WHERE id = $1)
             INSERT INTO presence (room_id, user_id, user_name, node_id)
             SELECT $1, u.id, u.name, $4 FROM unnest($2::text[], $3::text[]) AS u(id, name)
             ON CONFLICT DO NOTHING",
            &[&room_id, &ids(&plan.insert), &names(&plan.insert), &node],
        )
        .await?;
    }
    if !plan.delete.is_empty() {
        execute(
            tx,
            "DELETE FROM presence WHERE room_id = $1 AND node_id = $2 AND user_id = ANY($3)",
            &[&room_id, &node, &ids(&plan.delete)],
        )
        .await?;
    }
    let kinds: Vec<&str> = (plan.insert.iter().map(|_| "arrived"))
        .chain(plan.delete.iter().map(|_| "departed"))
        .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    let users: Vec<User> = plan.insert.iter().chain(&plan.delete).cloned().collect();
    execute(
        tx,
        "INSERT INTO changes (id, kind, room_id, user_id, user_name, node_id)
         SELECT $1 + n.ord - 1, n.kind, $2, n.id, n.name, $3
         FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS n(kind, id, name, ord)",
        &[&id, &room_id, &node, &kinds, &ids(&users), &names(&users)],
    )
    .await?;
    Ok(())
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

fn names(users: &[User]) -> Vec<Option<&str>> {
    users.iter().map(|u| u.name.as_deref()).collect()
}

/// Notes a change for the other nodes, as change `id`.
async fn note(
    tx: &Transaction<'_>,
    id: i64,
    kind: &str,
    room_id: Option<&String>,
    user: Option<&User>,
) -> StoreResult<()> {
    let (user_id, user_name) = (user.map(|u| &u.id), user.and_then(|u| u.name.as_ref()));
    execute(tx, NOTE, &[&id, &kind, &room_id, &user_id, &user_name]).await?;
    Ok(())
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

/// A reaction, unreaction, edit or delete, as event `id`: checked against
/// the message as it is now (`targets.rs`), applied to it, and stored as
/// an event. Writers take turns on the id counter (see the module docs),
/// so no other node changes the message between the read and the write.
async fn modify(tx: &Transaction<'_>, change: &NewEvent, id: i64) -> StoreResult<Done> {
    let actor = change.user.as_ref().map(|u| u.id.as_str()).unwrap_or("");
    match access_of(tx, &change.room_id, actor).await? {
        None => return Err(StoreError::NoSuchRoom),
        Some(access) if !access.is_admitted() => return Err(StoreError::Refused(access)),
        Some(_) => {}
    }
    let owner = tx
        .query_opt(
            &tx.prepare_cached("SELECT owner_id FROM rooms WHERE id = $1")
                .await?,
            &[&change.room_id],
        )
        .await?
        .ok_or(StoreError::NoSuchRoom)?;
    let target_id = change.target.unwrap_or(0);
    let target = event_by_id(tx, target_id).await?;
    let to = targets::check_change(change, target.as_ref(), owner.try_get(0)?)?;
    let event = NewEvent {
        to,
        ..change.clone()
    };
    let reaction = change.chat.as_deref().unwrap_or("");
    match change.kind {
        Kind::Reaction => {
            let given = tx
                .query_opt(
                    &tx.prepare_cached(
                        "SELECT added_by FROM reactions
                         WHERE event_id = $1 AND user_id = $2 AND reaction = $3",
                    )
                    .await?,
                    &[&target_id, &actor, &reaction],
                )
                .await?;
            if let Some(row) = given
                && let Some(first) = event_by_id(tx, row.try_get(0)?).await?
            {
                return Ok(Done::Repeat(first));
            }
            let done = insert_event(tx, INSERT_EVENT, &event, id, None).await?;
            execute(
                tx,
                "INSERT INTO reactions (event_id, user_id, reaction, user_name, added_by)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &target_id,
                    &actor,
                    &reaction,
                    &change.user.as_ref().and_then(|u| u.name.as_ref()),
                    &id,
                ],
            )
            .await?;
            Ok(done)
        }
        Kind::Unreaction => {
            let removed = execute(
                tx,
                "DELETE FROM reactions WHERE event_id = $1 AND user_id = $2 AND reaction = $3",
                &[&target_id, &actor, &reaction],
            )
            .await?;
            if removed == 0 {
                return Err(Refusal::NoReaction.into());
            }
            insert_event(tx, INSERT_EVENT, &event, id, None).await
        }
        Kind::Edit => {
            execute(
                tx,
                "UPDATE events SET chat = $2, edited_at = $3 WHERE id = $1",
                &[&target_id, &change.chat, &now()],
            )
            .await?;
            insert_event(tx, INSERT_EVENT, &event, id, None).await
        }
        Kind::Delete => {
            // Its words go from everywhere they were stored: the message,
            // its edits. (Replies quote it as it is now: deleted.)
            execute(
                tx,
                "UPDATE events SET chat = NULL, gif = NULL, gif_width = NULL, gif_height = NULL,
                                   gif_frames = NULL, mentions = NULL, deleted_at = $2
                 WHERE id = $1",
                &[&target_id, &now()],
            )
            .await?;
            execute(
                tx,
                "UPDATE events SET chat = NULL WHERE target = $1 AND kind = 'edit'",
                &[&target_id],
            )
            .await?;
            execute(
                tx,
                "DELETE FROM reactions WHERE event_id = $1",
                &[&target_id],
            )
            .await?;
            match insert_event(tx, INSERT_EVENT, &event, id, None).await? {
                Done::Event(record) => Ok(Done::Erased {
                    record,
                    gif: target.and_then(|t| t.gif),
                }),
                other => Ok(other),
            }
        }
        other => Err(StoreError::Database(
            format!("{} is no change to a message", other.as_str()).into(),
        )),
    }
}

/// Changes a room's settings under its lock, notes it as change `id` for
/// the other nodes, and stores the notice as event `id + 1`.
async fn room_settings(
    tx: &Transaction<'_>,
    settings: &RoomSettings,
    id: i64,
) -> StoreResult<Done> {
    let room_id = &settings.room_id;
    let row = tx
        .query_opt(
            &tx.prepare_cached("SELECT password_hash FROM rooms WHERE id = $1 FOR NO KEY UPDATE")
                .await?,
            &[room_id],
        )
        .await?
        .ok_or(StoreError::NoSuchRoom)?;
    let was_private = row.try_get::<_, Option<String>>(0)?.is_some();
    if let Some(locked) = settings.locked {
        let locked = i64::from(locked);
        execute(
            tx,
            "UPDATE rooms SET locked = $2 WHERE id = $1",
            &[room_id, &locked],
        )
        .await?;
    }
    if let Some(max) = settings.max {
        let max = i64::from(max);
        execute(
            tx,
            "UPDATE rooms SET max_members = $2 WHERE id = $1",
            &[room_id, &max],
        )
        .await?;
    }
    if let Some(hash) = &settings.password_hash {
        execute(
            tx,
            "UPDATE rooms SET password_hash = $2 WHERE id = $1",
            &[room_id, hash],
        )
        .await?;
        // Whoever is in an open room that gets a password stays in.
        if hash.is_some() && !was_private {
            execute(
                tx,
                "INSERT INTO admissions (room_id, user_id)
                 SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
                &[room_id, &settings.present],
            )
            .await?;
        }
    }
    let row = tx
        .query_one(
            &tx.prepare_cached(
                "SELECT id, title, max_members, password_hash, owner_id, owner_name, created_at,
                        locked
                 FROM rooms WHERE id = $1",
            )
            .await?,
            &[room_id],
        )
        .await?;
    let room = room_at(&row, 0)?;
    note(tx, id, "settings", Some(room_id), None).await?;
    match insert_event(tx, INSERT_EVENT, &settings.notice, id + 1, None).await? {
        Done::Event(notice) => Ok(Done::Settings { room, notice }),
        other => Ok(other),
    }
}

/// Moves read positions on (never back), with ids from `id` for the notes
/// of those that moved, which carry the unread count to the other nodes.
async fn mark_read(tx: &Transaction<'_>, marks: &[ReadMark], id: i64) -> StoreResult<Done> {
    let mut moved = Vec::new();
    for (n, mark) in marks.iter().enumerate() {
        let row = tx
            .query_opt(
                &tx.prepare_cached(MARK_READ).await?,
                &[
                    &mark.user_id,
                    &mark.room_id,
                    &mark.last_read,
                    &(id + n as i64),
                ],
            )
            .await?;
        if let Some(row) = row {
            moved.push(Unread {
                mark: mark.clone(),
                unread: row.try_get(0)?,
            });
        }
    }
    Ok(Done::Read(moved))
}

/// Stores `event` with `sql` (one of the `insert_event_if!`s), replying
/// to the message `reply` quotes, if any; or says why not.
async fn insert_event(
    tx: &Transaction<'_>,
    sql: &str,
    event: &NewEvent,
    id: i64,
    reply: Option<Box<Quote>>,
) -> StoreResult<Done> {
    let created_at = now();
    let gif = event.gif_info;
    let statement = tx.prepare_cached(sql).await?;
    let row = tx
        .query_one(
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
                &id,
                &event.client_id,
                &event.target,
                &event.reply_to,
                &mentions_column(&event.mentions),
            ],
        )
        .await?;
    let (stored, banned, allowed, first): (Option<i64>, Option<bool>, bool, Option<i64>) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    );
    let Some(id) = stored else {
        return match (banned, allowed, first) {
            (None, _, _) => Err(StoreError::NoSuchRoom),
            (Some(true), false, _) => Err(StoreError::Refused(Access::Banned)),
            (Some(false), false, _) => Err(StoreError::Refused(Access::NeedsPassword)),
            // The event read here was committed before this transaction:
            // no statement queued behind this one can change it.
            (Some(_), true, Some(first)) => match event_by_id(tx, first).await? {
                Some(record) => Ok(Done::Repeat(record)),
                None => Err(StoreError::Database(
                    format!("event {first} vanished").into(),
                )),
            },
            // Another node stores the same post at this moment: its
            // answer is the one; this one may ask again.
            (Some(_), true, None) => Err(StoreError::Unreachable(
                "a repeat of this post is being stored; try again".into(),
            )),
        };
    };
    Ok(Done::Event(event.stored(id, created_at, reply)))
}
