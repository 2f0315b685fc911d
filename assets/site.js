// Every page loads this script first (views::layout): it holds the DOM
// helpers the page scripts share, marks the page as scripted (CSS hides
// script-only controls under `html.no-js`) and sends the header's name form
// without a reload.
"use strict";

// Rendering helpers shared by the page scripts (chat.js, lobby.js), which
// run after this one. User text only ever goes in through textContent.
window.gifchat = {
  el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  },

  label(user) {
    return user.name || user.color;
  },

  // `views::user_badge()`: the user's label in the user's colors (the
  // stylesheet picks the theme's).
  badge(user) {
    const span = window.gifchat.el("span", "who", window.gifchat.label(user));
    span.style.setProperty("--c", user.color);
    span.style.setProperty("--c-dark", user.color_dark);
    span.title = user.color;
    span.dataset.colorDark = user.color_dark;
    return span;
  },
};

(() => {
  document.documentElement.classList.remove("no-js");

  const form = document.getElementById("name-form");
  if (!form) return;
  const input = document.getElementById("name-input");
  const error = document.getElementById("name-error");
  const button = form.querySelector("button[type=submit]");

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      const response = await fetch("/me", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ name: input.value }),
      });
      let body = null;
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      if (!response.ok) {
        showError((body && body.message) || "Could not set the name (error " + response.status + ").");
        return;
      }
      // Messages already sent keep the name they were sent with; the
      // members panel follows with the room's next snapshot.
      const label = body.name || body.color;
      document.querySelectorAll(".me-label").forEach((node) => { node.textContent = label; });
      input.placeholder = label;
      input.value = "";
      input.blur();
      showError("");
      document.dispatchEvent(new CustomEvent("gifchat:renamed", { detail: body }));
    } catch (_) {
      showError("Could not reach the server; the name was not changed.");
    } finally {
      button.disabled = false;
    }
  });
  input.addEventListener("input", () => showError(""));
})();
