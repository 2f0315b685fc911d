//! `gifchat backup <dir>`: a consistent copy of a whole installation,
//! taken while the server runs: the database through SQLite's online
//! backup (one read snapshot; the server keeps writing meanwhile), the
//! uploaded GIFs it refers to, and the cookie secret, so that sessions go
//! on working. The copy is laid out as an installation of its own:
//! `gifchat --data-dir <dir>/data --uploads-dir <dir>/uploads` serves it.
//!
//! Files are copied around the snapshot: every upload before it, then
//! whatever the snapshot refers to that was uploaded meanwhile. A file the
//! snapshot refers to can still vanish before it is copied (its room
//! deleted in between): it is counted and named, never silently missing.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
};

use crate::{
    BoxError,
    config::Config,
    db::{self, DatabaseUrl},
    sessions, uploads,
};

/// What a backup copied.
#[derive(Debug)]
pub struct Copied {
    pub events: i64,
    pub rooms: i64,
    pub files: usize,
    /// Files the database refers to that were gone before they could be
    /// copied (their room was deleted during the backup).
    pub missing: Vec<String>,
}

/// Copies the installation `config` names into `dir`, which must be new
/// or empty.
pub fn backup(config: &Config, dir: &Path) -> Result<Copied, BoxError> {
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(format!("{} is not empty: back up into a new folder", dir.display()).into());
    }
    let DatabaseUrl::Sqlite(database) = config.database_url() else {
        return Err(
            "gifchat backup copies a SQLite database; back up PostgreSQL with its own \
                    tools (pg_dump, or continuous archiving) and copy the uploads folder"
                .into(),
        );
    };
    let data = dir.join("data");
    let files = dir.join("uploads");
    db::make_private_dir(&data)?;
    fs::create_dir_all(&files)?;

    let mut copied = copy_uploads(&config.uploads_dir, &files, None)?;
    let snapshot = db::sqlite::backup(&database, &data)?;
    let referenced: HashSet<String> = snapshot
        .gifs
        .iter()
        .filter_map(|url| uploads::file_name(url))
        .map(str::to_owned)
        .collect();
    copied.extend(copy_uploads(
        &config.uploads_dir,
        &files,
        Some(&referenced),
    )?);
    let missing = referenced
        .iter()
        .filter(|name| !files.join(name).exists())
        .cloned()
        .collect();
    sessions::copy_secret(&config.data_dir, &data)?;
    Ok(Copied {
        events: snapshot.events,
        rooms: snapshot.rooms,
        files: copied.len(),
        missing,
    })
}

/// Copies the uploads of `from` into `to` (only `wanted` ones, when
/// given), skipping those already there; the names copied.
fn copy_uploads(
    from: &Path,
    to: &Path,
    wanted: Option<&HashSet<String>>,
) -> Result<Vec<PathBuf>, BoxError> {
    let mut copied = Vec::new();
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(copied),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = to.join(&name);
        let wanted = wanted.is_none_or(|wanted| wanted.contains(&name));
        if !uploads::is_upload_name(&name) || !wanted || target.exists() {
            continue;
        }
        match fs::copy(entry.path(), &target) {
            Ok(_) => copied.push(target),
            // Removed since it was listed (its room deleted): the snapshot
            // decides whether it was needed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(copied)
}
