// Search in the room: the head's form asks the server (`GET
// {base}/search?q=`), and the panel under the head lists what it found,
// newest first: each message as the list shows it (its buttons hidden:
// they act in the list only), and a link to it, which scrolls to it when
// it is on the page, or opens the room at it. Close or Escape hides the
// panel. Without JavaScript the form opens a page of results instead.

import { JSON_HEADERS, errorOf } from "./http.js";
import { el, message } from "./render.js";

// The newest this many results; the server allows up to 100.
const LIMIT = 50;

export class Search {
  // `page`: { me, base, show(id, options) }.
  constructor(page) {
    this.page = page;
    this.form = document.getElementById("search-form");
    this.input = document.getElementById("search-input");
    this.panel = document.getElementById("search-results");
    this.status = document.getElementById("search-status");
    this.list = document.getElementById("search-list");
    this.asking = null; // the AbortController of the search under way
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.search();
    });
    document.getElementById("search-close").addEventListener("click", () => this.close(true));
    this.list.addEventListener("click", (e) => this.clicked(e));
    // Escape in the panel or the form closes it; elsewhere, only when
    // nothing else took it (the composer undoes its reply, edit or
    // whisper first; it listens on the document before this does).
    const escape = (e) => {
      if (e.key !== "Escape" || e.defaultPrevented || this.panel.hidden) return;
      e.preventDefault();
      this.close(this.panel.contains(e.target) || this.form.contains(e.target));
    };
    this.panel.addEventListener("keydown", escape);
    this.form.addEventListener("keydown", escape);
    document.addEventListener("keydown", escape);
  }

  async search() {
    const q = this.input.value.trim();
    if (!q) return this.input.focus();
    // A newer search replaces one under way: its answer would be stale.
    if (this.asking) this.asking.abort();
    const asking = (this.asking = new AbortController());
    const current = () => this.asking === asking;
    this.open("Searching…");
    this.list.replaceChildren();
    let found;
    try {
      const url = this.page.base + "/search?q=" + encodeURIComponent(q) + "&limit=" + LIMIT;
      const response = await fetch(url, { headers: JSON_HEADERS, signal: asking.signal });
      if (!response.ok) {
        const error = await errorOf(response);
        if (current()) this.done(error);
        return;
      }
      found = (await response.json()).events || [];
    } catch (err) {
      if (current()) this.done(err.name === "AbortError" ? "" : "Could not reach the server; try again.");
      return;
    }
    if (!current()) return;
    this.list.replaceChildren(...found.map((ev) => this.result(ev)));
    this.done(summary(found.length, q));
  }

  open(status) {
    this.status.textContent = status;
    this.panel.hidden = false;
    this.panel.setAttribute("aria-busy", "true");
  }

  done(status) {
    this.asking = null;
    this.status.textContent = status;
    this.panel.removeAttribute("aria-busy");
  }

  // One result: the message, and a link to it (the no-script results
  // page's markup, `views::room::search_results()`).
  result(ev) {
    const row = message(ev, this.page.me);
    // The id belongs to the list's row: `#m<id>` links go there. And a
    // quote leads where "Go to message" does, from here.
    row.removeAttribute("id");
    for (const quote of row.querySelectorAll("a.reply")) quote.href = this.aroundUrl(quote.dataset.replyTo);
    const messages = el("ol", "messages");
    messages.append(row);
    const jump = el("a", "jump", "Go to message");
    jump.href = this.aroundUrl(ev.id);
    jump.dataset.id = ev.id;
    const li = el("li", "search-result");
    li.append(jump, messages);
    return li;
  }

  aroundUrl(id) {
    return this.page.base + "?around=" + encodeURIComponent(id) + "#m" + id;
  }

  // "Go to message", or a result's quote of the message it answers: on
  // the page, the panel closes and the list scrolls to it; otherwise the
  // link opens the room at it (so does a click meant for a new tab).
  clicked(e) {
    const link = e.target.closest("a.jump, a.reply");
    if (!link || !this.list.contains(link)) return;
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const id = link.dataset.id || link.dataset.replyTo;
    const row = id && document.getElementById("m" + id);
    if (!row || !row.closest("#messages")) return;
    e.preventDefault();
    const byKeyboard = e.detail === 0; // Enter on the link, not a click
    // Closed first: the list grows, and the message is centered in it.
    this.close(false);
    this.page.show(id, { focus: byKeyboard });
  }

  // `refocus`: the focus was in the panel, which it must not be lost with.
  close(refocus) {
    if (this.asking) this.asking.abort();
    this.asking = null;
    this.panel.hidden = true;
    this.panel.removeAttribute("aria-busy");
    if (refocus) this.input.focus();
  }
}

// What the status line says of `count` results for `q`.
function summary(count, q) {
  if (!count) return "Nothing found.";
  const messages = count === 1 ? "1 message" : count + " messages";
  return (count >= LIMIT ? "The newest " : "") + messages + " with “" + q + "”";
}
