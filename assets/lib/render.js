// Markup from one source: the page's `<template>`s, rendered by the same
// Rust functions that render history (`views::templates`), are cloned
// here and filled in. A template has every optional part; what an event
// or a user lacks is removed. User text only ever goes in as text.

// Where a template's attribute text names its specimen user.
const NAME_SLOT = "{name}";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

export function label(user) {
  return user.name || user.color;
}

function clone(id) {
  const template = document.getElementById(id);
  return template.content.firstElementChild.cloneNode(true);
}

// `views::user_badge()`: the user's label in the user's colors.
export function badge(user) {
  const span = clone("tpl-badge");
  span.textContent = label(user);
  span.style.setProperty("--c", user.color);
  span.style.setProperty("--c-dark", user.color_dark);
  span.title = user.color;
  span.dataset.colorDark = user.color_dark;
  if (user.id) span.dataset.user = user.id;
  return span;
}

// Fills `part` with `value`, or removes it when there is none.
function fill(part, value, set) {
  if (!part) return;
  if (value == null) part.remove();
  else set(part, value);
}

// The kinds of event people post: what reactions, replies, edits and
// deletes are about (`Kind::is_message`).
export const MESSAGE_TYPES = ["chat", "gif", "whisper"];

// `views::room::message()`.
export function message(ev, me) {
  const li = clone("tpl-message");
  const mine = ev.user != null && ev.user.id === me;
  const system = ev.type === "system";
  const isMessage = MESSAGE_TYPES.includes(ev.type);
  li.className = "msg msg-" + ev.type;
  li.classList.toggle("mine", mine);
  li.classList.toggle("mentions-me", !system && (ev.mentions || []).some((user) => user.id === me));
  li.classList.toggle("edited", !system && !!ev.edited);
  li.classList.toggle("deleted", !system && !!ev.deleted);
  li.id = "m" + ev.id;
  li.dataset.id = ev.id;
  fill(li.querySelector(":scope > a.reply"), system ? null : ev.reply, fillQuote);
  fill(li.querySelector(":scope > .who"), system ? null : ev.user, (part, user) => part.replaceWith(badge(user)));
  fill(li.querySelector(":scope > .to"), system ? null : ev.to, (part, to) => part.querySelector(".who").replaceWith(badge(to)));
  fill(li.querySelector(":scope > .tombstone"), !system && ev.deleted ? true : null, () => {});
  fill(li.querySelector(":scope > .text"), ev.chat, (part, text) => { part.textContent = text; });
  fill(li.querySelector(":scope > img.gif"), system ? null : ev.gif, (img, src) => {
    img.src = src;
    if (ev.gif_info) {
      img.width = ev.gif_info.width;
      img.height = ev.gif_info.height;
      img.style.width = displayWidth(ev.gif_info) + "px";
    } else {
      img.removeAttribute("width");
      img.removeAttribute("height");
      img.removeAttribute("style");
    }
  });
  if (system || !ev.edited) dropSpaced(li.querySelector(":scope > .edited-mark"));
  const time = li.querySelector(":scope > time");
  time.dateTime = ev.created_at;
  localTime(time);
  const reactions = li.querySelector(":scope > .reactions");
  if (isMessage) {
    reactions.replaceChildren(...(ev.reactions || []).map((r) => reactionButton(r.reaction, r.users, me)));
  } else {
    reactions.remove();
    li.querySelector(":scope > .msg-actions").remove();
  }
  return li;
}

// The quote of the message a reply answers (`views::room::reply_quote()`).
function fillQuote(link, quote) {
  link.href = "#m" + quote.id;
  link.dataset.replyTo = quote.id;
  const who = link.querySelector(".who");
  if (quote.user) who.replaceWith(badge(quote.user));
  else dropSpaced(who, "after");
  link.querySelector(".reply-text").textContent = quoteText(quote);
}

// What a quote says of the message it quotes.
export function quoteText(quote) {
  if (quote.deleted) return "deleted message";
  return quote.chat != null ? quote.chat : "GIF";
}

// A part of the message template, for parts a message gains after it is
// shown (the tombstone, the edit mark).
export function messagePart(selector) {
  return document.getElementById("tpl-message").content.querySelector(selector).cloneNode(true);
}

// `views::room::reactions()`: one reaction's button, for `users`.
export function reactionButton(reaction, users, me) {
  const button = messagePart("button.reaction");
  setReaction(button, reaction, users, me);
  return button;
}

