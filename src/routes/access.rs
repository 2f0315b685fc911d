//! Who may do what in a room: the checks every room route starts with.

use std::net::IpAddr;

use crate::{
    error::{AppError, AppResult},
    hub::{Entry, HubError, Known},
    identity::Visitor,
    model::{Access, RoomRow, User},
    state::AppState,
};

/// The room and what the visitor may do in it (banned also when their
/// address is); 404 when there is no such room. Remembered by the hub
/// while the room is in memory (`hub/admission.rs`), read from the
/// database otherwise. Where a user comes from is noted, for a kick that
/// keeps their address out.
pub async fn room_access(
    state: &AppState,
    room_id: &str,
    visitor: &Visitor,
) -> AppResult<(RoomRow, Access)> {
    room_access_of(state, room_id, &visitor.user, visitor.addr).await
}

/// [`room_access`] for `user` at `addr`, without their session.
async fn room_access_of(
    state: &AppState,
    room_id: &str,
    user: &User,
    addr: IpAddr,
) -> AppResult<(RoomRow, Access)> {
    let (room, access) = match state.hub.known_access(room_id, &user.id) {
        Known::Access(room, access) => (room, access),
        Known::Unknown(ticket) => {
            let (room, access) = (state.db)
                .room_with_access(room_id, &user.id, Some(&addr.to_string()))
                .await?
                .ok_or(AppError::not_found("room"))?;
            if let Some(ticket) = ticket {
                state.hub.remember_access(room_id, &user.id, ticket, access);
            }
            (room, access)
        }
    };
    if access != Access::Banned {
        state.hub.seen_at(room_id, &user.id, addr);
    }
    Ok((room, access))
}

/// Ok when `access` is admission; the refusal it means otherwise.
pub fn require(access: Access) -> AppResult<()> {
    if access.is_admitted() {
        Ok(())
    } else {
        Err(AppError::refused(access))
    }
}

/// The room, when `user` is admitted to it: 403 `kicked` for a banned user,
/// 403 `forbidden` before a private room's password was given.
pub async fn admitted_room(
    state: &AppState,
    room_id: &str,
    visitor: &Visitor,
) -> AppResult<RoomRow> {
    admitted_room_of(state, room_id, &visitor.user, visitor.addr).await
}

/// [`admitted_room`] for `user` at `addr`, without their session.
pub async fn admitted_room_of(
    state: &AppState,
    room_id: &str,
    user: &User,
    addr: IpAddr,
) -> AppResult<RoomRow> {
    let (room, access) = room_access_of(state, room_id, user, addr).await?;
    require(access)?;
    Ok(room)
}

/// The room, when `user` owns it: 403 `forbidden` otherwise.
pub async fn owned_room(state: &AppState, room_id: &str, visitor: &Visitor) -> AppResult<RoomRow> {
    let room = admitted_room(state, room_id, visitor).await?;
    if room.owner.id != visitor.user.id {
        return Err(AppError::forbidden("only the room's owner can do that"));
    }
    Ok(room)
}

/// 409 `room_full` unless the room has a place for `user` (one who is
/// present already has theirs); 409 `conflict` when it is locked to them.
pub fn has_place_for(state: &AppState, room: &RoomRow, user: &User) -> AppResult<()> {
    if state.hub.locked_out(room, user) {
        return Err(AppError::locked());
    }
    if state.hub.is_full_for(room, user) {
        return Err(AppError::RoomFull);
    }
    Ok(())
}

/// The room `room_id` entered (and so subscribed) by `user` at `addr`,
/// who is admitted to it: the refusals of [`admitted_room_of`], and of
/// entering (full, locked, gone). The room's row is not kept: a stream
/// or poll would hold it for as long as it lasts.
///
/// The admission check and the entry are two steps: a ban between them
/// could find its user not yet subscribed (no `kicked` for them) and then
/// see them entered, a member again. So the entry fails when a ban came in
/// since the check began (`hub/admission.rs`), and both are made again.
pub async fn enter_room(
    state: &AppState,
    room_id: &str,
    user: &User,
    addr: IpAddr,
) -> AppResult<Entry> {
    for _ in 0..ENTRY_ATTEMPTS {
        let mark = state.hub.ban_mark();
        let room = admitted_room_of(state, room_id, user, addr).await?;
        match state.hub.enter(&room, user, mark) {
            Err(HubError::BannedSince) => continue,
            entered => return Ok(entered?),
        }
    }
    Err(HubError::BannedSince.into())
}

/// [`enter_room`] for several rooms: every one is checked, with a place
/// for `user`, before any is entered, so that a refusal leaves no
/// presence behind.
pub async fn enter_rooms(
    state: &AppState,
    room_ids: &[String],
    user: &User,
    addr: IpAddr,
) -> AppResult<Vec<(String, Entry)>> {
    'attempts: for _ in 0..ENTRY_ATTEMPTS {
        let mark = state.hub.ban_mark();
        let mut checked = Vec::with_capacity(room_ids.len());
        for room_id in room_ids {
            let room = admitted_room_of(state, room_id, user, addr).await?;
            has_place_for(state, &room, user)?;
            checked.push(room);
        }
        let mut entries = Vec::with_capacity(checked.len());
        for room in checked {
            match state.hub.enter(&room, user, mark) {
                // Those entered so far leave as they are dropped.
                Err(HubError::BannedSince) => continue 'attempts,
                entered => entries.push((room.id, entered?)),
            }
        }
        return Ok(entries);
    }
    Err(HubError::BannedSince.into())
}

/// How often a check and its entry are made again when a ban comes in
/// between them each time.
pub const ENTRY_ATTEMPTS: usize = 8;

/// The room, when `user` is admitted to it and it has a place for them:
/// what entering it (a stream, a poll) needs, checked without entering.
pub async fn enterable_room(
    state: &AppState,
    room_id: &str,
    visitor: &Visitor,
) -> AppResult<RoomRow> {
    let room = admitted_room(state, room_id, visitor).await?;
    has_place_for(state, &room, &visitor.user)?;
    Ok(room)
}
