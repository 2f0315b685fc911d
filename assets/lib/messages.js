// The message list: messages in id order, each once; the view kept at the
// bottom while the reader is there; older history on demand. A page
// opened at a message (a permalink, `?around=`) shows it, and loads the
// newer messages up to the live ones as the reader goes down.

import { JSON_HEADERS, errorOf } from "./http.js";
import { MESSAGE_TYPES, localTime, message } from "./render.js";

// The events shown as rows (changes to messages are applied to them).
const ROW_TYPES = [...MESSAGE_TYPES, "system"];

// Loading newer pages to reach the live messages goes at most this far;
// beyond, the page is opened afresh at the newest.
const MAX_NEWER_PAGES = 20;

const HIGHLIGHT_MS = 2000;
const highlights = new WeakMap(); // row -> the timer that ends its highlight

export class Messages {
  // `newer`: the button that loads newer pages (a permalink's page);
  // `around`: the id of the message to show first; `onPage()`: rows came
  // from a page of history.
  constructor({ list, newBelow, older, newer, around, me, base, onPage = () => {} }) {
    this.list = list;
    this.newBelow = newBelow;
    this.me = me;
    this.base = base;
    this.onPage = onPage;
    // While newer pages are missing, live messages wait here: shown below
    // the gap, they would be out of order with what the reader scrolls to.
    this.newer = newer ? newer.parentElement : null;
    this.held = [];
    this.loadingNewer = null;
    // Whether to keep the bottom in view. Only the reader scrolling up
    // clears it: content growing (a GIF loading) also leaves the bottom,
    // and its scroll event may come late, but it never moves scrollTop up.
    this.stick = true;
    this.lastTop = 0;
    list.querySelectorAll("time").forEach(localTime);
    this.follow();
    if (older) this.offerOlder(older);
    if (newer) this.offerNewer(newer);
    if (!(around && this.show(around, { smooth: false }))) this.scrollDown();
  }

  // Whether messages between the page and the live ones are still to load.
  newerMissing() {
    return this.newer != null && !this.newer.hidden;
  }

