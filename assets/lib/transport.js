// One connection to the server for the lobby and a set of rooms: the
// stream `GET /events?rooms=...` or, where EventSource fails, the
// long-poll `GET /poll?rooms=...`. It touches no DOM: what arrives goes to
// the handlers, and tabs.js shares one connection among a browser's tabs.
//
// As Socket.IO does it: long-poll from the cursor at once, and open an
// EventSource beside it. When the EventSource has proved itself (its first
// event arrived), the poll is aborted and the stream takes over; when
// EventSource is missing or fails first, polling goes on, and a refused
// stream is tried again later. `forcePoll` never opens a stream.
//
// Exactly once: `position` is the global id of the newest stored event
// delivered (the starting cursor at first). Both transports deliver the
// stored events of every listed room in id order from a cursor at or
// below it, so delivering only ids above it never skips one and never
// delivers one twice.

import { JSON_HEADERS, errorOf, retryAfter, sleep } from "./http.js";

// The named events of the stream (a poll answer's elements say their `type`).
export const EVENT_TYPES = [
  "chat", "gif", "whisper", "system", "reaction", "unreaction", "edit", "delete",
  "members", "typing", "kicked", "room-deleted",
  "rooms", "room-created", "room-updated", "room-activity", "read",
];

// A stream that shows nothing for this long (a buffering proxy, say) has
// failed its probe; the first event (`rooms`) normally comes at once.
const PROBE_TIMEOUT_MS = 10000;

// After a refused stream, the next try waits this long (doubling, up to a
// minute); a stream that works resets it.
const FIRST_RETRY_MS = 5000;

// Refusals that trying again will not cure: kicked (403), the room gone
// (404) or full (409).
const FINAL = [403, 404, 409];

const isStored = (body) => typeof body.id === "number";

export class Connection {
  // `rooms`: room ids (none: the lobby alone); `cursor`: the global id to
  // deliver stored events after. `handlers`: `event(kind, body)`,
  // `position(id)` (everything of the listed rooms up to `id` was
  // delivered), `state(name)` (connecting, live, polling, offline,
  // reconnecting) and `refused(room, status, message)` (the room is out).
  constructor({ rooms, cursor, forcePoll }, handlers) {
    this.rooms = [...rooms];
    this.position = cursor;
    this.forcePoll = forcePoll;
    this.handlers = handlers;
    this.stopped = false;
    this.source = null; // the EventSource, from its opening
    this.streaming = false; // the EventSource proved itself and is in use
    this.polling = false;
    this.pollAbort = null;
    this.pollFailing = false; // the poll waits to ask again after a failure
    this.version = ""; // the lobby version of the last poll answer
    this.upgradeRetry = FIRST_RETRY_MS;
  }

  start() {
    this.setState("connecting");
    this.poll();
    if (!this.forcePoll && globalThis.EventSource) this.upgrade();
  }

  stop() {
    this.stopped = true;
    this.stopPolling();
    if (this.source) this.source.close();
    this.source = null;
    this.streaming = false;
  }

  setState(name) {
    if (!this.stopped) this.handlers.state(name);
  }

  // Everything arriving goes through here, in order.
  deliver(kind, body) {
    if (this.stopped) return;
    if (isStored(body)) {
      if (this.position != null && body.id <= this.position) return;
      this.position = body.id;
      this.handlers.event(kind, body);
      this.handlers.position(this.position);
      return;
    }
    if ((kind === "kicked" || kind === "room-deleted") && body.room) this.forget(body.room);
    this.handlers.event(kind, body);
  }

  // A room that ended leaves the set (the server's feed drops it too).
  forget(room) {
    this.rooms = this.rooms.filter((id) => id !== room);
  }

  // `rooms=a,b&<cursor>=N` for the listed rooms and the position (the
  // stream calls its cursor `last_event_id`, the poll `after`); "" for the
  // lobby alone.
  roomsQuery(cursor) {
    if (!this.rooms.length) return "";
    const after = this.position != null ? "&" + cursor + "=" + this.position : "";
    return "rooms=" + this.rooms.map(encodeURIComponent).join(",") + after;
  }

  // ---- long-polling ----------------------------------------------------