// Who gave a reaction is kept on its button (`data-users`, the users as
// JSON), so that giving it again changes nothing; the count, the pressed
// state and the names follow from it.
export function setReaction(button, reaction, users, me) {
  button.dataset.reaction = reaction;
  button.dataset.users = JSON.stringify(users);
  button.querySelector(".emoji").textContent = reaction;
  button.querySelector(".count").textContent = users.length;
  button.setAttribute("aria-pressed", String(users.some((user) => user.id === me)));
  button.title = users.map(label).join(", ");
}

// The users of a reaction's button. A page rendered without `data-users`
// tells only the names and whether `me` is among them: the others get
// stand-in ids (applying a reaction twice may then count it twice).
export function reactionUsers(button, me) {
  try {
    const users = JSON.parse(button.dataset.users || "null");
    if (Array.isArray(users)) return users;
  } catch (_) { /* fall through */ }
  const names = button.title ? button.title.split(", ") : [];
  const count = Number(button.querySelector(".count").textContent) || names.length;
  const users = [];
  for (let i = 0; i < count; i += 1) users.push({ id: "?" + i, name: names[i] || "someone" });
  if (button.getAttribute("aria-pressed") === "true" && users.length) users[0].id = me;
  return users;
}

// The user a badge shows; `id` is undefined on pages whose badges do not
// carry it (`data-user`).
export function badgeUser(who) {
  return { id: who.dataset.user, color: who.title, color_dark: who.dataset.colorDark, name: who.textContent };
}

// Removes a part and the space the markup puts before it (or after it).
function dropSpaced(part, side = "before") {
  if (!part) return;
  const space = side === "before" ? part.previousSibling : part.nextSibling;
  if (space && space.nodeType === Node.TEXT_NODE && !space.textContent.trim()) space.remove();
  part.remove();
}

// `views::room::display_width()`: fits a 320 px square, and tiny GIFs grow
// to about 96 px (at most 4×); the height follows the aspect ratio.
function displayWidth(info) {
  const w = Math.max(info.width, 1);
  const h = Math.max(info.height, 1);
  const grow = Math.min(Math.max(96 / Math.max(w, h), 1), 4);
  const scale = Math.min(320 / w, 320 / h, grow);
  return Math.max(Math.round(w * scale), 1);
}

// Local HH:MM (the server renders UTC); the full date on hover.
export function localTime(time) {
  const date = new Date(time.dateTime);
  if (isNaN(date)) return;
  const pad = (n) => String(n).padStart(2, "0");
  time.textContent = pad(date.getHours()) + ":" + pad(date.getMinutes());
  time.title = date.toLocaleString();
}

// `views::room::member()`: as `me` sees `user` in a room `ownerId` owns.
export function member(user, me, ownerId) {
  const li = clone("tpl-member");
  const you = user.id === me;
  li.classList.toggle("you", you);
  li.dataset.user = user.id;
  li.querySelector(".who").replaceWith(badge(user));
  if (user.id !== ownerId) dropMark(li.querySelector(".owner-mark"));
  if (!you) dropMark(li.querySelector(".you-mark"));
  if (you) li.querySelector(".member-actions").remove();
  else if (ownerId !== me) li.querySelectorAll(".make-owner, .kick").forEach((b) => b.remove());
  for (const button of li.querySelectorAll("[aria-label]")) {
    button.setAttribute("aria-label", button.getAttribute("aria-label").replace(NAME_SLOT, label(user)));
  }
  return li;
}

// A mark after a name, and the space before it.
function dropMark(mark) {
  mark.previousSibling.remove();
  mark.remove();
}

// `views::lobby::room_row()`: with the viewer's unread count, when they
// have one (`unread` is absent without a session).
export function roomRow(room) {
  const tr = clone("tpl-room");
  tr.dataset.room = room.id;
  const link = tr.querySelector(".title a");
  link.textContent = room.title;
  link.href = "/rooms/" + encodeURIComponent(room.id);
  const unread = tr.querySelector(".title .unread");
  if (unread && room.unread > 0) unread.replaceChildren(String(room.unread), unread.querySelector(".visually-hidden"));
  else dropSpaced(unread);
  const kind = room.private ? "private" : "public";
  const tag = tr.querySelector(".type .tag");
  tag.className = "tag tag-" + kind;
  tag.textContent = kind;
  tr.querySelector(".count").textContent = room.members + " / " + room.max;
  tr.querySelector(".owner .who").replaceWith(badge(room.owner));
  return tr;
}
