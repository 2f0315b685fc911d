// One connection per browser: the tabs of a browser share one Connection
// (transport.js), so that many open rooms hold one stream, not one each
// (HTTP/1.1 allows six connections per site, across all tabs). It touches
// no DOM.
//
// The tab that holds a Web Lock leads: it keeps the Connection for the
// lobby and every room some tab shows, and hands what arrives to every tab
// over a BroadcastChannel. When it closes, the lock passes to another tab,
// which asks every tab where it stands (`who`) and connects from the
// oldest position any of them has, so no tab misses or repeats an event.
// Without Web Locks (an old browser, or a page that is not a secure
// context) or with `forcePoll`, each tab keeps a Connection of its own.
//
// Exactly once, per tab: a tab shows a stored event of its room only while
// the leader's connection covers it (it started at or below the tab's
// position), and only above its position; `pos` messages move the
// position of covered tabs on, so a reconnection replays little.
//
// Messages, leader to tabs: `who`, `ping`, `covering` (a connection
// starts; it covers the tabs listed), `cover` (one newcomer is covered at
// once), `forgotten` (a tab dropped for silence, which must say `want`
// again), `event`, `pos`, `state`, `refused`. Tabs to the leader: `want`
// (room, position), `here` (answering `ping`), `bye`. A tab not covered
// says `want` again whenever it hears of a connection or a round.

import { LOBBY_KINDS, UNREAD_KINDS, nextList } from "./rooms.js";
import { Connection } from "./transport.js";

const CHANNEL = "gifchat-tabs";
const LOCK = "gifchat-connection";
// How long a new leader waits for tabs to say where they stand, and
// changes are gathered before reconnecting.
const SETTLE_MS = 100;
// How often the leader asks who is still there; a tab silent for a whole
// round has gone (closed without a word: crashed, killed).
const PING_MS = 15000;

const isStored = (body) => typeof body.id === "number";

// Subscribes this tab to `room` (null: the lobby) from `cursor` (the
// global id its page shows everything up to). `me`: the visitor's id (a
// leading tab keeps the lobby's unread counts, which leave out their own
// messages). `handlers`: `event(kind, body)` with what concerns the tab
// (its room's events, `refused` when the room will not have it; or the
// lobby's, unread counts included), `state(name)`. Returns `leave()`: the
// tab wants nothing more. `state` also says the tab's role: `leader`,
// `follower`, or `alone` (a connection of its own).
export function subscribe({ room, cursor, forcePoll, me }, handlers) {
  const tab = new Tab(room, cursor, me, handlers);
  const shared = !forcePoll && globalThis.navigator && navigator.locks && globalThis.BroadcastChannel;
  return shared ? share(tab) : alone(tab, forcePoll);
}

// This tab's side: what concerns it, once, in order.
class Tab {
  constructor(room, cursor, me, handlers) {
    this.id = Math.random().toString(36).slice(2) + Date.now().toString(36);
    this.room = room;
    this.me = me;
    this.position = room ? cursor : null;
    this.covered = false;
    this.left = false; // the page wants nothing more
    this.handlers = handlers;
  }

  // The lobby's news of unread counts names a room, but is the lobby's.
  concerns(kind, body) {
    if (UNREAD_KINDS.includes(kind)) return !this.room;
    if (this.room) return body.room === this.room;
    return LOBBY_KINDS.includes(kind) && body.room === undefined;
  }

  receive(kind, body) {
    if (!body || !this.concerns(kind, body)) return;
    if (isStored(body)) {
      if (!this.covered || body.id <= this.position) return;
      this.position = body.id;
    }
    this.handlers.event(kind, body);
  }

  advance(pos) {
    if (this.room && this.covered && pos > this.position) this.position = pos;
  }

  want() {
    return { t: "want", tab: this.id, room: this.room, cursor: this.position };
  }

  // The handlers are silenced: the page wants nothing more.
  mute() {
    this.handlers = { event() {}, state() {} };
  }
}

