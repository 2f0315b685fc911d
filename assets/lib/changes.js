// Changes to messages already shown, applied to their rows in place: the
// stored `reaction`, `unreaction`, `edit` and `delete` events (each about
// a `target`). They are never rows of their own.
//
// The same change may come more than once: from the POST answer and then
// live, or live after a page (the page itself, an older or newer page)
// already folded it in. So applying one again must change nothing: a
// reaction's button keeps who gave it (`data-users`), and the latest
// change applied per (message, reaction, user) and per message's text is
// remembered, so that a late copy of an older change (my reaction's live
// copy arriving after I took it back) does not undo a newer one.

import { messagePart, quoteText, reactionButton, reactionUsers, setReaction } from "./render.js";

export const CHANGE_TYPES = ["reaction", "unreaction", "edit", "delete"];

// Changes whose message is not on the page are kept (at most this many)
// in case a page being fetched brings it without them.
const MAX_WAITING = 500;

export class Changes {
  constructor({ list, me }) {
    this.list = list;
    this.me = me;
    this.latest = new Map(); // key -> id of the latest change applied
    this.waiting = [];
  }

  row(id) {
    return this.list.querySelector('li.msg[data-id="' + id + '"]');
  }

  // Applies `ev` to its message's row and to the quotes of it. Returns
  // the row, or null when the message is not on the page (then only the
  // quotes change).
  apply(ev) {
    if (ev.type === "edit" || ev.type === "delete") this.requote(ev);
    const li = this.row(ev.target);
    if (!li) {
      this.wait(ev);
      return null;
    }
    // A tombstone takes no more changes.
    if (li.classList.contains("deleted")) return li;
    if (ev.type === "delete") {
      this.remove(li);
      return li;
    }
    const key = ev.type === "edit"
      ? "text " + ev.target
      : "reaction " + ev.target + " " + ev.user.id + " " + ev.chat;
    if (!this.newest(key, ev.id)) return li;
    if (ev.type === "edit") this.edit(li, ev.chat);
    else this.react(li, ev.chat, ev.user, ev.type === "reaction");
    return li;
  }

  // Whether change `id` is newer than any applied under `key` (and if
  // so, it is now the latest).
  newest(key, id) {
    const last = this.latest.get(key);
    if (last != null && last >= id) return false;
    this.latest.set(key, id);
    return true;
  }

  wait(ev) {
    this.waiting.push(ev);
    if (this.waiting.length > MAX_WAITING) this.waiting.shift();
  }

  // Rows came from a page: the changes that found no row try again, in
  // the order they were made (applied twice, they change nothing).
  retry() {
    const waiting = this.waiting.sort((a, b) => a.id - b.id);
    this.waiting = [];
    waiting.forEach((ev) => this.apply(ev));
  }

  react(li, reaction, user, add) {
    const bar = li.querySelector(":scope > .reactions");
    if (!bar) return;
    const button = Array.from(bar.querySelectorAll("button.reaction")).find((b) => b.dataset.reaction === reaction);
    const users = button ? reactionUsers(button, this.me) : [];
    const had = users.some((u) => u.id === user.id);
    if (add === had) return;
    const next = add ? [...users, user] : users.filter((u) => u.id !== user.id);
    if (!next.length) button.remove();
    else if (button) setReaction(button, reaction, next, this.me);
    else bar.append(reactionButton(reaction, next, this.me));
  }

  edit(li, text) {
    const part = li.querySelector(":scope > .text");
    if (!part) return; // a GIF has no text to edit
    part.textContent = text;
    li.classList.add("edited");
    if (!li.querySelector(":scope > .edited-mark")) {
      li.querySelector(":scope > time").before(" ", messagePart(".edited-mark"));
    }
  }

  // The tombstone: the words, the GIF and the reactions go; the quote of
  // what it answered stays, as on a page rendered after the delete.
  remove(li) {
    li.classList.add("deleted");
    li.querySelectorAll(":scope > .text, :scope > img.gif").forEach((part) => part.remove());
    if (!li.querySelector(":scope > .tombstone")) {
      const after = li.querySelector(":scope > .to") || li.querySelector(":scope > .who");
      const tombstone = messagePart(".tombstone");
      if (after) after.after(tombstone);
      else li.prepend(tombstone);
    }
    const bar = li.querySelector(":scope > .reactions");
    if (bar) bar.replaceChildren();
  }

  // Replies quote their message as it is now.
  requote(ev) {
    if (ev.type === "edit" && !this.newest("quote " + ev.target, ev.id)) return;
    const text = quoteText({ deleted: ev.type === "delete", chat: ev.chat });
    const quotes = this.list.querySelectorAll('a.reply[data-reply-to="' + ev.target + '"] .reply-text');
    quotes.forEach((part) => { part.textContent = text; });
  }
}
