// The send form: text to everyone, or a whisper to the member chosen in
// the panel; the line for errors; retries that never post twice.

import { errorOf, newClientId, postWithRetries } from "./http.js";
import { badge, label } from "./render.js";

export class Composer {
  // `page`: { base, ended(), posted(ev), members }.
  constructor(page) {
    this.page = page;
    this.form = document.getElementById("chat-form");
    this.input = document.getElementById("chat-input");
    this.error = document.getElementById("chat-error");
    this.whisperBox = document.getElementById("whisper-target");
    this.whisperName = document.getElementById("whisper-name");
    this.target = null; // the user the form whispers to, or null
    // The text being sent and its client_id, kept until it is stored, so
    // that sending the same text again is a retry, not a second message.
    this.draft = null;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    document.getElementById("whisper-cancel").addEventListener("click", () => this.clearTarget());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.target && !e.defaultPrevented) {
        e.preventDefault();
        this.clearTarget();
      }
    });
  }

  say(text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  }

  whisperTo(user, focus = true) {
    this.target = user;
    this.whisperName.replaceChildren(badge(user));
    this.whisperBox.hidden = false;
    this.form.classList.add("whispering");
    this.input.placeholder = "Whisper to " + label(user) + "…";
    this.page.members.markTarget(user);
    if (focus) this.input.focus();
  }

  clearTarget(focus = true) {
    if (!this.target) return;
    this.target = null;
    this.whisperBox.hidden = true;
    this.whisperName.replaceChildren();
    this.form.classList.remove("whispering");
    this.input.placeholder = "Say something…";
    this.page.members.markTarget(null);
    if (focus && !this.page.ended()) this.input.focus();
  }

  // After a members snapshot: the whisper target leaves with its user, and
  // follows its renames.
  followTarget() {
    if (!this.target) return;
    const now = this.page.members.present(this.target);
    if (now) {
      if (label(now) !== label(this.target)) this.whisperTo(now, false);
      else this.page.members.markTarget(this.target);
    } else if (now === null) {
      const gone = label(this.target);
      this.clearTarget(false);
      this.say(gone + " left the room: your next message goes to everyone.");
    }
  }

  // Plain messages go to /messages; with a whisper target set, to /whispers.
  async send() {
    // The server trims and checks the length, and says what is wrong.
    const chat = this.input.value;
    const target = this.target;
    const key = (target ? target.id : "") + "\n" + chat;
    if (!this.draft || this.draft.key !== key) this.draft = { key, clientId: newClientId() };
    const clientId = this.draft.clientId;
    const body = target ? { to: target.id, chat, client_id: clientId } : { chat, client_id: clientId };
    const button = this.form.querySelector("button[type=submit]");
    const unreachable = "Could not reach the server; your message was not sent. Send it again to retry.";
    button.disabled = true;
    try {
      const url = this.page.base + (target ? "/whispers" : "/messages");
      const response = await postWithRetries(url, body, () => this.page.ended());
      if (!response) return this.say(unreachable);
      // Refused: the typed text stays, so nothing is lost.
      if (!response.ok) return this.say(await errorOf(response));
      this.page.posted(await response.json());
      this.draft = null;
      this.input.value = "";
      this.say("");
    } catch (_) {
      this.say(unreachable);
    } finally {
      if (!this.page.ended()) {
        button.disabled = false;
        this.input.focus();
      }
    }
  }
}
