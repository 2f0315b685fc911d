// What can be done to a message from its row: react (with the picker,
// or a reaction's own button to give or take back the same), reply, edit,
// delete; and following a reply's quote to the message it answers. One
// listener on the list serves every row, rows still to come included.
// The answers are stored changes, applied at once as live ones are
// (their live copies then change nothing).

import { postJson, requestJson } from "./http.js";
import { badgeUser, label } from "./render.js";

// Room the picker keeps from the window's edges and from its button.
const MARGIN = 8;

export class Actions {
  // `page`: { base, ended(), say(text), changed(ev), show(id, options),
  // composer, members }.
  constructor(page) {
    this.page = page;
    this.list = document.getElementById("messages");
    this.picker = document.getElementById("reaction-picker");
    this.freeInput = document.getElementById("reaction-input");
    this.pickingFor = null; // the row the open picker reacts to
    this.opener = null; // the button that opened it, where focus goes back
    this.list.addEventListener("click", (e) => this.clicked(e));
    this.pickerEvents();
  }

  clicked(e) {
    const quote = e.target.closest("a.reply");
    if (quote && this.list.contains(quote)) return this.followQuote(e, quote);
    const button = e.target.closest("button");
    const li = button && button.closest("li.msg");
    if (!li || this.page.ended() || li.classList.contains("deleted")) return;
    const is = (name) => button.classList.contains(name);
    if (is("reaction")) return this.toggle(li, button);
    if (is("act-react")) return this.openPicker(li, button);
    if (is("act-reply")) return this.reply(li);
    if (is("act-edit")) return this.page.composer.edit({ id: li.dataset.id, text: this.textOf(li) });
    if (is("act-delete")) return this.remove(li, button);
  }

  // ---- what a row shows ------------------------------------------------------

  textOf(li) {
    const text = li.querySelector(":scope > .text");
    return text ? text.textContent : "";
  }

  // The user a row's badge shows. Badges without `data-user` (older
  // pages) are matched to present members by color, a hash of the id.
  userOf(who) {
    if (!who) return null;
    const user = badgeUser(who);
    if (!user.id) {
      const present = this.page.members.users().find((u) => u.color === user.color);
      if (present) user.id = present.id;
    }
    return user;
  }

  // The message of a row, as the composer needs it for a reply.
  about(li) {
    const type = Array.from(li.classList).find((c) => c.startsWith("msg-")).slice(4);
    return {
      id: Number(li.dataset.id),
      type,
      mine: li.classList.contains("mine"),
      author: this.userOf(li.querySelector(":scope > .who")),
      to: this.userOf(li.querySelector(":scope > .to .who")),
      text: li.querySelector(":scope > .text") ? this.textOf(li) : null,
    };
  }

  // ---- reply, delete, quotes ---------------------------------------------------

  reply(li) {
    const message = this.about(li);
    // A reply to a whisper is a whisper between the same two people.
    if (message.type === "whisper") {
      const other = message.mine ? message.to : message.author;
      if (!other || !other.id) {
        return this.page.say("Only a whisper can answer a whisper, and " +
          (other ? label(other) : "its sender") + " is not in the room.");
      }
      message.whisperWith = other;
    }
    this.page.composer.replyTo(message);
  }

  async remove(li, button) {
    const mine = li.classList.contains("mine");
    const author = li.querySelector(":scope > .who");
    const whose = mine || !author ? "this message" : label(badgeUser(author)) + "’s message";
    if (!confirm("Delete " + whose + " for everyone?")) return;
    button.disabled = true;
    try {
      this.page.changed(await requestJson("DELETE", this.eventUrl(li)));
      this.page.say("");
    } catch (err) {
      this.page.say(err.message);
    } finally {
      button.disabled = false;
    }
  }

  // To the quoted message: on the page, scrolled to; otherwise the room
  // opened at it.
  followQuote(e, quote) {
    e.preventDefault();
    const id = quote.dataset.replyTo;
    const byKeyboard = e.detail === 0; // Enter on the link, not a click
    if (this.page.show(id, { focus: byKeyboard })) return;
    location.assign(this.page.base + "?around=" + encodeURIComponent(id) + "#m" + id);
  }

