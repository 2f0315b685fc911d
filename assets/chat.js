// The chat page's entry module: puts the page's parts together and
// subscribes the tab to its room (lib/tabs.js shares one connection among
// the browser's tabs).
//
// - lib/messages.js: the list, scrolling, older history, permalinks
// - lib/changes.js:  reactions, edits and deletes applied to shown messages
// - lib/actions.js:  a message's buttons (react, reply, edit, delete), quotes
// - lib/members.js:  the members panel and the owner's controls
// - lib/composer.js: the send form, whispers, replies and edits
// - lib/mentions.js: @-mentions in the message box
// - lib/typing.js:   "alice is typing…", both ways
// - lib/alerts.js:   a hidden tab's unread count and notifications
// - lib/search.js:   search in the room, and the results panel
// - lib/settings.js: the owner's settings (locked, size, password) and bots
// - lib/uploads.js:  GIF uploads (picker, drag and drop, paste)
// - lib/render.js:   the markup, cloned from the page's templates

import { Actions } from "./lib/actions.js";
import { Alerts } from "./lib/alerts.js";
import { CHANGE_TYPES, Changes } from "./lib/changes.js";
import { Composer } from "./lib/composer.js";
import { Members } from "./lib/members.js";
import { Mentions } from "./lib/mentions.js";
import { Messages } from "./lib/messages.js";
import { el } from "./lib/render.js";
import { Search } from "./lib/search.js";
import { Settings } from "./lib/settings.js";
import { subscribe } from "./lib/tabs.js";
import { Typing } from "./lib/typing.js";
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
    changed: (ev) => changed(ev),
    show: (id, options) => messages.show(id, options),
    whisperTo: (user) => composer.whisperTo(user),
    leave: () => leave(),
  };
  const list = document.getElementById("messages");
  const changes = new Changes({ list, me });
  const messages = new Messages({
    list,
    newBelow: document.getElementById("new-below"),
    older: document.getElementById("load-older"),
    newer: document.getElementById("load-newer"),
    around: section.dataset.around || linkedMessage(),
    me,
    base,
    // Rows from a page may be those some changes waited for.
    onPage: () => changes.retry(),
  });
  const members = (page.members = new Members(page));
  const alerts = (page.alerts = new Alerts(page));
  page.mentions = new Mentions(page);
  const composer = (page.composer = new Composer(page));
  const actions = new Actions(page);
  const typing = new Typing(page);
  const uploads = new Uploads(page);
  const settings = (page.settings = new Settings(page));
  new Search(page);

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
    composer.end();
    actions.closePicker(false);
    typing.end();
    section.classList.add("ended");
    document.getElementById("delete-room").hidden = true;
    settings.end();
    for (const control of composer.form.elements) control.disabled = true;
    uploads.end();
  }

  // A change to a message (live, or the answer to one's own): to its row,
  // and to what refers to it.
  function changed(ev) {
    changes.apply(ev);
    composer.followChange(ev);
    actions.followChange(ev);
  }

  function handle(kind, body) {
    switch (kind) {
      case "members":
        members.show(body);
        return composer.followTarget();
      case "typing": return typing.heard(body);
      case "kicked": return end("You were removed from this room.");
      case "room-deleted": return end("This room was deleted.");
      case "refused": return end(refusal(body));
    }
    if (typeof body.id !== "number") return;
    if (CHANGE_TYPES.includes(kind)) return changed(body);
    messages.arrived(body);
    if (body.user) typing.stopped(body.user.id);
    alerts.arrived(body);
  }

  const forcePoll = new URLSearchParams(location.search).get("transport") === "poll";
  leave = subscribe(
    { room: roomId, cursor: Number(section.dataset.cursor) || 0, forcePoll, me },
    { event: handle, state: setState },
  );
  // Back from the back/forward cache (its connection was closed on
  // leaving): start afresh.
  addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });
}

// Why the room will not have the visitor: the server says (a 409: the
// room is full, or locked against newcomers; a 403: kicked).
function refusal({ status, message }) {
  if (status === 404) return "This room no longer exists.";
  if (message) return message;
  return status === 409 ? "This room takes nobody new now (it is full or locked)." : "You cannot be in this room.";
}

// A link to a message of the page (`#m123`): the message to show first.
function linkedMessage() {
  const found = /^#m(\d+)$/.exec(location.hash);
  return found ? found[1] : null;
}