// A Connection of the tab's own.
function alone(tab, forcePoll) {
  tab.covered = true;
  const connection = new Connection(
    { rooms: tab.room ? [tab.room] : [], cursor: tab.position, forcePoll },
    {
      event: (kind, body) => tab.receive(kind, body),
      position: (pos) => tab.advance(pos),
      state: (name) => tab.handlers.state(name, "alone"),
      refused: (room, status, message) => tab.receive("refused", { room, status, message }),
    },
  );
  connection.start();
  const stop = () => connection.stop();
  addEventListener("pagehide", stop);
  return () => {
    removeEventListener("pagehide", stop);
    stop();
    tab.mute();
  };
}

// The shared Connection: follow the leader, and lead when the lock comes.
function share(tab) {
  const channel = new BroadcastChannel(CHANNEL);
  let leader = null;
  let release = null;
  let closed = false;
  const post = (message) => { if (!closed) channel.postMessage(message); };
  const role = () => (leader ? "leader" : "follower");

  // What the leader says, heard by every tab (the leader's own included).
  const hear = (message) => {
    switch (message.t) {
      case "covering":
        tab.covered = message.tabs.includes(tab.id);
        if (tab.covered) giveSnapshots(tab, message);
        else if (!leader && !tab.left) post(tab.want());
        break;
      case "cover":
        if (message.tab !== tab.id) break;
        tab.covered = true;
        giveSnapshots(tab, message);
        tab.handlers.state(message.state, role());
        break;
      case "event": tab.receive(message.kind, message.body); break;
      case "pos": tab.advance(message.pos); break;
      case "state": tab.handlers.state(message.state, role()); break;
      case "refused": tab.receive("refused", message.body); break;
      case "who": if (!leader && !tab.left) post(tab.want()); break;
      case "ping":
        if (!leader && !tab.left) post(tab.covered ? { t: "here", tab: tab.id } : tab.want());
        break;
      case "forgotten":
        if (message.tab !== tab.id || leader || tab.left) break;
        tab.covered = false;
        post(tab.want());
        break;
    }
  };
  channel.onmessage = ({ data }) => {
    if (leader && ["want", "here", "bye"].includes(data.t)) leader.hear(data);
    else if (!leader) hear(data);
  };

  post(tab.want());
  navigator.locks.request(LOCK, () => {
    if (closed) return null;
    leader = new Leader(tab, (message) => { post(message); hear(message); });
    leader.start();
    // Held until this tab closes.
    return new Promise((resolve) => { release = resolve; });
  });

  // Closing the tab: the stream goes, and the lock to the next leader.
  const close = () => {
    if (closed) return;
    if (leader) leader.stop();
    else post({ t: "bye", tab: tab.id });
    closed = true;
    channel.close();
    if (release) release();
  };
  addEventListener("pagehide", close);
  return () => {
    // The page is done (kicked, say) but the tab stays: it may lead on.
    tab.left = true;
    if (leader) leader.hear({ t: "bye", tab: tab.id });
    else post({ t: "bye", tab: tab.id });
    tab.mute();
  };
}

// The snapshots a covering message carries: the room's members, the lobby
// (its rooms, and `unreadThrough`, what their counts count through).
function giveSnapshots(tab, message) {
  if (tab.room && message.members && message.members[tab.room]) {
    tab.receive("members", message.members[tab.room]);
  }
  if (!tab.room && message.lobby) {
    tab.receive("rooms", { rooms: message.lobby, unread_through: message.unreadThrough });
  }
}

// The leading tab's side: the tabs and what they want, the Connection,
// and the latest snapshots (for tabs that come while it runs).
class Leader {
  constructor(self, say) {
    this.self = self;
    this.say = say;
    this.tabs = new Map(); // id -> { room, cursor, pending }
    this.heard = new Set();
    this.ended = new Set(); // rooms gone or refusing: never asked for again
    this.members = new Map(); // room -> the latest members snapshot
    this.lobby = null; // the latest room list, `{ rooms, unread_through }` (rooms.js)
    this.connection = null;
    this.state = "connecting";
    this.timer = null;
    this.pinger = null;
  }

  start() {
    const self = this.self;
    if (!self.left) this.tabs.set(self.id, { room: self.room, cursor: self.position, pending: true });
    this.say({ t: "who" });
    this.schedule();
    this.pinger = setInterval(() => this.ping(), PING_MS);
  }

