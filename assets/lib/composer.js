// The send form: text to everyone, or a whisper to the member chosen in
// the panel; a reply to a message, or the edit of one's own; the line for
// errors; retries that never post twice.

import { errorOf, newClientId, postWithRetries, requestJson } from "./http.js";
import { badge, label } from "./render.js";

// How much of the message replied to the reply bar quotes.
const QUOTE_CHARS = 80;

export class Composer {
  // `page`: { base, ended(), posted(ev), changed(ev), members, mentions,
  // alerts }.
  constructor(page) {
    this.page = page;
    this.form = document.getElementById("chat-form");
    this.input = document.getElementById("chat-input");
    this.error = document.getElementById("chat-error");
    this.whisperBox = document.getElementById("whisper-target");
    this.whisperName = document.getElementById("whisper-name");
    this.replyBox = document.getElementById("reply-target");
    this.replyName = document.getElementById("reply-name");
    this.replyText = document.getElementById("reply-text");
    this.editBox = document.getElementById("edit-target");
    this.target = null; // the user the form whispers to, or null
    // The message the next post answers: { id, with (the other user's id,
    // for a whisper), madeWhisper (the reply turned whispering on) }.
    this.reply = null;
    // The message being edited: { id, text, stash (what was being
    // written before, given back after) }.
    this.editing = null;
    // The text being sent and its client_id, kept until it is stored, so
    // that sending the same text again is a retry, not a second message.
    this.draft = null;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    document.getElementById("whisper-cancel").addEventListener("click", () => this.clearTarget());
    document.getElementById("reply-cancel").addEventListener("click", () => this.clearReply());
    document.getElementById("edit-cancel").addEventListener("click", () => this.cancelEdit());
    // Escape undoes one thing at a time, the latest kind first.
    document.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      const undo = this.editing ? () => this.cancelEdit()
        : this.reply ? () => this.clearReply()
        : this.target ? () => this.clearTarget()
        : null;
      if (!undo) return;
      e.preventDefault();
      undo();
    });
  }

  say(text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  }

  placeholder() {
    if (this.editing) return "Edit your message…";
    return this.target ? "Whisper to " + label(this.target) + "…" : "Say something…";
  }

  refocus(focus) {
    if (focus && !this.page.ended()) this.input.focus();
  }

  // ---- whisper ---------------------------------------------------------------------

  whisperTo(user, focus = true) {
    // A reply to a whisper can only be whispered to its other user.
    if (this.reply && this.reply.with && this.reply.with !== user.id) this.clearReply(false);
    this.target = user;
    this.whisperName.replaceChildren(badge(user));
    this.whisperBox.hidden = false;
    this.form.classList.add("whispering");
    this.input.placeholder = this.placeholder();
    this.page.members.markTarget(user);
    if (focus) this.input.focus();
  }

  clearTarget(focus = true) {
    if (!this.target) return;
    // Said to everyone, the reply to a whisper would be refused.
    if (this.reply && this.reply.with) {
      this.reply.madeWhisper = false;
      this.clearReply(false);
    }
    this.target = null;
    this.whisperBox.hidden = true;
    this.whisperName.replaceChildren();
    this.form.classList.remove("whispering");
    this.input.placeholder = this.placeholder();
    this.page.members.markTarget(null);
    this.refocus(focus);
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

  // ---- reply -----------------------------------------------------------------------

  // `message`: { id, author, text (null for a GIF), whisperWith (the
  // other user of a whisper) } (actions.js).
  replyTo(message) {
    this.cancelEdit(false);
    this.clearReply(false);
    const other = message.whisperWith;
    let madeWhisper = false;
    if (other && (!this.target || this.target.id !== other.id)) {
      this.whisperTo(other, false);
      madeWhisper = true;
    }
    this.reply = { id: message.id, with: other ? other.id : null, madeWhisper };
    this.replyName.replaceChildren(...(message.author ? [badge(message.author)] : []));
    this.replyText.textContent = short(message.text != null ? message.text : "GIF");
    this.replyBox.hidden = false;
    this.say("");
    this.input.focus();
  }

  // The reply's whisper mode goes with it, if the reply turned it on.
  clearReply(focus = true) {
    const reply = this.reply;
    if (!reply) return;
    this.reply = null;
    this.replyBox.hidden = true;
    this.replyName.replaceChildren();
    this.replyText.textContent = "";
    if (reply.madeWhisper) this.clearTarget(false);
    this.refocus(focus);
  }

  // The id for a GIF posted now to answer the reply, or null; a GIF goes
  // to everyone, so it cannot answer a whisper (an Error says so).
  replyForGif() {
    if (!this.reply) return null;
    if (this.reply.with) throw new Error("A GIF goes to everyone: it cannot answer a whisper.");
    return this.reply.id;
  }

  // A post that answered `id` was stored.
  replied(id) {
    if (this.reply && this.reply.id === id) this.clearReply(false);
  }

  // ---- edit ------------------------------------------------------------------------

  // `message`: { id, text }, one's own text message or whisper.
  edit({ id, text }) {
    this.clearReply(false);
    if (!this.editing) this.editing = { stash: this.input.value };
    this.editing.id = id;
    this.editing.text = text;
    this.input.value = text;
    this.editBox.hidden = false;
    this.form.classList.add("editing");
    this.input.placeholder = this.placeholder();
    this.say("");
    this.input.focus();
    this.input.setSelectionRange(text.length, text.length);
  }

  cancelEdit(focus = true) {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    this.input.value = editing.stash;
    this.editBox.hidden = true;
    this.form.classList.remove("editing");
    this.input.placeholder = this.placeholder();
    this.refocus(focus);
  }

  // A change was applied to a message: the reply bar quotes it as it is
  // now, and a deleted message is neither answered nor edited.
  followChange(ev) {
    const about = (state) => state && String(state.id) === String(ev.target);
    if (ev.type === "edit" && about(this.reply)) this.replyText.textContent = short(ev.chat);
    if (ev.type !== "delete") return;
    if (about(this.reply)) {
      this.clearReply(false);
      this.say("The message you were replying to was deleted.");
    }
    if (about(this.editing)) {
      this.cancelEdit(false);
      this.say("The message you were editing was deleted.");
    }
  }

  // The room ended: nothing more to send.
  end() {
    this.cancelEdit(false);
    this.clearReply(false);
    this.clearTarget(false);
  }

  // ---- send ------------------------------------------------------------------------

  send() {
    return this.editing ? this.sendEdit() : this.post();
  }

  // Plain messages go to /messages; with a whisper target set, to
  // /whispers; with the reply and the people mentioned.
  async post() {
    // Asked here, in the submit's own turn: browsers let only what the
    // visitor just did ask for permission.
    this.page.alerts.offer();
    // The server trims and checks the length, and says what is wrong.
    const chat = this.input.value;
    const target = this.target;
    const reply = this.reply;
    const key = (target ? target.id : "") + "\n" + (reply ? reply.id : "") + "\n" + chat;
    if (!this.draft || this.draft.key !== key) this.draft = { key, clientId: newClientId() };
    const body = { chat, client_id: this.draft.clientId };
    if (target) body.to = target.id;
    if (reply) body.reply_to = reply.id;
    const mentions = this.page.mentions.ids(chat);
    if (mentions.length) body.mentions = mentions;
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
      if (reply) this.replied(reply.id);
      this.page.mentions.reset();
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

  // The edit of one's own message: PATCH, and the stored `edit` applied
  // at once. Unchanged text just ends the edit.
  async sendEdit() {
    const editing = this.editing;
    const chat = this.input.value;
    if (chat.trim() === editing.text.trim()) return this.cancelEdit();
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      this.page.changed(await requestJson("PATCH", this.page.base + "/events/" + editing.id, { chat }));
      if (this.editing === editing) this.cancelEdit(false);
      this.say("");
    } catch (err) {
      // Refused: the edited text stays, so nothing is lost.
      this.say(err.message);
    } finally {
      if (!this.page.ended()) {
        button.disabled = false;
        this.input.focus();
      }
    }
  }
}

// The start of a long text, on one line.
function short(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > QUOTE_CHARS ? line.slice(0, QUOTE_CHARS - 1) + "…" : line;
}