  async poll() {
    if (this.polling || this.stopped) return;
    this.polling = true;
    if (!this.streaming) this.setState("polling");
    let delay = 1000;
    while (this.polling && !this.stopped) {
      this.pollAbort = new AbortController();
      try {
        const response = await fetch(this.pollUrl(), {
          headers: JSON_HEADERS,
          cache: "no-store",
          signal: this.pollAbort.signal,
        });
        if (FINAL.includes(response.status) && this.rooms.length) {
          await this.findRefused();
          continue;
        }
        if (!response.ok) {
          // Refused for load (too many connections from this address, a
          // busy server): ask again when the server says, not sooner.
          const wait = retryAfter(response);
          if (!wait) throw new Error("poll: HTTP " + response.status);
          this.pollFailed();
          await sleep(wait);
          continue;
        }
        const answer = await response.json();
        if (!this.polling || this.stopped) return;
        this.take(answer);
        this.pollFailing = false;
        if (this.polling && !this.streaming) this.setState("polling");
        delay = 1000;
      } catch (err) {
        if (err.name === "AbortError" || !this.polling) return;
        this.pollFailed();
        await sleep(delay);
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  pollUrl() {
    const rooms = this.roomsQuery("after");
    const version = this.version ? "&version=" + encodeURIComponent(this.version) : "";
    return "/poll?timeout=25" + (rooms ? "&" + rooms : "") + version;
  }

  // A poll answer: the lobby's (`{rooms, unread_through, version}`,
  // delivered as the stream's `rooms`) or one of rooms (`{events,
  // last_event_id, version}`), whose elements say their type (a changed
  // lobby comes as `rooms`, or as `unread` when only counts changed).
  take(answer) {
    if (answer.events) {
      for (const body of answer.events) {
        this.deliver(body.type, body);
        if (this.stopped) return;
      }
      if (this.position == null || answer.last_event_id > this.position) {
        this.position = answer.last_event_id;
        this.handlers.position(this.position);
      }
    } else if (answer.version !== this.version) {
      this.deliver("rooms", { rooms: answer.rooms, unread_through: answer.unread_through });
    }
    this.version = answer.version;
  }

  // A poll of all the rooms was refused for good: find which refuse
  // (HEAD says without entering any), say why, and go on with the rest.
  async findRefused() {
    for (const room of [...this.rooms]) {
      const query = "/poll?rooms=" + encodeURIComponent(room);
      const head = await fetch(query, { method: "HEAD", cache: "no-store" });
      if (!FINAL.includes(head.status)) continue;
      const refusal = await fetch(query + "&timeout=0", { headers: JSON_HEADERS, cache: "no-store" });
      const message = refusal.ok ? "" : await errorOf(refusal);
      this.forget(room);
      if (!this.stopped) this.handlers.refused(room, head.status, message);
    }
  }

  pollFailed() {
    this.pollFailing = true;
    this.setState("offline");
  }

  stopPolling() {
    this.polling = false;
    if (this.pollAbort) this.pollAbort.abort();
  }

  // ---- Server-Sent Events ------------------------------------------------

  upgrade() {
    const query = this.roomsQuery("last_event_id");
    const es = new EventSource("/events" + (query ? "?" + query : ""));
    this.source = es;
    const probe = setTimeout(() => this.fallBack(es, false), PROBE_TIMEOUT_MS);
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        if (this.source !== es) return;
        if (!this.streaming) {
          // The stream works: it takes over from the poll, which it
          // overlaps (both started at or before the position).
          clearTimeout(probe);
          this.streaming = true;
          this.upgradeRetry = FIRST_RETRY_MS;
          this.stopPolling();
          this.setState("live");
        }
        this.deliver(type, JSON.parse(e.data));
      });
    }
    es.onopen = () => { if (this.streaming) this.setState("live"); };
    es.onerror = () => {
      if (this.stopped || this.source !== es) return;
      if (!this.streaming || es.readyState === EventSource.CLOSED) {
        clearTimeout(probe);
        return this.fallBack(es, true);
      }
      // Established and dropped: the browser reconnects by itself and
      // sends Last-Event-ID, so the stream resumes where it stopped.
      this.setState("reconnecting");
    };
  }

  // The stream never showed anything (a buffering proxy), or was refused
  // (an HTTP error: 429 when this address holds too many connections, a
  // server restarting, a room that refuses): polling carries on, or takes
  // over again from the position, and finds any room that refuses. A
  // refused stream is tried again later, so the page goes back to
  // streaming by itself once the server lets it.
  fallBack(es, refused) {
    es.close();
    if (this.source !== es) return;
    this.source = null;
    this.streaming = false;
    if (this.polling) this.setState(this.pollFailing ? "offline" : "polling");
    else this.poll();
    if (refused) {
      const again = () => { if (!this.stopped && !this.source) this.upgrade(); };
      setTimeout(again, this.upgradeRetry + Math.random() * 1000);
      this.upgradeRetry = Math.min(this.upgradeRetry * 2, 60000);
    }
  }
}
