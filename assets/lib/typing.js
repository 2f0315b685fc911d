// "alice is typing…": the page says so for its visitor while they type
// (at most every 2.5 s; the server passes on one per 2 s anyway), and
// shows who else is, from the room's ephemeral `typing` events, until 4 s
// after someone's last one, or at once when their message comes.

import { JSON_HEADERS } from "./http.js";
import { label } from "./render.js";

const SAY_EVERY_MS = 2500;
const SHOWN_FOR_MS = 4000;

export class Typing {
  // `page`: { me, base, ended(), composer }.
  constructor(page) {
    this.page = page;
    this.input = document.getElementById("chat-input");
    this.line = document.getElementById("typing");
    this.lastSaid = 0;
    this.typists = new Map(); // user id -> { user, timer }
    // Always there, empty when nobody types: its height is kept, so that
    // the list does not jump when someone starts or stops.
    this.line.hidden = false;
    this.input.addEventListener("input", () => this.typed());
  }

  // Whispers and edits are nobody else's business.
  typed() {
    const composer = this.page.composer;
    if (this.page.ended() || !this.input.value.trim() || composer.target || composer.editing) return;
    const now = Date.now();
    if (now - this.lastSaid < SAY_EVERY_MS) return;
    this.lastSaid = now;
    // Fire and forget: a lost one only means a missed "is typing".
    fetch(this.page.base + "/typing", { method: "POST", headers: JSON_HEADERS }).catch(() => {});
  }

  // A `typing` event.
  heard(ev) {
    const user = ev.user;
    if (!user || user.id === this.page.me) return;
    const known = this.typists.get(user.id);
    if (known) clearTimeout(known.timer);
    const timer = setTimeout(() => this.stopped(user.id), SHOWN_FOR_MS);
    this.typists.set(user.id, { user, timer });
    this.show();
  }

  // They stopped, or their message came.
  stopped(userId) {
    const known = this.typists.get(userId);
    if (!known) return;
    clearTimeout(known.timer);
    this.typists.delete(userId);
    this.show();
  }

  show() {
    const names = Array.from(this.typists.values(), (t) => label(t.user));
    let text = "";
    if (names.length === 1) text = names[0] + " is typing…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
    else if (names.length > 2) text = "several people are typing…";
    if (this.line.textContent !== text) this.line.textContent = text;
  }

  // The room ended: nobody types any more.
  end() {
    for (const id of Array.from(this.typists.keys())) this.stopped(id);
  }
}
