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
  return span;
}

// Fills `part` with `value`, or removes it when there is none.
function fill(part, value, set) {
  if (!part) return;
  if (value == null) part.remove();
  else set(part, value);
}

// `views::room::message()`.
export function message(ev, me) {
  const li = clone("tpl-message");
  const mine = ev.user != null && ev.user.id === me;
  li.className = "msg msg-" + ev.type + (mine ? " mine" : "");
  li.dataset.id = ev.id;
  const system = ev.type === "system";
  fill(li.querySelector(":scope > .who"), system ? null : ev.user, (part, user) => part.replaceWith(badge(user)));
  fill(li.querySelector(".to"), system ? null : ev.to, (part, to) => part.querySelector(".who").replaceWith(badge(to)));
  fill(li.querySelector(".text"), ev.chat, (part, text) => { part.textContent = text; });
  fill(li.querySelector("img.gif"), system ? null : ev.gif, (img, src) => {
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
  const time = li.querySelector("time");
  time.dateTime = ev.created_at;
  localTime(time);
  return li;
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

// `views::lobby::room_row()`.
export function roomRow(room) {
  const tr = clone("tpl-room");
  tr.dataset.room = room.id;
  const link = tr.querySelector(".title a");
  link.textContent = room.title;
  link.href = "/rooms/" + encodeURIComponent(room.id);
  const kind = room.private ? "private" : "public";
  const tag = tr.querySelector(".type .tag");
  tag.className = "tag tag-" + kind;
  tag.textContent = kind;
  tr.querySelector(".count").textContent = room.members + " / " + room.max;
  tr.querySelector(".owner .who").replaceWith(badge(room.owner));
  return tr;
}
