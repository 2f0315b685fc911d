//! `Browser`: one visitor's browser session, with the steps the tests take
//! on gifchat's pages (DOM contract: `src/views/`, `assets/*.js`). Every
//! wait polls the DOM until a condition holds: no fixed sleeps.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use fantoccini::{Locator, key::Key, wd::WindowHandle};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a wait polls the page before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A browser session (its own Chromium and profile, so its own cookies).
#[derive(Clone)]
pub struct Browser {
    pub label: String,
    pub client: fantoccini::Client,
    base: String,
    /// The profile outlives the session: the harness closes it first.
    _profile: Arc<TempDir>,
}

impl Browser {
    pub fn new(label: &str, client: fantoccini::Client, base: String, profile: TempDir) -> Self {
        Browser {
            label: label.to_owned(),
            client,
            base,
            _profile: Arc::new(profile),
        }
    }

    /// Runs `source` before the page's own scripts on every document this
    /// tab loads from now on, reloads included (through DevTools).
    pub async fn on_every_page(&self, source: &str) {
        let cdp = crate::harness::driver::Cdp {
            cmd: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({ "source": source }),
        };
        self.client
            .issue_cmd(cdp)
            .await
            .unwrap_or_else(|e| panic!("[{}] DevTools command failed: {e}", self.label));
    }

