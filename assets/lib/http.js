// Talking to the server: JSON requests, its errors in words, its requests
// to wait, and the client_ids that make a repeated post harmless. No DOM.

export const JSON_HEADERS = { Accept: "application/json" };
const POST_JSON = { ...JSON_HEADERS, "Content-Type": "application/json" };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The server's message for a refusal (`{"error", "message"}`), or the status.
export async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.message) return body.message;
  } catch (_) { /* not JSON: fall through */ }
  return "Error " + response.status;
}

// How long a 429 or 503 asks to wait (with a little jitter, so that many
// clients refused together do not come back together), or 0.
export function retryAfter(response) {
  if (response.status !== 429 && response.status !== 503) return 0;
  const seconds = parseInt(response.headers.get("Retry-After"), 10);
  return seconds > 0 ? seconds * 1000 + Math.random() * 1000 : 0;
}

// Every post carries a client_id of its own: sending it again (the
// connection broke before the answer came, or the server was briefly
// unavailable) stores nothing new, and the answer is the event stored the
// first time.
export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// POSTs a JSON body; resolves to the answer's JSON, or throws an Error
// whose message is the server's.
export function postJson(url, body) {
  return requestJson("POST", url, body);
}

// A request with a JSON body (or none) whose answer is JSON: the changes
// to a message (PATCH, DELETE). Throws as postJson does.
export async function requestJson(method, url, body) {
  let response;
  try {
    const init = { method, headers: body === undefined ? JSON_HEADERS : POST_JSON };
    if (body !== undefined) init.body = JSON.stringify(body);
    response = await fetch(url, init);
  } catch (_) {
    throw new Error("Could not reach the server; nothing was changed.");
  }
  if (!response.ok) throw new Error(await errorOf(response));
  return response.json();
}

// POSTs `body` as JSON, trying again (the same body, so the same
// client_id) when the connection breaks or the server asks to wait; the
// last answer, or null when the server could not be reached.
export async function postWithRetries(url, body, gaveUp = () => false) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(url, { method: "POST", headers: POST_JSON, body: JSON.stringify(body) });
      const wait = retryAfter(response);
      if (!wait || attempt >= 2) return response;
      await sleep(Math.min(wait, 5000));
    } catch (_) {
      if (attempt >= 2 || gaveUp()) return null;
      await sleep(1000 * (attempt + 1));
    }
  }
}
