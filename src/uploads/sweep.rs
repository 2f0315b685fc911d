//! The start-up sweep of the uploads folder.
//!
//! While the server runs, every way out of an upload removes its file (see
//! `incoming.rs`) and a room's deletion removes its files after the commit.
//! A crash or a failed removal can still leave files behind: temporary
//! files of uploads in progress, and stored files whose event is gone. The
//! sweep removes both before the server accepts its first request, so it
//! never races an upload of its own. Files whose names are not ours are
//! left alone.
//!
//! Nodes on one PostgreSQL database share one uploads folder (README,
//! "Running several nodes"): another node's upload may be in flight while
//! this one starts, its file temporary or stored but not yet committed.
//! There the sweep takes only files older than any upload can be
//! (`min_age`).

use std::{collections::HashSet, path::Path, time::Duration};

use crate::{db::Db, error::AppResult};

/// What the sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Temporary files of interrupted uploads.
    pub temporary: usize,
    /// Uploaded files no stored event refers to.
    pub orphans: usize,
}

/// Removes leftover temporary files and unreferenced uploads from `dir`.
/// Fails only when the database or the folder cannot be read; a file that
/// cannot be removed is logged and left for the next start.
pub async fn sweep(db: &Db, dir: &Path, min_age: Duration) -> AppResult<Swept> {
    // The query lives here rather than in `db/` because nothing else needs
    // every referenced file at once.
    let referenced: HashSet<String> = db
        .gif_urls()
        .await?
        .iter()
        .filter_map(|url| super::file_name(url))
        .map(str::to_owned)
        .collect();
    let dir = dir.to_owned();
    let swept =
        tokio::task::spawn_blocking(move || sweep_dir(&dir, &referenced, min_age)).await??;
    if swept != Swept::default() {
        tracing::info!(
            temporary = swept.temporary,
            orphans = swept.orphans,
            "removed leftover upload files"
        );
    }
    Ok(swept)
}

fn sweep_dir(
    dir: &Path,
    referenced: &HashSet<String>,
    min_age: Duration,
) -> std::io::Result<Swept> {
    let mut swept = Swept::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let temporary = super::is_temp_name(name);
        let orphan = super::is_upload_name(name) && !referenced.contains(name);
        if !(temporary || orphan) || !entry.file_type()?.is_file() {
            continue;
        }
        let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
        if age < min_age {
            continue;
        }
        if super::remove_quietly(&entry.path()) {
            if temporary {
                swept.temporary += 1;
            } else {
                swept.orphans += 1;
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_OF_EACH: Swept = Swept {
        temporary: 1,
        orphans: 1,
    };

    /// The names of the files in `dir`, sorted.
    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn only_temporary_and_unreferenced_files_of_ours_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let kept = "0123456789abcdef0123456789abcdef.gif";
        let orphan = "fedcba9876543210fedcba9876543210.gif";
        for name in [kept, orphan, ".tmp-0123", ".gitkeep", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let referenced = HashSet::from([kept.to_owned()]);
        let swept = sweep_dir(dir.path(), &referenced, Duration::ZERO).unwrap();
        assert_eq!(swept, ONE_OF_EACH);
        let left = files_in(dir.path());
        assert_eq!(left, [".gitkeep", kept, "notes.txt"]);
    }

    #[test]
    fn with_a_minimum_age_young_files_are_left_for_the_upload_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let (young, old) = (
            "0123456789abcdef0123456789abcdef.gif",
            "fedcba9876543210fedcba9876543210.gif",
        );
        for name in [young, old, ".tmp-young", ".tmp-old"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        for name in [old, ".tmp-old"] {
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            file.set_modified(hour_ago).unwrap();
        }
        let swept = sweep_dir(dir.path(), &HashSet::new(), Duration::from_secs(180)).unwrap();
        assert_eq!(swept, ONE_OF_EACH);
        let left = files_in(dir.path());
        assert_eq!(left, [".tmp-young", young]);
    }
}
