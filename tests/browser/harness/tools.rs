//! Finding Chromium and chromedriver, and what their absence means
//! (`GIFCHAT_BROWSER_TESTS`).

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Once,
};

use crate::requirement::{Mode, mode};

/// The two programs the browser tests need.
#[derive(Debug, Clone)]
pub struct Tools {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

/// The tools to run a browser test with, or `None` when it is to be
/// skipped (after saying so). Panics when they are required and missing.
pub fn tools_or_skip() -> Option<Tools> {
    let mode = mode("GIFCHAT_BROWSER_TESTS");
    if mode == Mode::Skip {
        say_skipped("GIFCHAT_BROWSER_TESTS=skip");
        return None;
    }
    match find() {
        Ok(tools) => Some(tools),
        Err(missing) if mode == Mode::Required => panic!(
            "GIFCHAT_BROWSER_TESTS=required, but {missing}: install Debian's \
             `chromium` and `chromium-driver` (or set GIFCHAT_CHROMIUM / GIFCHAT_CHROMEDRIVER)"
        ),
        Err(missing) => {
            say_skipped(&format!(
                "chromium/chromedriver not found ({missing}); install Debian's `chromium` \
                 and `chromium-driver` to run them, or set GIFCHAT_BROWSER_TESTS=required \
                 to make this a failure"
            ));
            None
        }
    }
}

/// Says once per test binary that the browser tests were skipped. Written
/// to the process's stderr directly: libtest captures `eprintln!` and shows
/// it for failing tests only, and a skip must be seen on a passing run.
fn say_skipped(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr().lock(), "\nbrowser tests skipped: {why}\n");
    });
}

/// `GIFCHAT_CHROMEDRIVER` / `GIFCHAT_CHROMIUM` when set, else the usual
/// names on `PATH`.
fn find() -> Result<Tools, String> {
    let chromedriver = program("GIFCHAT_CHROMEDRIVER", &["chromedriver"]);
    let chromium = program(
        "GIFCHAT_CHROMIUM",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
    );
    match (chromedriver, chromium) {
        (Some(chromedriver), Some(chromium)) => Ok(Tools {
            chromedriver,
            chromium,
        }),
        (None, Some(_)) => Err("no chromedriver on PATH".into()),
        (Some(_), None) => Err("no chromium on PATH".into()),
        (None, None) => Err("neither chromium nor chromedriver is on PATH".into()),
    }
}

fn program(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return executable(&path).then_some(path);
    }
    let dirs = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&dirs)
            .map(|dir| dir.join(name))
            .find(|path| executable(path))
    })
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(path: &Path) -> bool {
    path.is_file()
}
