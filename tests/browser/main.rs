//! Browser tests: Debian's Chromium, driven through chromedriver over
//! WebDriver (`fantoccini`), against the real server started in-process on
//! port 0 with a temporary data dir.
//!
//! - `harness/`: finding the browser (and skipping without one), the
//!   chromedriver process, the server, and `run()`, which wraps every test:
//!   one test at a time, evidence under `target/browser-screenshots/` when a
//!   test fails, every process stopped at the end.
//! - `chat`, `chat_features`, `fallback`, `https`, `lobby`, `private_rooms`, `tabs`: the tests, a few slow
//!   but meaningful scenarios; the HTTP details are `tests/api`'s job.
//!
//! `GIFCHAT_BROWSER_TESTS` says what a missing Chromium means: unset (or
//! `auto`), the tests say plainly that they were skipped and pass;
//! `required` (CI), it is a failure; `skip`, they are skipped even when a
//! browser is there.

mod harness;
#[path = "../support/requirement.rs"]
mod requirement;

mod chat;
mod chat_features;
mod fallback;
mod https;
mod lobby;
mod private_rooms;
mod tabs;
