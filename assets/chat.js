// The chat page: live messages, the members panel and the send form.
//
// Transport, as Socket.IO does it (DESIGN.md point 6): long-poll from the
// page's cursor at once, and open an EventSource beside it. When the
// EventSource has proved itself (its first event arrived), the poll is
// aborted and the stream takes over; when EventSource is missing or fails
// first, polling simply goes on. `?transport=poll` forces polling.
//
// Exactly once: `lastId` is the newest stored event shown. Both transports
// deliver stored events in id order from a cursor <= lastId, so accepting
// only ids > lastId never skips one and never shows one twice.
"use strict";

(() => {
  const room = document.getElementById("room");
  if (!room) return;

  const roomId = room.dataset.room;
  const me = room.dataset.me;
  const base = "/rooms/" + encodeURIComponent(roomId);
  const list = document.getElementById("messages");
  const connState = document.getElementById("conn-state");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const formError = document.getElementById("chat-error");
  const newBelow = document.getElementById("new-below");
  const notice = document.getElementById("room-notice");
  const JSON_HEADERS = { Accept: "application/json" };

  let lastId = Number(room.dataset.cursor) || 0;
  let stopped = false; // kicked, room gone, or refused: no more transports
  let source = null; // the EventSource, from its opening
  let streaming = false; // the EventSource has proved itself and is in use
  let polling = false;
  let pollAbort = null; // aborts the poll in flight

  // ---- rendering -------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function label(user) {
    return user.name || user.color;
  }

  // `views::user_badge()`: the user's label in the user's color.
  function badge(user) {
    const span = el("span", "who", label(user));
    span.style.color = user.color;
    span.title = user.color;
    return span;
  }

  // `views::room::message()`, node for node: keep the two in step.
  function message(ev) {
    const mine = ev.user != null && ev.user.id === me;
    const li = el("li", "msg msg-" + ev.type + (mine ? " mine" : ""));
    li.dataset.id = ev.id;
    if (ev.type === "system") {
      li.append(el("span", "text", ev.chat || ""));
    } else {
      if (ev.user) li.append(badge(ev.user));
      if (ev.to) {
        const to = el("span", "to", " → ");
        to.append(badge(ev.to));
        li.append(to);
      }
      if (ev.chat != null) li.append(el("span", "text", ev.chat));
      if (ev.gif != null) {
        const img = el("img", "gif");
        img.src = ev.gif;
        img.alt = "GIF";
        img.loading = "lazy";
        if (ev.gif_info) {
          img.width = ev.gif_info.width;
          img.height = ev.gif_info.height;
        }
        li.append(img);
      }
    }
    const time = el("time");
    time.dateTime = ev.created_at;
    li.append(time);
    localTime(time);
    return li;
  }

  // Local HH:MM (the server renders UTC); the full date on hover.
  function localTime(time) {
    const date = new Date(time.dateTime);
    if (isNaN(date)) return;
    const pad = (n) => String(n).padStart(2, "0");
    time.textContent = pad(date.getHours()) + ":" + pad(date.getMinutes());
    time.title = date.toLocaleString();
  }

  // Inserts in id order, once per id: history pages and live events may
  // meet in the middle, and a message must never show twice.
  // Returns whether it added a row.
  function insert(ev) {
    if (list.querySelector('li[data-id="' + ev.id + '"]')) return false;
    let after = list.lastElementChild;
    while (after && Number(after.dataset.id) > ev.id) after = after.previousElementSibling;
    const li = message(ev);
    if (after) after.after(li);
    else list.prepend(li);
    return true;
  }

  // ---- scrolling -------------------------------------------------------

  // Whether to keep the bottom in view. Only the reader scrolling up clears
  // it: content growing (a GIF loading) also leaves the bottom, and its
  // scroll event may come late, but it never moves scrollTop up.
  let stick = true;
  let lastTop = 0;

  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
    newBelow.hidden = true;
  }

  list.addEventListener("scroll", () => {
    if (atBottom()) stick = true;
    else if (list.scrollTop < lastTop) stick = false;
    lastTop = list.scrollTop;
    if (stick) newBelow.hidden = true;
  });
  // Keep the bottom in view when GIFs load (`load` does not bubble: listen
  // in the capture phase) and when the list shrinks (a notice, an error
  // line, a phone keyboard).
  list.addEventListener("load", () => { if (stick) scrollDown(); }, true);
  if (window.ResizeObserver) {
    new ResizeObserver(() => { if (stick) scrollDown(); }).observe(list);
  }
  newBelow.addEventListener("click", () => { stick = true; scrollDown(); });

  // ---- events ----------------------------------------------------------

  // Poll answers carry no SSE event name: every element says its `type`,
  // except the members snapshot (the same body as GET /members).
  function kindOf(ev) {
    if (ev.type) return ev.type;
    if ("members" in ev && "count" in ev) return "members";
    return null;
  }

  function handle(kind, ev) {
    switch (kind) {
      case "members": return showMembers(ev);
      case "kicked": return end("You were removed from this room.", true);
      case "room-deleted": return end("This room was deleted.", true);
    }
    if (typeof ev.id !== "number" || ev.id <= lastId) return;
    lastId = ev.id;
    const wasStuck = stick;
    if (!insert(ev)) return; // already shown from the POST answer
    if (wasStuck || (ev.user && ev.user.id === me)) scrollDown();
    else newBelow.hidden = false;
  }

  function showMembers(snapshot) {
    room.dataset.owner = snapshot.owner.id;
    document.getElementById("member-count").textContent = snapshot.count + " / " + snapshot.max;
    const ul = document.getElementById("members");
    const items = snapshot.members.map((user) => {
      const li = el("li");
      li.dataset.user = user.id;
      li.append(badge(user));
      if (user.id === snapshot.owner.id) {
        li.append(" ", el("span", "owner-mark", "★"));
        li.lastChild.title = "Owner";
      }
      return li;
    });
    const unlisted = snapshot.count - snapshot.members.length;
    if (unlisted > 0) items.push(el("li", "more", "and " + unlisted + " more"));
    ul.replaceChildren(...items);
  }

  // ---- connection state and the end of the road -------------------------

  const STATE_TEXT = {
    connecting: "connecting…",
    live: "live",
    polling: "live (polling)",
    offline: "offline, retrying…",
  };

  function setState(state, text) {
    connState.dataset.state = state;
    connState.textContent = text || STATE_TEXT[state];
  }

  function stopTransports() {
    stopped = true;
    polling = false;
    if (pollAbort) pollAbort.abort();
    if (source) source.close();
    source = null;
    streaming = false;
  }

  // Kicked, deleted, or refused: say so, stop listening, lock the form.
  function end(text, withLobbyLink) {
    stopTransports();
    setState("offline", "disconnected");
    notice.replaceChildren(el("span", null, text + " "));
    if (withLobbyLink) {
      const back = el("a", null, "Back to the lobby");
      back.href = "/";
      notice.append(back);
    }
    notice.hidden = false;
    for (const control of form.elements) control.disabled = true;
  }

  // ---- long-polling ------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.message) return body.message;
    } catch (_) { /* not JSON: fall through */ }
    return "Error " + response.status;
  }

  async function poll() {
    if (polling || stopped) return;
    polling = true;
    if (!streaming) setState("polling");
    let delay = 1000;
    while (polling && !stopped) {
      pollAbort = new AbortController();
      try {
        const response = await fetch(base + "/poll?timeout=25&after=" + lastId, {
          headers: JSON_HEADERS,
          cache: "no-store",
          signal: pollAbort.signal,
        });
        // Kicked (403), gone (404) or full (409): retrying will not help.
        if ([403, 404, 409].includes(response.status)) {
          return end(await errorOf(response), true);
        }
        if (!response.ok) throw new Error("poll: HTTP " + response.status);
        const answer = await response.json();
        for (const ev of answer.events) {
          handle(kindOf(ev), ev);
          if (stopped) return;
        }
        if (polling && !streaming) setState("polling");
        delay = 1000;
      } catch (err) {
        if (err.name === "AbortError" || !polling) return;
        setState("offline");
        await sleep(delay);
        delay = Math.min(delay * 2, 30000);
      }
    }
  }

  function stopPolling() {
    polling = false;
    if (pollAbort) pollAbort.abort();
  }

  // ---- Server-Sent Events -------------------------------------------------

  const SSE_TYPES = ["chat", "gif", "whisper", "system", "members", "kicked", "room-deleted"];

  // A stream that shows nothing for this long (a buffering proxy, say) has
  // failed its probe; the first event (`members`) normally comes at once.
  const PROBE_TIMEOUT_MS = 10000;

  function upgrade() {
    const es = new EventSource(base + "/events?last_event_id=" + lastId);
    source = es;
    const probe = setTimeout(() => fallBack(es), PROBE_TIMEOUT_MS);
    for (const type of SSE_TYPES) {
      es.addEventListener(type, (e) => {
        if (source !== es) return;
        if (!streaming) {
          // The stream works: it takes over from the poll, which it
          // overlaps (both started at or before lastId).
          clearTimeout(probe);
          streaming = true;
          stopPolling();
          setState("live");
        }
        handle(type, JSON.parse(e.data));
      });
    }
    es.onopen = () => { if (streaming) setState("live"); };
    es.onerror = () => {
      if (stopped || source !== es) return;
      if (!streaming || es.readyState === EventSource.CLOSED) {
        clearTimeout(probe);
        return fallBack(es);
      }
      // Established and dropped: the browser reconnects by itself and
      // sends Last-Event-ID, so the stream resumes where it stopped.
      setState("offline", "reconnecting…");
    };
  }

  // The stream never worked, or was refused for good (an HTTP error on
  // reconnect): polling carries on, or takes over again from lastId.
  function fallBack(es) {
    es.close();
    if (source !== es) return;
    source = null;
    streaming = false;
    if (polling) setState("polling");
    else poll();
  }

  // ---- history -------------------------------------------------------------

  const older = document.getElementById("load-older");
  if (older) {
    older.parentElement.hidden = false;
    older.addEventListener("click", async () => {
      const first = list.firstElementChild;
      const before = first ? first.dataset.id : lastId + 1;
      older.disabled = true;
      try {
        const response = await fetch(base + "/messages?limit=50&before=" + before, { headers: JSON_HEADERS });
        if (!response.ok) throw new Error(await errorOf(response));
        const page = await response.json();
        // Keep what the reader is looking at in place while rows go above.
        const fromBottom = list.scrollHeight - list.scrollTop;
        page.events.forEach(insert);
        list.scrollTop = list.scrollHeight - fromBottom;
        if (!page.has_more) older.parentElement.hidden = true;
      } catch (err) {
        older.textContent = "Could not load older messages; try again";
      } finally {
        older.disabled = false;
      }
    });
  }

  // ---- the send form --------------------------------------------------------

  function showFormError(text) {
    formError.textContent = text || "";
    formError.hidden = !text;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // The server trims and checks the length, and says what is wrong.
    const chat = input.value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(base + "/messages", {
        method: "POST",
        headers: { ...JSON_HEADERS, "Content-Type": "application/json" },
        body: JSON.stringify({ chat }),
      });
      if (!response.ok) {
        // The typed text stays, so nothing is lost to a refusal.
        showFormError(await errorOf(response));
        return;
      }
      // Shown at once, in id order; lastId is not advanced here, so an
      // older event still on its way through the stream is not skipped.
      insert(await response.json());
      scrollDown();
      input.value = "";
      showFormError("");
    } catch (_) {
      showFormError("Could not reach the server; your message was not sent.");
    } finally {
      if (!stopped) button.disabled = false;
      if (!stopped) input.focus();
    }
  });

  // ---- start -----------------------------------------------------------------

  list.querySelectorAll("time").forEach(localTime);
  scrollDown();
  // Fold the members panel into one line on narrow screens.
  if (window.matchMedia("(max-width: 44rem)").matches) {
    document.getElementById("members-panel").open = false;
  }

  const forcePoll = new URLSearchParams(location.search).get("transport") === "poll";
  poll();
  if (!forcePoll && window.EventSource) upgrade();
})();
