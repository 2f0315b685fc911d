// The owner's settings panel: the room locked (nobody new may come in) or
// open, its size, its password, and bots (a key that scripts post with,
// shown once, revocable from here until the page is left). Shown while
// the visitor owns the room (members.js calls `follow` with each
// snapshot). A change's answer is the stored `system` notice that says
// it, shown at once; refusals go to the composer's error line.

import { JSON_HEADERS, errorOf, postJson } from "./http.js";
import { el, label } from "./render.js";

export class Settings {
  // `page`: { me, base, ended(), say(text), posted(ev) }.
  constructor(page) {
    this.page = page;
    this.panel = document.getElementById("room-settings");
    this.form = document.getElementById("settings-form");
    this.locked = document.getElementById("settings-locked");
    this.max = document.getElementById("settings-max");
    this.passwordForm = document.getElementById("password-form");
    this.password = document.getElementById("settings-password");
    this.botForm = document.getElementById("bot-form");
    this.botName = document.getElementById("bot-name");
    this.botMade = document.getElementById("bot-made");
    // What the room is, as far as this page knows: as rendered, then as
    // saved here, and the size as the members snapshots tell it.
    this.current = { locked: this.locked.value === "true", max: Number(this.max.value) };
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    this.passwordForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.setPassword();
    });
    this.botForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.makeBot();
    });
  }

  // A members snapshot: the panel follows ownership, the fields the room
  // (unless the owner is changing them).
  follow(snapshot) {
    const owner = !this.page.ended() && snapshot.owner.id === this.page.me;
    // Handed the room: what the page was rendered with may be stale.
    if (owner && this.panel.hidden) this.refresh();
    this.panel.hidden = !owner;
    this.learn({ max: snapshot.max });
  }

  // The room as it is now (its page's JSON): only snapshots tell the size
  // as it changes, nothing tells whether it is locked.
  async refresh() {
    try {
      const response = await fetch(this.page.base, { headers: JSON_HEADERS });
      if (response.ok) this.learn((await response.json()).room);
    } catch (_) { /* the fields stay as they are */ }
  }

  // The room's `locked` and `max` (either may be missing): known, and
  // shown in the fields the owner has not changed.
  learn({ locked, max }) {
    const field = (name, control, value, text) => {
      if (value == null || value === this.current[name]) return;
      const untouched = control.value === text(this.current[name]) && document.activeElement !== control;
      this.current[name] = value;
      if (untouched) control.value = text(value);
    };
    field("locked", this.locked, locked, String);
    field("max", this.max, max, String);
  }

  // The room ended: nothing more to set.
  end() {
    this.panel.hidden = true;
  }

  // Sends what changed. This page may not know of changes made elsewhere
  // (by an owner before this one): when, as far as it knows, nothing
  // changed, it sends both fields and the server judges ("nothing
  // changed" is its answer then).
  async save() {
    const locked = this.locked.value === "true";
    const max = this.max.value.trim() === "" ? null : Number(this.max.value);
    const body = {};
    if (locked !== this.current.locked) body.locked = locked;
    if (max != null && max !== this.current.max) body.max = max;
    if (!Object.keys(body).length) {
      body.locked = locked;
      if (max != null) body.max = max;
    }
    if (!(await this.send(this.form, this.page.base + "/settings", body))) return;
    this.current.locked = locked;
    if (max != null) this.current.max = max;
  }

  async setPassword() {
    const password = this.password.value;
    if (!password && !confirm("Remove the room’s password? Anyone will be able to come in.")) return;
    if (await this.send(this.passwordForm, this.page.base + "/settings", { password })) {
      this.password.value = "";
    }
  }

  // POSTs `body` with `form`'s buttons disabled; the stored notice is
  // shown. Resolves to whether it was taken.
  async send(form, url, body) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => { button.disabled = true; });
    try {
      const stored = await postJson(url, body);
      this.page.say("");
      this.page.posted(stored);
      return true;
    } catch (err) {
      this.page.say(err.message);
      return false;
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  // ---- bots --------------------------------------------------------------------------

  async makeBot() {
    const name = this.botName.value.trim();
    if (!name) return this.botName.focus();
    const button = this.botForm.querySelector("button");
    button.disabled = true;
    try {
      const made = await postJson(this.page.base + "/bots", { name });
      this.page.say("");
      this.botName.value = "";
      this.showBot(made);
    } catch (err) {
      this.page.say(err.message);
    } finally {
      button.disabled = false;
    }
  }

  // The key, shown this once (the server keeps only its hash), and the
  // command lines that post with it, each selected whole by one click.
  showBot(made) {
    const origin = location.origin;
    const line = (text) => el("code", "bot-line", text);
    const revoke = el("button", "danger bot-revoke", "Revoke");
    revoke.type = "button";
    revoke.addEventListener("click", () => this.revoke(made, revoke));
    this.botMade.replaceChildren(
      el("span", "bot-note", "“" + label(made.bot) + "” posts in this room with this key. " +
        "It is shown only this once: copy it now."),
      line(made.key),
      el("span", "bot-label", "Post a message:"),
      line("curl -d chat='hello' " + origin + made.url),
      el("span", "bot-label", "Post a GIF:"),
      line("curl -F gif=@cat.gif " + origin + made.gifs_url),
      revoke,
    );
    this.botMade.hidden = false;
  }

  async revoke(made, button) {
    if (!confirm("Revoke the key of “" + label(made.bot) + "”? Scripts that use it will be refused.")) return;
    button.disabled = true;
    let response;
    try {
      const url = this.page.base + "/bots/" + encodeURIComponent(made.key);
      response = await fetch(url, { method: "DELETE", headers: JSON_HEADERS });
    } catch (_) {
      this.page.say("Could not reach the server; the key still works.");
      button.disabled = false;
      return;
    }
    if (!response.ok) {
      this.page.say(await errorOf(response));
      button.disabled = false;
      return;
    }
    this.page.say("");
    // Unless another bot's box replaced this one meanwhile.
    if (!this.botMade.contains(button)) return;
    this.botMade.replaceChildren();
    this.botMade.hidden = true;
  }
}