  eventUrl(li) {
    return this.page.base + "/events/" + encodeURIComponent(li.dataset.id);
  }

  // ---- reactions -----------------------------------------------------------------

  // A reaction's button gives the same reaction, or takes mine back.
  async toggle(li, button) {
    const reaction = button.dataset.reaction;
    const mine = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    try {
      const url = this.eventUrl(li) + "/reactions";
      const ev = mine
        ? await requestJson("DELETE", url + "/" + encodeURIComponent(reaction))
        : await postJson(url, { reaction });
      this.page.changed(ev);
      this.page.say("");
    } catch (err) {
      this.page.say(err.message);
    } finally {
      button.disabled = false;
    }
  }

  async react(li, reaction) {
    try {
      this.page.changed(await postJson(this.eventUrl(li) + "/reactions", { reaction }));
      this.page.say("");
    } catch (err) {
      this.page.say(err.message);
    }
  }

  pickerEvents() {
    const picker = this.picker;
    picker.addEventListener("click", (e) => {
      const pick = e.target.closest("button.pick");
      if (pick) this.picked(pick.dataset.reaction);
    });
    document.getElementById("reaction-free").addEventListener("submit", (e) => {
      e.preventDefault();
      const reaction = this.freeInput.value.trim();
      if (reaction) this.picked(reaction);
    });
    // Arrows move between the offered reactions.
    picker.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const picks = Array.from(picker.querySelectorAll("button.pick"));
      const at = picks.indexOf(document.activeElement);
      if (at < 0) return;
      e.preventDefault();
      const step = e.key === "ArrowRight" ? 1 : -1;
      picks[(at + step + picks.length) % picks.length].focus();
    });
    // Escape closes it before anything else hears Escape (the composer's
    // edit, reply and whisper).
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !picker.hidden) {
        e.preventDefault();
        this.closePicker(true);
      }
    }, true);
    document.addEventListener("pointerdown", (e) => {
      if (picker.hidden || picker.contains(e.target) || (this.opener && this.opener.contains(e.target))) return;
      this.closePicker(false);
    });
    // It stays by its message while the list scrolls, and goes when the
    // message does.
    this.list.addEventListener("scroll", () => this.place());
    addEventListener("resize", () => this.place());
  }

  openPicker(li, button) {
    if (this.pickingFor === li) return this.closePicker(true);
    this.pickingFor = li;
    this.opener = button;
    this.freeInput.value = "";
    this.picker.hidden = false;
    this.place();
    const first = this.picker.querySelector("button.pick");
    if (first) first.focus();
  }

  closePicker(refocus) {
    if (this.picker.hidden) return;
    this.picker.hidden = true;
    const opener = this.opener;
    this.pickingFor = null;
    this.opener = null;
    if (refocus && opener && opener.isConnected) opener.focus();
  }

  picked(reaction) {
    const li = this.pickingFor;
    this.closePicker(true);
    if (li && !this.page.ended()) this.react(li, reaction);
  }

  // Fixed by the react button: above it, or below when there is no room
  // above; closed once its message leaves the list's view.
  place() {
    const li = this.pickingFor;
    if (!li) return;
    const list = this.list.getBoundingClientRect();
    const row = li.getBoundingClientRect();
    if (!li.isConnected || row.bottom < list.top || row.top > list.bottom) return this.closePicker(false);
    const anchor = (this.opener && this.opener.offsetParent ? this.opener : li).getBoundingClientRect();
    const picker = this.picker;
    const width = picker.offsetWidth;
    const height = picker.offsetHeight;
    let top = anchor.top - height - MARGIN;
    if (top < MARGIN) top = anchor.bottom + MARGIN;
    const left = Math.min(Math.max(anchor.right - width, MARGIN), innerWidth - width - MARGIN);
    picker.style.top = Math.max(top, MARGIN) + "px";
    picker.style.left = Math.max(left, MARGIN) + "px";
  }

  // A change applied: the picker goes with a deleted message.
  followChange(ev) {
    if (ev.type === "delete" && this.pickingFor && this.pickingFor.dataset.id === String(ev.target)) {
      this.closePicker(false);
    }
  }
}
