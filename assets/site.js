// Every page loads this module first (views::layout): it marks the page as
// scripted (CSS hides script-only controls under `html.no-js`) and sends
// the header's name form without a reload.

document.documentElement.classList.remove("no-js");

const form = document.getElementById("name-form");
if (form) nameForm(form);

function nameForm(form) {
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
    } catch (_) {
      showError("Could not reach the server; the name was not changed.");
    } finally {
      button.disabled = false;
    }
  });
  input.addEventListener("input", () => showError(""));
}
