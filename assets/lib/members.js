// The members panel: re-rendered from each `members` snapshot, with the
// whisper buttons and the owner's controls (make owner, kick), and the
// delete button, the settings panel and the room's `is-owner` class that
// follow ownership.

import { JSON_HEADERS, errorOf, postJson } from "./http.js";
import { el, label, member } from "./render.js";

export class Members {
  // `page`: { room, me, base, ended(), say(text), posted(ev), whisperTo(user),
  // settings }.
  constructor(page) {
    this.page = page;
    this.list = document.getElementById("members");
    this.count = document.getElementById("member-count");
    this.deleteButton = document.getElementById("delete-room");
    this.snapshot = null; // the latest members snapshot
    this.list.addEventListener("click", (e) => this.clicked(e));
    this.deleteButton.addEventListener("click", () => this.deleteRoom());
    // Fold the panel into one line on narrow screens.
    if (window.matchMedia("(max-width: 44rem)").matches) {
      document.getElementById("members-panel").open = false;
    }
  }

  owner() {
    return this.page.room.dataset.owner;
  }

  show(next) {
    const me = this.page.me;
    this.snapshot = next;
    this.page.room.dataset.owner = next.owner.id;
    // The owner may delete anyone's message (style.css shows the button).
    this.page.room.classList.toggle("is-owner", next.owner.id === me);
    this.deleteButton.hidden = this.page.ended() || next.owner.id !== me;
    if (this.page.settings) this.page.settings.follow(next);
    this.count.textContent = next.count + " / " + next.max;
    // A keyboard user's focus survives the re-rendering.
    const focused = document.activeElement;
    const focusedLi = focused && this.list.contains(focused) ? focused.closest("li[data-user]") : null;
    const refocus = focusedLi && { user: focusedLi.dataset.user, className: focused.classList[0] };
    const items = next.members.map((user) => member(user, me, next.owner.id));
    const unlisted = next.count - next.members.length;
    if (unlisted > 0) items.push(el("li", "more", "and " + unlisted + " more"));
    this.list.replaceChildren(...items);
    if (refocus) {
      const li = items.find((item) => item.dataset.user === refocus.user);
      const again = li && li.querySelector("button." + refocus.className);
      if (again) again.focus();
    }
  }

  // Whether `user` is still here, as far as the snapshot tells: the list
  // is complete unless the room is huge (then the server says so on the
  // next post). Their current self, or null when gone, or undefined when
  // the snapshot cannot tell.
  present(user) {
    const snapshot = this.snapshot;
    if (!snapshot) return undefined;
    const now = snapshot.members.find((u) => u.id === user.id);
    if (now) return now;
    return snapshot.members.length >= snapshot.count ? null : undefined;
  }

  // The members present, as far as the page knows: the latest snapshot,
  // or (before the first one) the server-rendered rows.
  users() {
    if (this.snapshot) return this.snapshot.members;
    return Array.from(this.list.querySelectorAll("li[data-user]"), (li) => this.userOf(li));
  }

  markTarget(user) {
    for (const li of this.list.querySelectorAll("li[data-user]")) {
      li.classList.toggle("targeted", user != null && li.dataset.user === user.id);
    }
  }

  // The member behind a row: from the snapshot, or (before the first one)
  // from the server-rendered row.
  userOf(li) {
    const id = li.dataset.user;
    const known = this.snapshot && this.snapshot.members.find((user) => user.id === id);
    if (known) return known;
    const who = li.querySelector(".who");
    return { id, color: who.title, color_dark: who.dataset.colorDark, name: who.textContent };
  }

  async clicked(e) {
    const button = e.target.closest("button");
    const li = button && button.closest("li[data-user]");
    if (!li || this.page.ended()) return;
    const user = this.userOf(li);
    if (button.classList.contains("whisper-to")) return this.page.whisperTo(user);
    const kick = button.classList.contains("kick");
    if (!kick && !button.classList.contains("make-owner")) return;
    const body = { user: user.id };
    if (kick) {
      if (!confirm("Kick " + label(user) + " out of this room? They will not be able to come back.")) return;
      // A kick bars the user, whose id is their cookie: a new cookie
      // would be a new user. Their address can be barred too.
      if (confirm("Also keep their address out of this room, so a new cookie does not let them back in?")) {
        body.block_address = true;
      }
    }
    button.disabled = true;
    try {
      const stored = await postJson(this.page.base + (kick ? "/kick" : "/owner"), body);
      this.page.say("");
      this.page.posted(stored);
      // The next snapshot says the same; show it now.
      if (!kick && this.snapshot) this.show({ ...this.snapshot, owner: user });
    } catch (err) {
      this.page.say(err.message);
      button.disabled = false;
    }
  }

  async deleteRoom() {
    const title = document.getElementById("room-title").textContent;
    if (!confirm("Delete “" + title + "” with all its messages and GIFs, for everyone?")) return;
    const button = this.deleteButton;
    button.disabled = true;
    let response;
    try {
      response = await fetch(this.page.base, { method: "DELETE", headers: JSON_HEADERS });
    } catch (_) {
      this.page.say("Could not reach the server; the room was not deleted.");
      button.disabled = false;
      return;
    }
    if (!response.ok) {
      this.page.say(await errorOf(response));
      button.disabled = false;
      return;
    }
    this.page.leave();
    location.assign("/");
  }
}
