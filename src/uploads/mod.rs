//! Uploaded GIF files on disk: how they arrive, what they are called, and
//! how they go away. The HTTP side (multipart parsing, serving) lives in
//! `routes/uploads.rs`; this module knows only files.
//!
//! - [`Incoming`] (`incoming.rs`): a file being received, written chunk by
//!   chunk to a temporary `.tmp-<random>` file with the size limit and the
//!   GIF magic checked as bytes arrive; then fsynced, decoded in full
//!   (`inspect.rs`, on the blocking pool) and renamed to its server-made
//!   name. Until the event that refers to it is committed, a drop guard
//!   removes the file on every way out: refusal, error, or a client that
//!   went away mid-upload. The checks themselves need no disk: [`Intake`]
//!   (signature and size, chunk by chunk) and [`inspect_bytes`] (the
//!   decoding) are what the fuzz targets in `fuzz/` exercise.
//! - [`sweep`] (`sweep.rs`): at start-up, removes temporary files left by a
//!   crash and files no stored event refers to.
//!
//! Files get server-made names (`<32 hex digits>.gif`, 128 random bits,
//! never derived from the client's file name) and are served under
//! [`URL_PREFIX`]; an event's `gif` field is that URL path, so the file name
//! is always the part after the prefix.

mod incoming;
mod inspect;
mod sweep;

use std::path::Path;

use rand::Rng;

pub use incoming::{Incoming, Intake, Upload, too_large};
use inspect::inspect;
pub use inspect::{GifLimits, inspect_bytes};
pub use sweep::{Swept, sweep};

/// URL path under which uploaded files are served.
pub const URL_PREFIX: &str = "/gif/";

/// Prefix of a file still being received (hidden, so never served).
const TEMP_PREFIX: &str = ".tmp-";
/// Extension of a stored upload.
const EXTENSION: &str = ".gif";
/// Hex digits of the random part of a name: 128 bits, unguessable, so the
/// URL of a GIF posted in a private room does not leak by enumeration.
const RANDOM_HEX: usize = 32;

/// The file name behind a `/gif/<file>` URL, if it is one of ours: a plain
/// name, never a path.
pub fn file_name(url: &str) -> Option<&str> {
    let name = url.strip_prefix(URL_PREFIX)?;
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && !name.starts_with('.');
    plain.then_some(name)
}

/// Whether `name` has the shape of a stored upload (`<32 hex>.gif`): the
/// only names `GET /gif/{file}` serves and the start-up sweep may remove.
/// Anything else in the folder (a `.gitkeep`, an operator's notes) is left
/// alone.
pub fn is_upload_name(name: &str) -> bool {
    name.strip_suffix(EXTENSION).is_some_and(|stem| {
        stem.len() == RANDOM_HEX
            && stem
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `name` is a temporary file of an upload in progress (or of one
/// interrupted by a crash).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// The URL path of a stored upload.
pub fn url(name: &str) -> String {
    format!("{URL_PREFIX}{name}")
}

fn random_hex() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

fn new_upload_name() -> String {
    format!("{}{EXTENSION}", random_hex())
}

fn new_temp_name() -> String {
    format!("{TEMP_PREFIX}{}", random_hex())
}

/// Removes the files behind these URLs (after the database commit that
/// forgot them). A file already gone is fine; other failures are logged,
/// and the start-up sweep gets another chance at them.
pub fn remove_files(uploads_dir: &Path, urls: &[String]) {
    for name in urls.iter().filter_map(|url| file_name(url)) {
        remove_quietly(&uploads_dir.join(name));
    }
}

/// Removes a file; a file already gone is fine, other failures are logged.
fn remove_quietly(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "could not remove an uploaded file");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_the_prefix_are_files() {
        assert_eq!(file_name("/gif/abc123.gif"), Some("abc123.gif"));
        assert_eq!(file_name("/gif/../etc/passwd"), None);
        assert_eq!(file_name("/gif/.hidden"), None);
        assert_eq!(file_name("/gif/"), None);
        assert_eq!(file_name("/other/x.gif"), None);
    }

    #[test]
    fn server_made_names_are_the_only_upload_names() {
        let name = new_upload_name();
        assert!(is_upload_name(&name), "{name}");
        assert_eq!(file_name(&url(&name)), Some(name.as_str()));
        assert_ne!(new_upload_name(), name);
        let temp = new_temp_name();
        assert!(is_temp_name(&temp) && !is_upload_name(&temp));
        for other in [
            ".gitkeep",
            "x.gif",
            "../0123456789abcdef0123456789abcdef.gif",
            "0123456789ABCDEF0123456789ABCDEF.gif",
            "0123456789abcdef0123456789abcdef.gif.tmp",
            "0123456789abcdef0123456789abcdef",
        ] {
            assert!(!is_upload_name(other), "{other}");
        }
        assert!(is_upload_name("0123456789abcdef0123456789abcdef.gif"));
    }
}
