// The lobby page's entry module: keeps the rooms table live from the
// lobby's events, through the connection the browser's tabs share
// (lib/tabs.js). A (re)connection always brings the whole list first, so
// the table re-syncs.

import { roomRow } from "./lib/render.js";
import { subscribe } from "./lib/tabs.js";

const tbody = document.querySelector("#rooms tbody");
if (tbody) start(tbody);

function start(tbody) {
  const empty = document.getElementById("no-rooms");
  const findRow = (id) => Array.from(tbody.rows).find((tr) => tr.dataset.room === id);
  const syncEmpty = () => { empty.hidden = tbody.rows.length > 0; };

  // The whole list: rows that did not change stay as they are (a link
  // being clicked is not pulled from under the pointer).
  function showAll(rooms) {
    const rows = rooms.map((room) => {
      const fresh = roomRow(room);
      const old = findRow(room.id);
      return old && old.isEqualNode(fresh) ? old : fresh;
    });
    tbody.replaceChildren(...rows);
    syncEmpty();
  }

  // Newest first, as the server lists them.
  function created(room) {
    const old = findRow(room.id);
    if (old) old.replaceWith(roomRow(room));
    else tbody.prepend(roomRow(room));
    syncEmpty();
  }

  function updated(room) {
    const old = findRow(room.id);
    if (old) old.replaceWith(roomRow(room));
    else created(room);
  }

  function deleted(body) {
    const old = findRow(body.id);
    if (old) old.remove();
    syncEmpty();
  }

  const apply = { rooms: (body) => showAll(body.rooms), "room-created": created, "room-updated": updated, "room-deleted": deleted };
  subscribe({ room: null, cursor: null, forcePoll: false }, {
    event: (kind, body) => apply[kind] && apply[kind](body),
    state: () => {},
  });
  addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });
}
