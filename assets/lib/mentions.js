// @-mentions in the message box: "@" and the start of a name offer the
// present members (arrows move, Enter or Tab picks, Escape closes, a
// click picks); picking writes "@Label ". A post names whom it mentions
// by id: those picked, and present members written out in full, as long
// as their "@Label" is still in the text when it is sent.

import { badge, el, label } from "./render.js";

const MAX_SHOWN = 8;
// The most people one message may mention (the server's limit).
const MAX_MENTIONS = 20;

export class Mentions {
  // `page`: { me, members }.
  constructor(page) {
    this.page = page;
    this.input = document.getElementById("chat-input");
    this.list = document.getElementById("mention-list");
    this.picked = new Map(); // label -> user id, as picked from the list
    this.matches = []; // the users offered
    this.active = 0; // which of them Enter picks
    this.at = -1; // where the "@" being completed is in the text
    // The box and its list make a combobox for assistive technology.
    const input = this.input;
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.list.id);
    input.setAttribute("aria-expanded", "false");
    input.addEventListener("input", () => this.update());
    input.addEventListener("keydown", (e) => this.key(e));
    input.addEventListener("blur", () => this.close());
    // Clicking the list must not take the focus from the box first.
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const option = e.target.closest("li[data-index]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  // The "@partial" just before the caret, if the caret is in one: an "@"
  // at the start or after a space (not an address's), then no space.
  partial() {
    const input = this.input;
    if (input.selectionStart !== input.selectionEnd) return null;
    const before = input.value.slice(0, input.selectionStart);
    const found = /(?:^|\s)@([^\s@]*)$/.exec(before);
    if (!found) return null;
    return { at: before.length - found[1].length - 1, text: found[1].toLowerCase() };
  }

  // Present members but me whose label starts with `text`, then those
  // that contain it.
  candidates(text) {
    const starts = [];
    const contains = [];
    for (const user of this.page.members.users()) {
      if (user.id === this.page.me) continue;
      const name = label(user).toLowerCase();
      if (name.startsWith(text)) starts.push(user);
      else if (name.includes(text)) contains.push(user);
    }
    return [...starts, ...contains].slice(0, MAX_SHOWN);
  }

  update() {
    const partial = this.partial();
    const matches = partial ? this.candidates(partial.text) : [];
    if (!matches.length) return this.close();
    this.at = partial.at;
    this.matches = matches;
    this.active = 0;
    this.render();
  }

  render() {
    const options = this.matches.map((user, index) => {
      const option = el("li", "mention-option");
      option.id = "mention-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === this.active));
      option.dataset.index = index;
      option.append(badge(user));
      return option;
    });
    this.list.replaceChildren(...options);
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.input.setAttribute("aria-activedescendant", "mention-" + this.active);
    options[this.active].scrollIntoView({ block: "nearest" });
  }

  key(e) {
    if (this.list.hidden || e.isComposing) return;
    const count = this.matches.length;
    switch (e.key) {
      case "ArrowDown":
        this.active = (this.active + 1) % count;
        break;
      case "ArrowUp":
        this.active = (this.active - 1 + count) % count;
        break;
      case "Enter":
      case "Tab":
        // Not sent: Enter picks while the list is open.
        e.preventDefault();
        return this.pick(this.active);
      case "Escape":
        // Closes the list only (the composer's Escape hears it as done).
        e.preventDefault();
        return this.close();
      default:
        return;
    }
    e.preventDefault();
    this.render();
  }

  // Writes "@Label " over the "@partial", and remembers whom it names.
  pick(index) {
    const user = this.matches[index];
    if (!user) return;
    const name = label(user);
    const input = this.input;
    input.setRangeText("@" + name + " ", this.at, input.selectionStart, "end");
    this.picked.set(name, user.id);
    this.close();
    input.focus();
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.matches = [];
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  // The ids of the people `text` mentions.
  ids(text) {
    const ids = [];
    const add = (id) => { if (!ids.includes(id)) ids.push(id); };
    for (const [name, id] of this.picked) if (mentions(text, name)) add(id);
    for (const user of this.page.members.users()) {
      if (user.id !== this.page.me && mentions(text, label(user))) add(user.id);
    }
    return ids.slice(0, MAX_MENTIONS);
  }

  // The message went: a new one mentions anew.
  reset() {
    this.picked.clear();
    this.close();
  }
}

// Whether `text` has "@name" as a whole ("@Al" does not mention "Alice",
// nor "@Alice" "Al"), at its start or after a space; any case.
function mentions(text, name) {
  const haystack = text.toLowerCase();
  const needle = "@" + name.toLowerCase();
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    const before = at === 0 ? " " : haystack[at - 1];
    const after = haystack.charAt(at + needle.length);
    if (/\s/.test(before) && !/[\p{L}\p{N}_-]/u.test(after)) return true;
  }
  return false;
}
