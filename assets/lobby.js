// The lobby page's script: keeps the rooms table live. It listens to the
// lobby stream (`GET /events`) and falls back to long-polling
// `GET /poll?version=` when EventSource is missing or fails. Both carry the
// whole list first, so a (re)connection always re-syncs the table.
"use strict";

(() => {
  const tbody = document.querySelector("#rooms tbody");
  const empty = document.getElementById("no-rooms");
  if (!tbody) return;

  let polling = false;

  // ---- rendering: `views::lobby::room_row()`, node for node ----------------

  const { el, badge } = window.gifchat; // from site.js

  function row(room) {
    const tr = el("tr");
    tr.dataset.room = room.id;
    const link = el("a", null, room.title);
    link.href = "/rooms/" + encodeURIComponent(room.id);
    const kind = room.private ? "private" : "public";
    const cells = [
      [el("td", "title"), link],
      [el("td", "type"), el("span", "tag tag-" + kind, kind)],
      [el("td", "count"), room.members + " / " + room.max],
      [el("td", "owner"), badge(room.owner)],
    ];
    for (const [td, content] of cells) {
      td.append(content);
      tr.append(td);
    }
    return tr;
  }

  function findRow(id) {
    return Array.from(tbody.rows).find((tr) => tr.dataset.room === id);
  }

  function syncEmpty() {
    empty.hidden = tbody.rows.length > 0;
  }

  function showAll(rooms) {
    tbody.replaceChildren(...rooms.map(row));
    syncEmpty();
  }

  // Newest first, as the server lists them.
  function created(room) {
    const old = findRow(room.id);
    if (old) old.replaceWith(row(room));
    else tbody.prepend(row(room));
    syncEmpty();
  }

  function updated(room) {
    const old = findRow(room.id);
    if (old) old.replaceWith(row(room));
    else created(room);
  }

  function deleted(body) {
    const old = findRow(body.id);
    if (old) old.remove();
    syncEmpty();
  }

  // ---- Server-Sent Events ----------------------------------------------------

  function listen() {
    const es = new EventSource("/events");
    let proven = false;
    const on = (type, apply) =>
      es.addEventListener(type, (e) => {
        proven = true;
        apply(JSON.parse(e.data));
      });
    on("rooms", (body) => showAll(body.rooms));
    on("room-created", created);
    on("room-updated", updated);
    on("room-deleted", deleted);
    es.onerror = () => {
      // Dropped after working: the browser reconnects and the first event
      // (`rooms`) re-syncs. Never worked or refused: poll instead.
      if (proven && es.readyState !== EventSource.CLOSED) return;
      es.close();
      poll();
    };
  }

  // ---- long-polling ------------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function poll() {
    if (polling) return;
    polling = true;
    let version = "";
    let delay = 1000;
    for (;;) {
      try {
        const query = version ? "&version=" + encodeURIComponent(version) : "";
        const response = await fetch("/poll?timeout=25" + query, {
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        if (response.status === 429 || response.status === 503) {
          // Refused for load: ask again when the server says.
          const seconds = parseInt(response.headers.get("Retry-After"), 10) || 5;
          await sleep(seconds * 1000 + Math.random() * 1000);
          continue;
        }
        if (!response.ok) throw new Error("poll: HTTP " + response.status);
        const answer = await response.json();
        if (answer.version !== version) showAll(answer.rooms);
        version = answer.version;
        delay = 1000;
      } catch (_) {
        // Server restarting or network down: back off, then ask again.
        await sleep(delay);
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  if (window.EventSource) listen();
  else poll();
})();
