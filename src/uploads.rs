//! Uploaded GIF files on disk: where they live and how they go away.
//!
//! Files get server-made names and are served under [`URL_PREFIX`]; an
//! event's `gif` field is that URL path, so the file name is always the
//! part after the prefix.

use std::path::Path;

/// URL path under which uploaded files are served.
pub const URL_PREFIX: &str = "/gif/";

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

/// Removes the files behind these URLs (after the database commit that
/// forgot them). A file already gone is fine; other failures are logged,
/// and the start-up sweep gets another chance at them.
pub fn remove_files(uploads_dir: &Path, urls: &[String]) {
    for name in urls.iter().filter_map(|url| file_name(url)) {
        match std::fs::remove_file(uploads_dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = name, error = %e, "could not remove an uploaded file"),
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
}