  atBottom() {
    const list = this.list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  scrollDown() {
    this.list.scrollTop = this.list.scrollHeight;
    this.newBelow.hidden = true;
  }

  follow() {
    const list = this.list;
    list.addEventListener("scroll", () => {
      // The end of a permalink's page is not the bottom: newer messages
      // are still to come below it.
      if (this.atBottom() && !this.newerMissing()) this.stick = true;
      else if (list.scrollTop < this.lastTop) this.stick = false;
      this.lastTop = list.scrollTop;
      if (this.stick) this.newBelow.hidden = true;
    });
    // Keep the bottom in view when GIFs load (`load` does not bubble:
    // listen in the capture phase) and when the list shrinks (a notice,
    // an error line, a phone keyboard).
    list.addEventListener("load", () => { if (this.stick) this.scrollDown(); }, true);
    if (window.ResizeObserver) {
      new ResizeObserver(() => { if (this.stick) this.scrollDown(); }).observe(list);
    }
    this.newBelow.addEventListener("click", async () => {
      if (this.newerMissing() && !(await this.reachPresent())) return;
      this.stick = true;
      this.scrollDown();
    });
  }

  row(id) {
    return this.list.querySelector('li.msg[data-id="' + id + '"]');
  }

  // Brings message `id` into view and highlights it briefly; false when it
  // is not on the page. `focus`: for a keyboard reader who followed a
  // link to it.
  show(id, { smooth = true, focus = false } = {}) {
    const li = this.row(id);
    if (!li) return false;
    // Not the bottom any more, whatever comes; the scroll handler sets it
    // again if the message is at the bottom.
    this.stick = false;
    const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
    li.scrollIntoView({ block: "center", behavior: smooth && !still ? "smooth" : "auto" });
    if (focus) {
      li.tabIndex = -1;
      li.focus({ preventScroll: true });
    }
    li.classList.remove("jumped");
    void li.offsetWidth; // restart the highlight if it is still running
    li.classList.add("jumped");
    clearTimeout(highlights.get(li));
    highlights.set(li, setTimeout(() => li.classList.remove("jumped"), HIGHLIGHT_MS));
    return true;
  }

  // Inserts in id order, once per id: history pages, POST answers and live
  // events may meet, and a message must never show twice. Returns whether
  // it added a row.
  insert(ev) {
    const list = this.list;
    if (!ROW_TYPES.includes(ev.type)) return false;
    if (list.querySelector('li[data-id="' + ev.id + '"]')) return false;
    let after = list.lastElementChild;
    while (after && Number(after.dataset.id) > ev.id) after = after.previousElementSibling;
    const li = message(ev, this.me);
    if (after) after.after(li);
    else list.prepend(li);
    return true;
  }

  // A live event: shown, and the reader told of it if they scrolled up.
  arrived(ev) {
    if (this.newerMissing()) {
      this.held.push(ev);
      this.newBelow.hidden = false;
      return;
    }
    const wasStuck = this.stick;
    if (!this.insert(ev)) return; // already shown from the POST answer
    if (wasStuck || (ev.user && ev.user.id === this.me)) this.scrollDown();
    else this.newBelow.hidden = false;
  }

  // The reader's own post, from the POST answer: shown at once (on a
  // permalink's page, once the messages before it are there).
  async posted(ev) {
    if (this.newerMissing()) {
      this.held.push(ev);
      this.newBelow.hidden = false;
      if (!(await this.reachPresent())) return;
    } else {
      this.insert(ev);
    }
    this.stick = true;
    this.scrollDown();
  }

  offerOlder(button) {
    button.parentElement.hidden = false;
    button.addEventListener("click", async () => {
      const first = this.list.firstElementChild;
      if (!first) return;
      button.disabled = true;
      try {
        const url = this.base + "/messages?limit=50&before=" + first.dataset.id;
        const response = await fetch(url, { headers: JSON_HEADERS });
        if (!response.ok) throw new Error(await errorOf(response));
        const page = await response.json();
        // Keep what the reader is looking at in place while rows go above.
        const fromBottom = this.list.scrollHeight - this.list.scrollTop;
        page.events.forEach((ev) => this.insert(ev));
        this.list.scrollTop = this.list.scrollHeight - fromBottom;
        this.onPage();
        if (!page.has_more) button.parentElement.hidden = true;
      } catch (_) {
        button.textContent = "Could not load older messages; try again";
      } finally {
        button.disabled = false;
      }
    });
  }

  // A permalink's page: the button loads the next newer page, and so does
  // reaching the end of what is loaded.
  offerNewer(button) {
    this.newerButton = button;
    button.addEventListener("click", () => this.loadNewer());
    this.list.addEventListener("scroll", () => {
      if (this.newerMissing() && this.atBottom()) this.loadNewer();
    });
  }

  // Loads the next newer page (one at a time); resolves to whether it
  // came. The last one lets the held live messages in.
  loadNewer() {
    if (!this.loadingNewer) {
      this.loadingNewer = this.fetchNewer().finally(() => { this.loadingNewer = null; });
    }
    return this.loadingNewer;
  }

  async fetchNewer() {
    const button = this.newerButton;
    const last = this.list.lastElementChild;
    if (!last || !this.newerMissing()) return true;
    button.disabled = true;
    try {
      const url = this.base + "/messages?limit=50&after=" + last.dataset.id;
      const response = await fetch(url, { headers: JSON_HEADERS });
      if (!response.ok) throw new Error(await errorOf(response));
      const page = await response.json();
      // Rows go below what the reader sees: nothing moves.
      page.events.forEach((ev) => this.insert(ev));
      this.onPage();
      button.textContent = "Load newer messages";
      if (!page.has_more) this.caughtUp();
      return true;
    } catch (_) {
      button.textContent = "Could not load newer messages; try again";
      return false;
    } finally {
      button.disabled = false;
    }
  }

  // The newer pages reached the live messages: those held come in.
  caughtUp() {
    this.newer.hidden = true;
    const held = this.held;
    this.held = [];
    held.forEach((ev) => this.insert(ev));
    if (held.length && !this.stick) this.newBelow.hidden = false;
  }

  // Loads every newer page, to show the newest messages (the reader
  // posted, or asked for them); a long way off, the page is opened afresh
  // at the newest instead. Resolves to whether the list reached them.
  async reachPresent() {
    for (let pages = 0; this.newerMissing(); pages += 1) {
      if (pages >= MAX_NEWER_PAGES) {
        location.assign(this.base);
        return false;
      }
      if (!(await this.loadNewer())) return false;
    }
    return true;
  }
}
