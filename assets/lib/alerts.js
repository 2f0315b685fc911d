// What a hidden tab tells its visitor: the number of new messages from
// others in its title, "(3) Room · gifchat", until it is seen again; and a
// browser notification for a message that mentions them or whispers to
// them. Each tab alerts for its own room only (it gets only its room's
// events), and a notification is tagged with its message, so two tabs of
// one room show it once.
//
// Permission to notify is asked once, the first time the visitor posts
// (a prompt on arrival, unasked for, is mostly refused), and only while
// the browser has not been told either way; that it was asked is
// remembered.

import { MESSAGE_TYPES, label } from "./render.js";

const ASKED = "gifchat-notifications-asked";

export class Alerts {
  // `page`: { me, show(id) }.
  constructor(page) {
    this.page = page;
    this.title = document.title;
    this.unread = 0;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.seen();
    });
  }

  // A live message (never one of history's).
  arrived(ev) {
    const me = this.page.me;
    if (!document.hidden || !ev.user || ev.user.id === me || !MESSAGE_TYPES.includes(ev.type)) return;
    this.unread += 1;
    document.title = "(" + this.unread + ") " + this.title;
    const forMe = (ev.to && ev.to.id === me) || (ev.mentions || []).some((user) => user.id === me);
    if (forMe) this.notify(ev);
  }

  seen() {
    this.unread = 0;
    document.title = this.title;
  }

  notify(ev) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const title = label(ev.user) + (ev.type === "whisper" ? " whispered to you" : " mentioned you");
    try {
      const notification = new Notification(title, {
        body: ev.chat != null ? ev.chat : "GIF",
        tag: "gifchat-" + ev.id,
      });
      notification.onclick = () => {
        window.focus();
        this.page.show(ev.id);
        notification.close();
      };
    } catch (_) {
      // Some browsers (Chrome on Android) notify from service workers only.
    }
  }

  // Asks for permission to notify, once ever; called as the visitor posts.
  offer() {
    if (!("Notification" in window) || Notification.permission !== "default") return;
    try {
      if (localStorage.getItem(ASKED)) return;
      localStorage.setItem(ASKED, "1");
    } catch (_) {
      return; // no storage: better never asked than asked on every post
    }
    // Older Safari takes a callback and returns nothing.
    const asked = Notification.requestPermission();
    if (asked && asked.catch) asked.catch(() => {});
  }
}
