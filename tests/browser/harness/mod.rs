//! What every browser test stands on. A test is
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn some_sentence() {
//!     run("some_sentence", async |world| { ... }).await;
//! }
//! ```
//!
//! `run` skips (or fails, when required) without a browser, runs one test at
//! a time (each starts Chromium twice; the machine has two cores), starts a
//! server and a chromedriver for the test, saves screenshots, DOMs and
//! console logs under `target/browser-screenshots/` when the test fails,
//! and always closes the browsers and stops the server and chromedriver.

pub mod driver;
mod page;
mod server;
mod tools;

use std::{
    io::Write,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use futures_util::FutureExt;
use tempfile::TempDir;

pub use page::Browser;
pub use server::Server;

use driver::{Chromedriver, ConsoleLog};
use tools::Tools;

/// The longest a test body may take before it fails (and leaves evidence).
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One browser test at a time. A tokio mutex: it is held across awaits, and
/// every test has its own runtime (tokio's locks do not care which).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test's world: its server, its chromedriver, the browsers it opened.
pub struct World {
    pub server: Server,
    tools: Tools,
    driver: Chromedriver,
    browsers: Mutex<Vec<Browser>>,
    /// Files the test writes (GIFs to upload).
    files: TempDir,
}

/// Runs one browser test; see the module docs.
pub async fn run(name: &str, body: impl AsyncFnOnce(&World)) {
    run_with(name, |_| {}, body).await;
}

/// [`run`], with the server's configuration tuned first.
pub async fn run_with(
    name: &str,
    tune: impl FnOnce(&mut gifchat::Config),
    body: impl AsyncFnOnce(&World),
) {
    let Some(tools) = tools::tools_or_skip() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let world = World::start(tools, tune).await;
    let outcome = AssertUnwindSafe(tokio::time::timeout(TEST_TIMEOUT, body(&world)))
        .catch_unwind()
        .await;
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        world.save_evidence(name).await;
    }
    world.finish().await;
    match outcome {
        Ok(Ok(())) => eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64()),
        Ok(Err(_)) => panic!("{name} did not finish within {TEST_TIMEOUT:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// What a new browser session starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Plain,
    /// `window.EventSource` is deleted before any script of any page runs.
    NoEventSource,
}

impl World {
    async fn start(tools: Tools, tune: impl FnOnce(&mut gifchat::Config)) -> World {
        let server = Server::start(tune).await;
        let driver = Chromedriver::start(&tools.chromedriver).await;
        World {
            server,
            tools,
            driver,
            browsers: Mutex::new(Vec::new()),
            files: TempDir::new().expect("temp dir"),
        }
    }

    /// A new visitor: a browser session of its own (own profile, own
    /// cookies), on a blank page.
    pub async fn browser(&self, label: &str) -> Browser {
        self.browser_with(label, Setup::Plain).await
    }

    pub async fn browser_with(&self, label: &str, setup: Setup) -> Browser {
        let profile = TempDir::new().expect("profile dir");
        let client = self
            .driver
            .session(&self.tools.chromium, profile.path(), self.server.https)
            .await;
        let browser = Browser::new(label, client, self.server.url(""), profile);
        self.browsers.lock().unwrap().push(browser.clone());
        if setup == Setup::NoEventSource {
            browser.on_every_page("delete window.EventSource;").await;
        }
        browser
    }

    /// Writes `bytes` to a temporary file named `name`, for uploads.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.files.path().join(name);
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }

    /// A screenshot, the live DOM and the console of every browser of a
    /// failed test: `target/browser-screenshots/<test>-<label>.{png,html,log}`.
    async fn save_evidence(&self, name: &str) {
        let dir = evidence_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("could not create {}: {e}", dir.display());
            return;
        }
        let browsers = self.browsers.lock().unwrap().clone();
        for browser in browsers {
            let stem = dir.join(format!("{name}-{}", browser.label));
            let grab = async {
                if let Ok(png) = browser.client.screenshot().await {
                    save(&stem.with_extension("png"), &png);
                }
                if let Ok(dom) = browser
                    .client
                    .execute("return document.documentElement.outerHTML;", Vec::new())
                    .await
                {
                    save(
                        &stem.with_extension("html"),
                        dom.as_str().unwrap_or("").as_bytes(),
                    );
                }
                if let Ok(log) = browser.client.issue_cmd(ConsoleLog).await {
                    let lines: Vec<String> = log
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|entry| format!("{} {}", entry["level"], entry["message"]))
                        .collect();
                    save(&stem.with_extension("log"), lines.join("\n").as_bytes());
                }
            };
            // A hung browser must not hang the failure report too.
            if tokio::time::timeout(Duration::from_secs(15), grab)
                .await
                .is_err()
            {
                eprintln!(
                    "[{}] no evidence: the browser did not answer",
                    browser.label
                );
            }
            eprintln!(
                "[{}] screenshot, DOM and console: {}.{{png,html,log}}",
                browser.label,
                stem.display()
            );
        }
    }

    /// Closes every browser (chromedriver quits their Chromium), stops the
    /// server, then kills chromedriver (on drop).
    async fn finish(mut self) {
        let browsers = std::mem::take(&mut *self.browsers.lock().unwrap());
        for browser in browsers {
            let label = browser.label.clone();
            match tokio::time::timeout(Duration::from_secs(15), browser.client.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("[{label}] closing the session failed: {e}"),
                Err(_) => eprintln!("[{label}] closing the session timed out"),
            }
        }
        self.server.stop().await;
    }
}

/// `target/browser-screenshots` (next to cargo's `target/tmp`, so it
/// follows `CARGO_TARGET_DIR`).
fn evidence_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("browser-screenshots")
}

fn save(path: &Path, bytes: &[u8]) {
    if let Err(e) = std::fs::File::create(path).and_then(|mut f| f.write_all(bytes)) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
