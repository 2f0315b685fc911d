// GIF uploads: the file picker, drag and drop, and paste; progress, and
// the server's refusals in words for people.

import { newClientId } from "./http.js";

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

export class Uploads {
  // `page`: { base, ended(), say(text), posted(ev), composer }.
  constructor(page) {
    this.page = page;
    this.form = document.getElementById("gif-form");
    this.input = document.getElementById("gif-input");
    this.progress = document.getElementById("upload-progress");
    this.chatArea = document.getElementById("chat-area");
    this.dropZone = document.getElementById("drop-zone");
    this.uploading = false;
    // Choosing a file uploads it at once: the submit button is for pages
    // without JavaScript.
    document.getElementById("gif-submit").hidden = true;
    this.input.addEventListener("change", () => this.chosen());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.chosen();
    });
    this.dragAndDrop();
    this.paste();
  }

  chosen() {
    if (this.input.files.length) this.upload(this.input.files[0]);
  }

  // Sends one file with XMLHttpRequest, which reports upload progress.
  upload(file) {
    const page = this.page;
    if (page.ended()) return;
    if (this.uploading) return page.say("One GIF at a time: wait for the upload in progress.");
    // Files whose type is known and is not GIF are not worth sending; the
    // server checks the bytes of everything else.
    if (file.type && file.type !== "image/gif") {
      const kind = KIND_NAMES[file.type] || "not a GIF";
      return page.say("“" + (file.name || "That file") + "” is " + kind + ": only GIF images can be posted.");
    }
    // The server refuses a file over its limit as soon as it knows the
    // size, and a browser still sending may then see only a broken
    // connection: say it before sending anything.
    const max = Number(this.form.dataset.maxUpload);
    if (max && file.size > max) {
      return page.say("“" + (file.name || "That GIF") + "” is " + sizeText(file.size) +
        ": GIFs can be at most " + sizeText(max) + ".");
    }
    // A GIF answers the message the composer replies to, if any.
    let replyTo;
    try {
      replyTo = page.composer.replyForGif();
    } catch (err) {
      return page.say(err.message);
    }
    this.uploading = true;
    this.input.disabled = true;
    page.say("");
    const progress = this.progress;
    progress.value = 0;
    progress.hidden = false;
    const data = new FormData();
    // Before the file: the server reads it on the way to the GIF.
    data.append("client_id", newClientId());
    if (replyTo != null) data.append("reply_to", String(replyTo));
    data.append("gif", file, file.name || "pasted.gif");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", page.base + "/gifs");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    };
    // Sent: the server still checks and stores it.
    xhr.upload.onload = () => progress.removeAttribute("value");
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if ((xhr.status === 201 || xhr.status === 200) && body) {
        if (replyTo != null) page.composer.replied(replyTo);
        return page.posted(body);
      }
      page.say(uploadError(xhr.status, body && body.message));
    };
    xhr.onerror = () => {
      page.say("The upload failed: the connection broke. If the GIF is large, try a smaller one.");
    };
    xhr.onloadend = () => {
      this.uploading = false;
      progress.hidden = true;
      this.form.reset();
      if (!page.ended()) this.input.disabled = false;
    };
    xhr.send(data);
  }

  setDragging(on) {
    this.chatArea.classList.toggle("dragging", on);
    this.dropZone.hidden = !on;
  }

  // Dropping a file on the chat posts it. The highlight counts enter/leave
  // pairs, because they fire for every child crossed.
  dragAndDrop() {
    const area = this.chatArea;
    const carriesFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
    let depth = 0;
    area.addEventListener("dragenter", (e) => {
      if (!carriesFiles(e) || this.page.ended()) return;
      e.preventDefault();
      depth += 1;
      this.setDragging(true);
    });
    area.addEventListener("dragover", (e) => {
      if (!carriesFiles(e) || this.page.ended()) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    area.addEventListener("dragleave", (e) => {
      if (!carriesFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) this.setDragging(false);
    });
    area.addEventListener("drop", (e) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.setDragging(false);
      const files = Array.from(e.dataTransfer.files);
      const file = files.find((f) => f.type === "image/gif") || files[0];
      if (file) this.upload(file);
    });
    // A file dropped beside the chat must not replace the page with itself.
    window.addEventListener("dragover", (e) => {
      if (carriesFiles(e) && !area.contains(e.target)) {
        e.preventDefault();
        e.dataTransfer.dropEffect = "none";
      }
    });
    window.addEventListener("drop", (e) => {
      if (carriesFiles(e) && !area.contains(e.target)) e.preventDefault();
    });
  }

  // Pasting a file posts it if it is a GIF. Browsers copy images out of web
  // pages as PNG, so say what to do instead. Pasted text is left alone.
  paste() {
    document.addEventListener("paste", (e) => {
      const files = e.clipboardData ? Array.from(e.clipboardData.files) : [];
      if (!files.length || this.page.ended()) return;
      e.preventDefault();
      const gif = files.find((f) => f.type === "image/gif");
      if (gif) return this.upload(gif);
      const kind = KIND_NAMES[files[0].type] || "not a GIF";
      this.page.say(
        "The pasted image is " + kind + ": only GIFs can be posted. " +
        "(Browsers copy images as PNG; save the GIF and drop or choose the file instead.)",
      );
    });
  }

  // The room ended: no more dropping.
  end() {
    this.setDragging(false);
    for (const control of this.form.elements) control.disabled = true;
  }
}
