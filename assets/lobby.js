// The lobby page's entry module: keeps the rooms table live from the
// lobby's events, through the connection the browser's tabs share
// (lib/tabs.js), with the viewer's unread counts (lib/rooms.js keeps the
// list as data). A (re)connection always brings the whole list first, so
// the table re-syncs.

import { roomRow } from "./lib/render.js";
import { nextList } from "./lib/rooms.js";
import { subscribe } from "./lib/tabs.js";

const table = document.getElementById("rooms");
if (table && table.tBodies[0]) start(table);

function start(table) {
  const tbody = table.tBodies[0];
  const empty = document.getElementById("no-rooms");
  // Whose messages do not count as unread.
  const me = table.dataset.me;
  const shown = new WeakMap(); // row -> the room object it shows
  let list = null;

  // The rows of `rooms`, in order. A room whose object did not change
  // keeps its row, and so does a new object that renders the same (the
  // page's own rows, at the first list): a link being clicked is not
  // pulled from under the pointer, and news of one room touches one row.
  function render(rooms) {
    const rows = new Map(Array.from(tbody.rows, (tr) => [tr.dataset.room, tr]));
    // Rows that go, first: then those that stay never move.
    const staying = new Set(rooms.map((room) => room.id));
    for (const [id, tr] of rows) if (!staying.has(id)) tr.remove();
    rooms.forEach((room, at) => {
      let row = rows.get(room.id);
      if (!row || shown.get(row) !== room) {
        const fresh = roomRow(room);
        if (!row) row = fresh;
        else if (!row.isEqualNode(fresh)) {
          row.replaceWith(fresh);
          row = fresh;
        }
      }
      shown.set(row, room);
      if (tbody.rows[at] !== row) tbody.insertBefore(row, tbody.rows[at] || null);
    });
    empty.hidden = rooms.length > 0;
  }

  subscribe({ room: null, cursor: null, forcePoll: false, me }, {
    event: (kind, body) => {
      const next = nextList(list, kind, body, me);
      if (next === list) return;
      list = next;
      render(list.rooms);
    },
    state: () => {},
  });
  addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });
}
