// The lobby's room list as data: `{ rooms, unread_through }`, newest
// first, as the lobby's `rooms` event gives it, kept current from the
// lobby's events: rooms created, changed and deleted, and the viewer's
// unread counts. No DOM: lobby.js shows the list, and tabs.js keeps it for
// the lobby tabs that open later.
//
// Unread counts: a viewer with a session gets `unread` on every room and
// `unread_through`, the newest event id when they were counted. A
// `room-activity` (a message posted) newer than that, by someone else,
// adds one; a `read` (the viewer read the room, in some tab) and a poll's
// `unread` (every count at once) set them.

export const LOBBY_KINDS = ["rooms", "room-created", "room-updated", "room-deleted"];
// The lobby's news of unread counts: `room-activity` and `read` name a
// room; `unread` (a poll's element, never an SSE event) names them all.
export const UNREAD_KINDS = ["room-activity", "read", "unread"];

// The list after the lobby's event `kind` (`body`), as `me` sees it, or
// `list` itself when nothing changed. Rooms that did not change stay the
// same objects (so lobby.js leaves their rows alone). Until a list came
// (`list` null), only `rooms` makes one: every connection brings it first.
export function nextList(list, kind, body, me) {
  if (kind === "rooms") return { rooms: body.rooms, unread_through: orNull(body.unread_through) };
  if (!list) return list;
  switch (kind) {
    case "room-created":
    case "room-updated":
      return withRoom(list, body);
    case "room-deleted": {
      const rooms = list.rooms.filter((room) => room.id !== body.id);
      return rooms.length === list.rooms.length ? list : { ...list, rooms };
    }
    case "room-activity":
      return activity(list, body, me);
    case "read":
      return counting(list) ? withCount(list, body.room, () => body.unread) : list;
    case "unread":
      return counting(list) ? allCounts(list, body) : list;
  }
  return list;
}

const orNull = (value) => (value != null ? value : null);

// Whether the list has counts (the viewer has a session).
const counting = (list) => list.unread_through != null;

// A room created or changed: in place, or first when it is new. Its JSON
// carries no count: it keeps the one it had (a new room has none).
function withRoom(list, body) {
  const old = list.rooms.find((room) => room.id === body.id);
  const room = { ...body };
  if (counting(list) && room.unread == null) room.unread = (old && old.unread) || 0;
  const rooms = old ? list.rooms.map((r) => (r === old ? room : r)) : [room, ...list.rooms];
  return { ...list, rooms };
}

// A message posted: one more unread, unless the count has it already
// (posted before the list was counted) or it is the viewer's own. (A
// room open in one of the viewer's tabs is read as its events arrive:
// the server's `read` sets its count back soon after.)
function activity(list, body, me) {
  if (!counting(list) || body.last_event_id <= list.unread_through) return list;
  if (me != null && body.user === me) return list;
  return withCount(list, body.room, (count) => count + 1);
}

// `room`'s count made `count(current)`.
function withCount(list, room, count) {
  let changed = false;
  const rooms = list.rooms.map((r) => {
    if (r.id !== room) return r;
    const next = setCount(r, count(r.unread || 0));
    changed = next !== r;
    return next;
  });
  return changed ? { ...list, rooms } : list;
}

// A poll's `unread`: every count, counted through its `unread_through`
// (rooms it does not name have none).
function allCounts(list, body) {
  const counts = body.rooms || {};
  const has = (id) => Object.prototype.hasOwnProperty.call(counts, id);
  const rooms = list.rooms.map((room) => setCount(room, has(room.id) ? counts[room.id] : 0));
  const through = body.unread_through != null ? body.unread_through : list.unread_through;
  return { rooms, unread_through: through };
}

function setCount(room, unread) {
  return room.unread === unread ? room : { ...room, unread };
}