    /// Sets the visitor's display name (as the header's form does).
    pub async fn set_name(&self, name: &str) {
        let status = self
            .eval_with(
                "return fetch('/me', { method: 'POST',
                   headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
                   body: JSON.stringify({ name: arguments[0] }) }).then((r) => r.status);",
                vec![json!(name)],
            )
            .await;
        assert_eq!(status, 200, "[{}] naming", self.label);
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{}", self.base, path);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("[{}] could not open {url}: {e}", self.label));
    }

    pub async fn reload(&self) {
        self.client
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("[{}] could not reload: {e}", self.label));
    }

    /// Runs `script` (a function body: it must `return`) with `args`; a
    /// returned promise is awaited by the driver.
    pub async fn eval_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("[{}] script failed: {e}\n{script}", self.label))
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.eval_with(script, Vec::new()).await
    }

    /// Polls `script` until it returns something truthy, and returns that;
    /// fails the test after `WAIT`, saying what was awaited.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        self.until_within(WAIT, what, script).await
    }

    /// Waits until `script` answers `expected` (which may be falsy: an
    /// empty text, zero).
    pub async fn until_equal(&self, what: &str, script: &str, expected: impl Into<Value>) {
        let expected = expected.into();
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.client.execute(script, Vec::new()).await;
            match value {
                Ok(value) if value == expected => return,
                Ok(value) if Instant::now() >= deadline => panic!(
                    "[{}] waited {WAIT:?} for {what} ({expected}); the last answer was {value}",
                    self.label
                ),
                Err(e) if Instant::now() >= deadline => panic!(
                    "[{}] waited {WAIT:?} for {what}; the last script failed: {e}",
                    self.label
                ),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn until_within(&self, wait: Duration, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            // A navigation in progress can make a script fail: try again.
            let value = self.client.execute(script, Vec::new()).await;
            match value {
                Ok(value) if truthy(&value) => return value,
                Ok(value) if Instant::now() >= deadline => panic!(
                    "[{}] waited {wait:?} for {what}; the last answer was {value}",
                    self.label
                ),
                Err(e) if Instant::now() >= deadline => panic!(
                    "[{}] waited {wait:?} for {what}; the last script failed: {e}",
                    self.label
                ),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    // ---- tabs ---------------------------------------------------------------

    /// Opens a new tab of this browser (same profile) at `path` and
    /// switches to it; returns its handle.
    pub async fn open_tab(&self, path: &str) -> WindowHandle {
        let tab = self
            .client
            .new_window(true)
            .await
            .unwrap_or_else(|e| panic!("[{}] could not open a tab: {e}", self.label));
        self.switch_to(&tab.handle).await;
        self.goto(path).await;
        tab.handle
    }

    /// The tab this browser's commands go to from now on.
    pub async fn switch_to(&self, tab: &WindowHandle) {
        self.client
            .switch_to_window(tab.clone())
            .await
            .unwrap_or_else(|e| panic!("[{}] could not switch tabs: {e}", self.label));
    }

    /// The tab commands go to now.
    pub async fn current_tab(&self) -> WindowHandle {
        self.client
            .window()
            .await
            .unwrap_or_else(|e| panic!("[{}] no current tab: {e}", self.label))
    }

    /// Closes the current tab; switch to another before the next command.
    pub async fn close_tab(&self) {
        self.client
            .close_window()
            .await
            .unwrap_or_else(|e| panic!("[{}] could not close the tab: {e}", self.label));
    }

    /// The chat page's role in the browser's shared connection: `leader`,
    /// `follower`, or `alone`.
    pub async fn tab_role(&self) -> String {
        let role = self
            .eval("const s = document.querySelector('#conn-state'); return s && s.dataset.role;")
            .await;
        role.as_str().unwrap_or("").to_owned()
    }

    // ---- pages --------------------------------------------------------------

    /// Creates a room through the form and waits for its chat page; returns
    /// the room's id.
    pub async fn create_room(&self, title: &str, password: Option<&str>) -> String {
        self.goto("/rooms/new").await;
        self.type_into("#title", title).await;
        let max = self.find("#max").await;
        max.clear().await.expect("clear #max");
        max.send_keys("10").await.expect("type into #max");
        if let Some(password) = password {
            self.type_into("#password", password).await;
        }
        self.click(r#"form[action="/rooms"] button[type=submit]"#)
            .await;
        let id = self
            .until(
                "the new room's chat page",
                "const room = document.querySelector('section#room'); return room && room.dataset.room;",
            )
            .await;
        id.as_str().expect("data-room").to_owned()
    }

    /// Waits until the chat page's connection state is `state`.
    pub async fn wait_state(&self, state: &str) {
        let script = format!(
            "const s = document.querySelector('#conn-state'); return s && s.dataset.state === {};",
            json!(state)
        );
        self.until(&format!("#conn-state[data-state={state}]"), &script)
            .await;
    }

    pub async fn conn_state(&self) -> String {
        let state = self
            .eval("const s = document.querySelector('#conn-state'); return s && s.dataset.state;")
            .await;
        state.as_str().unwrap_or("").to_owned()
    }

    /// Types `text` into the chat box and presses Enter, then waits until
    /// the post was answered (the box is cleared) and the message is shown.
    pub async fn say(&self, text: &str) {
        let input = self.find("#chat-input").await;
        input
            .send_keys(&format!("{text}{}", char::from(Key::Enter)))
            .await
            .unwrap_or_else(|e| panic!("[{}] could not type: {e}", self.label));
        self.until(
            &format!("the chat box to clear after sending {text:?}"),
            "const error = document.querySelector('#chat-error');
             if (error && !error.hidden && error.textContent) throw new Error(error.textContent);
             return document.querySelector('#chat-input').value === '';",
        )
        .await;
        self.wait_chat(text).await;
    }

    /// Waits until a chat message with exactly `text` is shown; returns its
    /// id.
    pub async fn wait_chat(&self, text: &str) -> i64 {
        let script = format!(
            "const want = {};
             const li = [...document.querySelectorAll('#messages li.msg-chat')]
               .find((li) => li.querySelector('.text')?.textContent === want);
             return li ? Number(li.dataset.id) : null;",
            json!(text)
        );
        let id = self.until(&format!("the message {text:?}"), &script).await;
        id.as_i64().expect("numeric data-id")
    }

    /// The texts of the chat messages shown, top to bottom.
    pub async fn chat_texts(&self) -> Vec<String> {
        self.texts("#messages li.msg-chat .text").await
    }

    /// The texts of the system notices shown, top to bottom.
    pub async fn notice_texts(&self) -> Vec<String> {
        self.texts("#messages li.msg-system .text").await
    }

    /// The text of every element matching `css`, in document order.
    async fn texts(&self, css: &str) -> Vec<String> {
        let texts = self
            .eval_with(
                "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(texts).expect("a list of strings")
    }

    /// The `data-id`s of the messages shown, top to bottom.
    pub async fn message_ids(&self) -> Vec<i64> {
        let ids = self
            .eval(
                "return [...document.querySelectorAll('#messages > li')]
                   .map((li) => Number(li.dataset.id));",
            )
            .await;
        serde_json::from_value(ids).expect("a list of numbers")
    }

    /// `fetch(path)` from the page, as this visitor (its cookies): the
    /// status and the JSON body (`null` when there is none).
    pub async fn fetch_json(&self, method: &str, path: &str) -> (u16, Value) {
        let answer = self
            .eval_with(
                "const [method, path] = arguments;
                 return fetch(path, { method, headers: { Accept: 'application/json' } })
                   .then(async (r) => {
                     const text = await r.text();
                     return { status: r.status, body: text ? JSON.parse(text) : null };
                   });",
                vec![json!(method), json!(path)],
            )
            .await;
        let status = answer["status"].as_u64().expect("status") as u16;
        (status, answer["body"].clone())
    }

    /// Chooses `file` in the GIF upload input (choosing uploads at once).
    pub async fn choose_gif(&self, file: &Path) {
        let input = self.find("#gif-input").await;
        input
            .send_keys(&file.display().to_string())
            .await
            .unwrap_or_else(|e| {
                panic!("[{}] could not choose {}: {e}", self.label, file.display())
            });
    }

    // ---- elements -----------------------------------------------------------

    /// The element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let script = format!("return !!document.querySelector({});", json!(css));
        self.until(&format!("an element {css}"), &script).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("[{}] no element {css}: {e}", self.label))
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("[{}] could not type into {css}: {e}", self.label));
    }

    /// Clicks the element matching `css`. Live pages re-render (a room's
    /// row when its member count changes): an element replaced between
    /// finding and clicking is found again, as a person would.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if is_stale(&e) && Instant::now() < deadline => continue,
                Err(e) => panic!("[{}] could not click {css}: {e}", self.label),
            }
        }
    }
}

fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    matches!(error, fantoccini::error::CmdError::Standard(e)
        if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

/// JavaScript's truthiness, for what `until` waits on.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