  stop() {
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.connection) this.connection.stop();
  }

  hear(message) {
    switch (message.t) {
      case "want": return this.want(message);
      case "here":
        this.heard.add(message.tab);
        // Dropped for silence (frozen in the background, say): it must
        // say where it stands again before it is covered.
        if (!this.tabs.has(message.tab)) this.say({ t: "forgotten", tab: message.tab });
        return;
      case "bye": return this.bye(message.tab);
    }
  }

  // A tab says what it shows. If the running connection already carries
  // its room from at or below its position, it is covered at once (with
  // the snapshots so far); otherwise the connection starts again, from
  // its position.
  want({ tab, room, cursor }) {
    this.heard.add(tab);
    if (this.tabs.has(tab) || (room && this.ended.has(room))) return;
    const covered = this.connection != null && (room == null ||
      (this.connection.rooms.includes(room) && this.connection.position != null &&
        cursor >= this.connection.position));
    this.tabs.set(tab, { room, cursor, pending: !covered });
    if (!covered) return this.schedule();
    this.say({ t: "cover", tab, state: this.state, ...this.snapshots() });
  }

  bye(id) {
    const gone = this.tabs.get(id);
    if (!gone) return;
    this.tabs.delete(id);
    // The room is left when its last tab goes (the server's grace period
    // then runs as for any closed stream).
    if (gone.room && ![...this.tabs.values()].some((t) => t.room === gone.room)) this.schedule();
  }

  // Tabs that did not answer the last round have gone.
  ping() {
    for (const id of [...this.tabs.keys()]) {
      if (id !== this.self.id && !this.heard.has(id)) this.bye(id);
    }
    this.heard.clear();
    this.say({ t: "ping" });
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), SETTLE_MS);
  }

  // (Re)connects when the rooms wanted changed or a tab needs an older
  // position: from the oldest position of any tab not covered yet.
  connect() {
    const tabs = [...this.tabs.values()];
    const rooms = [...new Set(tabs.map((t) => t.room).filter((r) => r && !this.ended.has(r)))];
    const pending = tabs.filter((t) => t.pending);
    const current = this.connection;
    if (!tabs.length) {
      // Nobody wants anything: no stream, no presence.
      if (current) current.stop();
      this.connection = null;
      return;
    }
    if (current && !pending.length && sameSet(rooms, current.rooms)) return;
    let cursor = current ? current.position : null;
    for (const t of pending) {
      if (t.cursor != null && (cursor == null || t.cursor < cursor)) cursor = t.cursor;
    }
    if (current) current.stop();
    for (const t of tabs) t.pending = false;
    this.say({ t: "covering", tabs: [...this.tabs.keys()], ...this.snapshots() });
    this.connection = new Connection({ rooms, cursor, forcePoll: false }, {
      event: (kind, body) => {
        this.remember(kind, body);
        this.say({ t: "event", kind, body });
      },
      position: (pos) => this.say({ t: "pos", pos }),
      state: (state) => {
        this.state = state;
        this.say({ t: "state", state });
      },
      refused: (room, status, message) => {
        this.ended.add(room);
        this.say({ t: "refused", body: { room, status, message } });
      },
    });
    this.connection.start();
  }

  // The lobby goes as its rooms and their `unreadThrough` side by side
  // (tabs loaded before unread counts existed read `lobby` as the rooms).
  snapshots() {
    const lobby = this.lobby;
    return {
      members: Object.fromEntries(this.members),
      lobby: lobby && lobby.rooms,
      unreadThrough: lobby && lobby.unread_through,
    };
  }

  // Keeps the latest snapshots current, for tabs that come later.
  remember(kind, body) {
    if (kind === "members") this.members.set(body.room, body);
    else if ((kind === "kicked" || kind === "room-deleted") && body.room) {
      this.ended.add(body.room);
      this.members.delete(body.room);
    } else if (LOBBY_KINDS.includes(kind) || UNREAD_KINDS.includes(kind)) {
      this.lobby = nextList(this.lobby, kind, body, this.self.me);
    }
  }
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));
