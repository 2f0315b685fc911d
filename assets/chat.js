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
  const membersList = document.getElementById("members");
  const deleteButton = document.getElementById("delete-room");
  const chatArea = document.getElementById("chat-area");
  const dropZone = document.getElementById("drop-zone");
  const gifForm = document.getElementById("gif-form");
  const gifInput = document.getElementById("gif-input");
  const progress = document.getElementById("upload-progress");
  const whisperBox = document.getElementById("whisper-target");
  const whisperName = document.getElementById("whisper-name");
  const whisperCancel = document.getElementById("whisper-cancel");
  const JSON_HEADERS = { Accept: "application/json" };
  const POST_JSON = { ...JSON_HEADERS, "Content-Type": "application/json" };

  let lastId = Number(room.dataset.cursor) || 0;
  let stopped = false; // kicked, room gone, or refused: no more transports
  let source = null; // the EventSource, from its opening
  let streaming = false; // the EventSource has proved itself and is in use
  let polling = false;
  let pollAbort = null; // aborts the poll in flight
  let snapshot = null; // the latest members snapshot
  let whisperTarget = null; // the user the form whispers to, or null
  let uploading = false;

  // ---- rendering -------------------------------------------------------

  const { el, label, badge } = window.gifchat; // from site.js

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
          // The size reserves the GIF's space before it loads.
          img.width = ev.gif_info.width;
          img.height = ev.gif_info.height;
          img.style.width = displayWidth(ev.gif_info) + "px";
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

  // `views::room::display_width()`: fits a 320 px square, and tiny GIFs
  // grow to about 96 px (at most 4×); the height follows the aspect ratio.
  function displayWidth(info) {
    const w = Math.max(info.width, 1);
    const h = Math.max(info.height, 1);
    const grow = Math.min(Math.max(96 / Math.max(w, h), 1), 4);
    const scale = Math.min(320 / w, 320 / h, grow);
    return Math.max(Math.round(w * scale), 1);
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

  // ---- members, whispers and the owner's controls -------------------------

  const isOwner = () => !stopped && room.dataset.owner === me;

  function actionButton(className, text, ariaLabel) {
    const button = el("button", className, text);
    button.type = "button";
    button.setAttribute("aria-label", ariaLabel);
    return button;
  }

  // `views::room::member()`, node for node: keep the two in step.
  function member(user, ownerId) {
    const li = el("li", "member" + (user.id === me ? " you" : ""));
    li.dataset.user = user.id;
    const name = el("span", "member-name");
    name.append(badge(user));
    if (user.id === ownerId) {
      const star = el("span", "owner-mark", "★");
      star.title = "Owner";
      star.setAttribute("role", "img");
      star.setAttribute("aria-label", "owner");
      name.append(" ", star);
    }
    if (user.id === me) name.append(" ", el("span", "you-mark", "(you)"));
    li.append(name);
    if (user.id !== me) {
      const actions = el("span", "member-actions");
      const who = label(user);
      actions.append(actionButton("whisper-to", "Whisper", "Whisper to " + who));
      if (ownerId === me) {
        actions.append(
          actionButton("make-owner", "Make owner", "Make owner: " + who),
          actionButton("kick danger", "Kick", "Kick " + who),
        );
      }
      li.append(actions);
    }
    if (whisperTarget && user.id === whisperTarget.id) li.classList.add("targeted");
    return li;
  }

  function showMembers(next) {
    snapshot = next;
    room.dataset.owner = next.owner.id;
    deleteButton.hidden = !isOwner();
    document.getElementById("member-count").textContent = next.count + " / " + next.max;
    // A keyboard user's focus survives the re-rendering.
    const focused = document.activeElement;
    const focusedLi = focused && membersList.contains(focused) ? focused.closest("li[data-user]") : null;
    const refocus = focusedLi && { user: focusedLi.dataset.user, className: focused.classList[0] };
    const items = next.members.map((user) => member(user, next.owner.id));
    const unlisted = next.count - next.members.length;
    if (unlisted > 0) items.push(el("li", "more", "and " + unlisted + " more"));
    membersList.replaceChildren(...items);
    if (refocus) {
      const li = items.find((item) => item.dataset.user === refocus.user);
      const again = li && li.querySelector("button." + refocus.className);
      if (again) again.focus();
    }
    followTarget();
  }

  // The member behind a row: from the snapshot, or (before the first one)
  // from the server-rendered row.
  function userOf(li) {
    const id = li.dataset.user;
    const known = snapshot && snapshot.members.find((user) => user.id === id);
    if (known) return known;
    const who = li.querySelector(".who");
    return { id, color: who.title, color_dark: who.dataset.colorDark, name: who.textContent };
  }

  // The whisper target leaves with its user (the list is complete unless the
  // room is huge: then the server says so on the next post), and follows
  // its renames.
  function followTarget() {
    if (!whisperTarget || !snapshot) return;
    const now = snapshot.members.find((user) => user.id === whisperTarget.id);
    if (now) {
      if (label(now) !== label(whisperTarget)) setWhisperTarget(now, false);
    } else if (snapshot.members.length >= snapshot.count) {
      const gone = label(whisperTarget);
      clearWhisperTarget(false);
      showFormError(gone + " left the room: your next message goes to everyone.");
    }
  }

  function setWhisperTarget(user, focus = true) {
    whisperTarget = user;
    whisperName.replaceChildren(badge(user));
    whisperBox.hidden = false;
    form.classList.add("whispering");
    input.placeholder = "Whisper to " + label(user) + "…";
    for (const li of membersList.querySelectorAll("li[data-user]")) {
      li.classList.toggle("targeted", li.dataset.user === user.id);
    }
    if (focus) input.focus();
  }

  function clearWhisperTarget(focus = true) {
    if (!whisperTarget) return;
    whisperTarget = null;
    whisperBox.hidden = true;
    whisperName.replaceChildren();
    form.classList.remove("whispering");
    input.placeholder = "Say something…";
    for (const li of membersList.querySelectorAll("li.targeted")) li.classList.remove("targeted");
    if (focus && !stopped) input.focus();
  }

  whisperCancel.addEventListener("click", () => clearWhisperTarget());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && whisperTarget && !e.defaultPrevented) {
      e.preventDefault();
      clearWhisperTarget();
    }
  });

  // POST a JSON body; resolves to the answer's JSON, or throws an Error
  // whose message is the server's.
  async function postJson(path, body) {
    let response;
    try {
      response = await fetch(base + path, { method: "POST", headers: POST_JSON, body: JSON.stringify(body) });
    } catch (_) {
      throw new Error("Could not reach the server; nothing was changed.");
    }
    if (!response.ok) throw new Error(await errorOf(response));
    return response.json();
  }

  // A stored event from a POST answer: shown at once, in id order; lastId is
  // not advanced here, so an older event still on its way through the
  // stream is not skipped.
  function showPosted(ev) {
    insert(ev);
    stick = true;
    scrollDown();
  }

  membersList.addEventListener("click", async (e) => {
    const button = e.target.closest("button");
    const li = button && button.closest("li[data-user]");
    if (!li || stopped) return;
    const user = userOf(li);
    if (button.classList.contains("whisper-to")) return setWhisperTarget(user);
    const kick = button.classList.contains("kick");
    if (!kick && !button.classList.contains("make-owner")) return;
    if (kick && !confirm("Kick " + label(user) + " out of this room? They will not be able to come back.")) return;
    button.disabled = true;
    try {
      const stored = await postJson(kick ? "/kick" : "/owner", { user: user.id });
      showFormError("");
      showPosted(stored);
      // The next snapshot says the same; show it now.
      if (!kick && snapshot) showMembers({ ...snapshot, owner: user });
    } catch (err) {
      showFormError(err.message);
      button.disabled = false;
    }
  });

  deleteButton.addEventListener("click", async () => {
    const title = document.getElementById("room-title").textContent;
    if (!confirm("Delete “" + title + "” with all its messages and GIFs, for everyone?")) return;
    deleteButton.disabled = true;
    let response;
    try {
      response = await fetch(base, { method: "DELETE", headers: JSON_HEADERS });
    } catch (_) {
      showFormError("Could not reach the server; the room was not deleted.");
      deleteButton.disabled = false;
      return;
    }
    if (!response.ok) {
      showFormError(await errorOf(response));
      deleteButton.disabled = false;
      return;
    }
    stopTransports();
    location.assign("/");
  });

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
    clearWhisperTarget(false);
    room.classList.add("ended");
    deleteButton.hidden = true;
    for (const control of [...form.elements, ...gifForm.elements]) control.disabled = true;
    chatArea.classList.remove("dragging");
    dropZone.hidden = true;
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

  // How long a 429 or 503 asks to wait (with a little jitter, so that many
  // clients refused together do not come back together), or 0.
  function retryAfter(response) {
    if (response.status !== 429 && response.status !== 503) return 0;
    const seconds = parseInt(response.headers.get("Retry-After"), 10);
    return seconds > 0 ? seconds * 1000 + Math.random() * 1000 : 0;
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
          const why = response.status === 404 ? "This room no longer exists." : await errorOf(response);
          return end(why, true);
        }
        if (!response.ok) {
          // Refused for load (too many connections from this address, a
          // busy server): ask again when the server says, not sooner.
          const wait = retryAfter(response);
          if (!wait) throw new Error("poll: HTTP " + response.status);
          setState("offline");
          await sleep(wait);
          continue;
        }
        const answer = await response.json();
        for (const ev of answer.events) {
          handle(ev.type, ev); // poll answers carry no event name: every element says its type
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

  // After a refused stream, the next try waits this long (doubling, up to
  // a minute); a stream that works resets it.
  const FIRST_RETRY_MS = 5000;
  let upgradeRetry = FIRST_RETRY_MS;

  function upgrade() {
    const es = new EventSource(base + "/events?last_event_id=" + lastId);
    source = es;
    const probe = setTimeout(() => fallBack(es, false), PROBE_TIMEOUT_MS);
    for (const type of SSE_TYPES) {
      es.addEventListener(type, (e) => {
        if (source !== es) return;
        if (!streaming) {
          // The stream works: it takes over from the poll, which it
          // overlaps (both started at or before lastId).
          clearTimeout(probe);
          streaming = true;
          upgradeRetry = FIRST_RETRY_MS;
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
        return fallBack(es, true);
      }
      // Established and dropped: the browser reconnects by itself and
      // sends Last-Event-ID, so the stream resumes where it stopped.
      setState("offline", "reconnecting…");
    };
  }

  // The stream never showed anything (a buffering proxy), or was refused
  // (an HTTP error, such as 429 when this address holds too many
  // connections, or a server restarting): polling carries on, or takes
  // over again from lastId. A refused stream is tried again later, so the
  // page goes back to streaming by itself once the server lets it.
  function fallBack(es, refused) {
    es.close();
    if (source !== es) return;
    source = null;
    streaming = false;
    if (polling) setState("polling");
    else poll();
    if (refused) {
      setTimeout(() => { if (!stopped && !source) upgrade(); }, upgradeRetry + Math.random() * 1000);
      upgradeRetry = Math.min(upgradeRetry * 2, 60000);
    }
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

  // Every post carries a client_id of its own: sending it again (the
  // connection broke before the answer came, or the server was briefly
  // unavailable) stores nothing new, and the answer is the event stored
  // the first time, which the list shows once.
  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The text being sent and its client_id, kept until it is stored, so that
  // sending the same text again is a retry, not a second message.
  let draft = null;

  // Posts `body` as JSON, trying again (same body, so same client_id) when
  // the connection breaks or the server asks to wait; the last answer, or
  // null when the server could not be reached.
  async function postWithRetries(url, body) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(url, { method: "POST", headers: POST_JSON, body: JSON.stringify(body) });
        const wait = retryAfter(response);
        if (!wait || attempt >= 2) return response;
        await sleep(Math.min(wait, 5000));
      } catch (_) {
        if (attempt >= 2 || stopped) return null;
        await sleep(1000 * (attempt + 1));
      }
    }
  }

  // Plain messages go to /messages; with a whisper target set, to /whispers.
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // The server trims and checks the length, and says what is wrong.
    const chat = input.value;
    const target = whisperTarget;
    const key = (target ? target.id : "") + "\n" + chat;
    if (!draft || draft.key !== key) draft = { key, clientId: newClientId() };
    const body = target ? { to: target.id, chat, client_id: draft.clientId } : { chat, client_id: draft.clientId };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await postWithRetries(base + (target ? "/whispers" : "/messages"), body);
      if (!response) {
        showFormError("Could not reach the server; your message was not sent. Send it again to retry.");
        return;
      }
      if (!response.ok) {
        // The typed text stays, so nothing is lost to a refusal.
        showFormError(await errorOf(response));
        return;
      }
      showPosted(await response.json());
      draft = null;
      input.value = "";
      showFormError("");
    } catch (_) {
      showFormError("Could not reach the server; your message was not sent. Send it again to retry.");
    } finally {
      if (!stopped) button.disabled = false;
      if (!stopped) input.focus();
    }
  });

  // ---- GIF uploads: the file picker, drag and drop, paste ---------------------

  const KIND_NAMES = { "image/png": "a PNG", "image/jpeg": "a JPEG", "image/webp": "a WebP", "image/avif": "an AVIF" };

  // What the server's refusal means, in words for people.
  function uploadError(status, message) {
    let detail = message ? message.charAt(0).toUpperCase() + message.slice(1) : "";
    if (detail && !/[.!?]$/.test(detail)) detail += ".";
    switch (status) {
      case 413: return "That file is too large. " + (detail || "Pick a smaller GIF.");
      case 415: return "That file is not a GIF. " + (detail || "Only GIF images can be posted.");
      case 422: return detail || "That GIF could not be read: it seems damaged.";
      case 429: return "Slow down a little. " + (detail || "Too many posts.");
      default: return detail || "The upload failed (error " + status + ").";
    }
  }

  // "812 KiB", "5 MiB": sizes as the server's limit is written.
  function sizeText(bytes) {
    if (bytes >= 1024 * 1024) return +(bytes / (1024 * 1024)).toFixed(1) + " MiB";
    if (bytes >= 1024) return Math.ceil(bytes / 1024) + " KiB";
    return bytes + " bytes";
  }

  // Sends one file with XMLHttpRequest, which reports upload progress.
  function uploadGif(file) {
    if (stopped) return;
    if (uploading) return showFormError("One GIF at a time: wait for the upload in progress.");
    // Files whose type is known and is not GIF are not worth sending; the
    // server checks the bytes of everything else.
    if (file.type && file.type !== "image/gif") {
      const kind = KIND_NAMES[file.type] || "not a GIF";
      return showFormError("“" + (file.name || "That file") + "” is " + kind + ": only GIF images can be posted.");
    }
    // The server refuses a file over its limit as soon as it knows the
    // size, and a browser still sending may then see only a broken
    // connection: say it before sending anything.
    const max = Number(gifForm.dataset.maxUpload);
    if (max && file.size > max) {
      return showFormError("“" + (file.name || "That GIF") + "” is " + sizeText(file.size) +
        ": GIFs can be at most " + sizeText(max) + ".");
    }
    uploading = true;
    gifInput.disabled = true;
    showFormError("");
    progress.value = 0;
    progress.hidden = false;
    const data = new FormData();
    // Before the file: the server reads it on the way to the GIF.
    data.append("client_id", newClientId());
    data.append("gif", file, file.name || "pasted.gif");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", base + "/gifs");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    };
    // Sent: the server still checks and stores it.
    xhr.upload.onload = () => progress.removeAttribute("value");
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if ((xhr.status === 201 || xhr.status === 200) && body) return showPosted(body);
      showFormError(uploadError(xhr.status, body && body.message));
    };
    xhr.onerror = () => {
      showFormError("The upload failed: the connection broke. If the GIF is large, try a smaller one.");
    };
    xhr.onloadend = () => {
      uploading = false;
      progress.hidden = true;
      gifForm.reset();
      if (!stopped) gifInput.disabled = false;
    };
    xhr.send(data);
  }

  // Choosing a file uploads it at once: the submit button is for pages
  // without JavaScript.
  document.getElementById("gif-submit").hidden = true;
  gifInput.addEventListener("change", () => {
    if (gifInput.files.length) uploadGif(gifInput.files[0]);
  });
  gifForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (gifInput.files.length) uploadGif(gifInput.files[0]);
  });

  // Dropping a file on the chat posts it. The highlight counts enter/leave
  // pairs, because they fire for every child crossed.
  const carriesFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
  let dragDepth = 0;
  function setDragging(on) {
    chatArea.classList.toggle("dragging", on);
    dropZone.hidden = !on;
  }
  chatArea.addEventListener("dragenter", (e) => {
    if (!carriesFiles(e) || stopped) return;
    e.preventDefault();
    dragDepth += 1;
    setDragging(true);
  });
  chatArea.addEventListener("dragover", (e) => {
    if (!carriesFiles(e) || stopped) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  chatArea.addEventListener("dragleave", (e) => {
    if (!carriesFiles(e)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) setDragging(false);
  });
  chatArea.addEventListener("drop", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    dragDepth = 0;
    setDragging(false);
    const files = Array.from(e.dataTransfer.files);
    const file = files.find((f) => f.type === "image/gif") || files[0];
    if (file) uploadGif(file);
  });
  // A file dropped beside the chat must not replace the page with itself.
  window.addEventListener("dragover", (e) => {
    if (carriesFiles(e) && !chatArea.contains(e.target)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "none";
    }
  });
  window.addEventListener("drop", (e) => {
    if (carriesFiles(e) && !chatArea.contains(e.target)) e.preventDefault();
  });

  // Pasting a file posts it if it is a GIF. Browsers copy images out of web
  // pages as PNG, so say what to do instead. Pasted text is left alone.
  document.addEventListener("paste", (e) => {
    const files = e.clipboardData ? Array.from(e.clipboardData.files) : [];
    if (!files.length || stopped) return;
    e.preventDefault();
    const gif = files.find((f) => f.type === "image/gif");
    if (gif) return uploadGif(gif);
    const kind = KIND_NAMES[files[0].type] || "not a GIF";
    showFormError(
      "The pasted image is " + kind + ": only GIFs can be posted. " +
      "(Browsers copy images as PNG; save the GIF and drop or choose the file instead.)",
    );
  });

  // ---- start -----------------------------------------------------------------

  list.querySelectorAll("time").forEach(localTime);
  scrollDown();
  // Fold the members panel into one line on narrow screens.
  if (window.matchMedia("(max-width: 44rem)").matches) {
    document.getElementById("members-panel").open = false;
  }

  const forcePoll = new URLSearchParams(location.search).get("transport") === "poll";
  function connect() {
    poll();
    if (!forcePoll && window.EventSource) upgrade();
  }
  connect();

  // Leaving the page closes the transports at once, so the server sees the
  // visitor leave (a page kept in the back/forward cache would otherwise
  // hold its connections, and the visitor's presence, for a minute). Coming
  // back from that cache resumes from lastId.
  let suspended = false;
  window.addEventListener("pagehide", () => {
    if (stopped) return;
    suspended = true;
    stopTransports();
  });
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted || !suspended) return;
    suspended = false;
    stopped = false;
    setState("connecting");
    connect();
  });
})();
