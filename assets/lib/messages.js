// The message list: messages in id order, each once; the view kept at the
// bottom while the reader is there; older history on demand.

import { JSON_HEADERS, errorOf } from "./http.js";
import { localTime, message } from "./render.js";

export class Messages {
  constructor({ list, newBelow, older, me, base }) {
    this.list = list;
    this.newBelow = newBelow;
    this.me = me;
    this.base = base;
    // Whether to keep the bottom in view. Only the reader scrolling up
    // clears it: content growing (a GIF loading) also leaves the bottom,
    // and its scroll event may come late, but it never moves scrollTop up.
    this.stick = true;
    this.lastTop = 0;
    list.querySelectorAll("time").forEach(localTime);
    this.follow();
    if (older) this.offerOlder(older);
    this.scrollDown();
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
      if (this.atBottom()) this.stick = true;
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
    this.newBelow.addEventListener("click", () => {
      this.stick = true;
      this.scrollDown();
    });
  }

  // Inserts in id order, once per id: history pages, POST answers and live
  // events may meet, and a message must never show twice. Returns whether
  // it added a row.
  insert(ev) {
    const list = this.list;
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
    const wasStuck = this.stick;
    if (!this.insert(ev)) return; // already shown from the POST answer
    if (wasStuck || (ev.user && ev.user.id === this.me)) this.scrollDown();
    else this.newBelow.hidden = false;
  }

  // The reader's own post, from the POST answer: shown at once.
  posted(ev) {
    this.insert(ev);
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
        if (!page.has_more) button.parentElement.hidden = true;
      } catch (_) {
        button.textContent = "Could not load older messages; try again";
      } finally {
        button.disabled = false;
      }
    });
  }
}
