// The chat page's entry module: puts the page's parts together and
// subscribes the tab to its room (lib/tabs.js shares one connection among
// the browser's tabs).
//
// - lib/messages.js: the list, scrolling, older history
// - lib/members.js:  the members panel and the owner's controls
// - lib/composer.js: the send form and whispers
// - lib/uploads.js:  GIF uploads (picker, drag and drop, paste)
// - lib/render.js:   the markup, cloned from the page's templates

import { Composer } from "./lib/composer.js";
import { Members } from "./lib/members.js";
import { Messages } from "./lib/messages.js";
import { el } from "./lib/render.js";
import { subscribe } from "./lib/tabs.js";
import { Uploads } from "./lib/uploads.js";

const STATES = {
  connecting: ["connecting", "connecting…"],
  live: ["live", "live"],
  polling: ["polling", "live (polling)"],
  offline: ["offline", "offline, retrying…"],
  reconnecting: ["offline", "reconnecting…"],
};

const section = document.getElementById("room");
if (section) start(section);

function start(section) {
  const roomId = section.dataset.room;
  const me = section.dataset.me;
  const base = "/rooms/" + encodeURIComponent(roomId);
  const connState = document.getElementById("conn-state");
  let ended = false;
  let leave = () => {};

  const page = {
    room: section,
    me,
    base,
    ended: () => ended,
    say: (text) => composer.say(text),
    posted: (ev) => messages.posted(ev),
    whisperTo: (user) => composer.whisperTo(user),
    leave: () => leave(),
  };
  const messages = new Messages({
    list: document.getElementById("messages"),
    newBelow: document.getElementById("new-below"),
    older: document.getElementById("load-older"),
    me,
    base,
  });
  const members = (page.members = new Members(page));
  const composer = new Composer(page);
  const uploads = new Uploads(page);

  function setState(name, role) {
    const [state, text] = STATES[name] || STATES.connecting;
    connState.dataset.state = state;
    connState.textContent = text;
    if (role) connState.dataset.role = role;
  }

  // Kicked, deleted, or refused: say so, stop listening, lock the form.
  function end(text) {
    if (ended) return;
    ended = true;
    leave();
    setState("offline");
    connState.textContent = "disconnected";
    const notice = document.getElementById("room-notice");
    const back = el("a", null, "Back to the lobby");
    back.href = "/";
    notice.replaceChildren(el("span", null, text + " "), back);
    notice.hidden = false;
    composer.clearTarget(false);
    section.classList.add("ended");
    document.getElementById("delete-room").hidden = true;
    for (const control of composer.form.elements) control.disabled = true;
    uploads.end();
  }

  function handle(kind, body) {
    switch (kind) {
      case "members":
        members.show(body);
        return composer.followTarget();
      case "kicked": return end("You were removed from this room.");
      case "room-deleted": return end("This room was deleted.");
      case "refused":
        return end(body.status === 404 ? "This room no longer exists." : body.message || "You cannot be in this room.");
    }
    if (typeof body.id === "number") messages.arrived(body);
  }

  const forcePoll = new URLSearchParams(location.search).get("transport") === "poll";
  leave = subscribe(
    { room: roomId, cursor: Number(section.dataset.cursor) || 0, forcePoll },
    { event: handle, state: setState },
  );
  // Back from the back/forward cache (its connection was closed on
  // leaving): start afresh.
  addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });
}
