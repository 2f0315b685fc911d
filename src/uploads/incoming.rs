//! A file being received, from its first chunk to its final name.
//!
//! [`Incoming`] streams chunks to a temporary file, refusing as soon as the
//! bytes show it is too large or not a GIF, so nothing is ever buffered
//! whole in memory. [`Incoming::finish`] makes it durable, decodes it and
//! renames it, giving an [`Upload`]. Both hold a drop guard: the file is
//! removed on every way out (a refusal, a disk or database error, a client
//! that went away and took the handler's future with it) until
//! [`Upload::keep`] says the event that refers to it is committed.

use std::{
    io,
    path::{Path, PathBuf},
};

use tokio::{fs::File, io::AsyncWriteExt};

use super::GifLimits;
use crate::{
    error::{AppError, AppResult},
    model::GifInfo,
};

/// The signatures a GIF starts with.
const MAGICS: [&[u8; MAGIC_LEN]; 2] = [b"GIF87a", b"GIF89a"];
const MAGIC_LEN: usize = 6;

/// A file being received into a temporary file of the uploads folder.
pub struct Incoming {
    file: File,
    guard: Guard,
    dir: PathBuf,
    intake: Intake,
    gif: GifLimits,
}

/// The checks made on the bytes of a file as they arrive, apart from the
/// disk: the GIF signature (also when split across chunks) and the size
/// limit. [`Incoming`] runs every chunk through one before writing it.
#[derive(Debug, Clone)]
pub struct Intake {
    /// Largest accepted size, in bytes.
    max: u64,
    received: u64,
    /// The first bytes, kept to check the signature when it arrives split
    /// across chunks.
    head: [u8; MAGIC_LEN],
}

impl Intake {
    pub fn new(max: u64) -> Intake {
        Intake {
            max,
            received: 0,
            head: [0; MAGIC_LEN],
        }
    }

    /// Counts a chunk in. Refuses with 415 as soon as the first bytes differ
    /// from a GIF signature, and with 413 as soon as the total passes the
    /// limit.
    pub fn accept(&mut self, chunk: &[u8]) -> AppResult<()> {
        let before = self.received;
        if before < MAGIC_LEN as u64 {
            let start = before as usize;
            let taken = (MAGIC_LEN - start).min(chunk.len());
            self.head[start..start + taken].copy_from_slice(&chunk[..taken]);
            let known = &self.head[..start + taken];
            if !MAGICS.iter().any(|magic| magic.starts_with(known)) {
                return Err(not_a_gif());
            }
        }
        self.received = before.saturating_add(chunk.len() as u64);
        if self.received > self.max {
            return Err(too_large(self.max));
        }
        Ok(())
    }

    /// The last chunk has arrived: the size received, or 422 when nothing
    /// came and 415 when too little came to hold a signature.
    pub fn complete(&self) -> AppResult<u64> {
        if self.received == 0 {
            return Err(AppError::invalid("choose a GIF file to upload"));
        }
        if self.received < MAGIC_LEN as u64 {
            return Err(not_a_gif());
        }
        Ok(self.received)
    }
}

impl Incoming {
    /// Opens a fresh temporary file (`.tmp-<random>`) in `dir`, for a GIF
    /// of at most `max` bytes within `gif`'s limits.
    pub async fn create(dir: &Path, max: u64, gif: GifLimits) -> AppResult<Incoming> {
        let path = dir.join(super::new_temp_name());
        // `create_new`: never write into a file that is already there.
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Incoming {
            file,
            guard: Guard::new(path),
            dir: dir.to_owned(),
            intake: Intake::new(max),
            gif,
        })
    }

    /// Appends a chunk. Refuses with 415 as soon as the first bytes differ
    /// from a GIF signature, and with 413 as soon as the total passes the
    /// limit: the rest of the body is never read, let alone stored.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.intake.accept(chunk)?;
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// Completes the upload: fsyncs the file, decodes it in full (on the
    /// blocking pool: a 5 MiB GIF is real CPU work), then renames it to a
    /// fresh server-made name and fsyncs the folder, so that a committed
    /// event never refers to a file a power cut could lose.
    pub async fn finish(self) -> AppResult<Upload> {
        let received = self.intake.complete()?;
        // tokio's `sync_all` first waits for the writes still in flight.
        self.file.sync_all().await?;
        let Incoming {
            file,
            guard,
            dir,
            gif,
            ..
        } = self;
        drop(file);
        // The guard moves into the blocking task: if the task fails, or its
        // result is dropped unread, the file goes with it.
        tokio::task::spawn_blocking(move || {
            let info = super::inspect(guard.path(), gif)?;
            let name = super::new_upload_name();
            let guard = guard.rename(dir.join(&name))?;
            sync_dir(&dir)?;
            Ok(Upload {
                name,
                info,
                size: received,
                guard,
            })
        })
        .await?
    }
}

/// A validated upload under its final name, removed when dropped unless
/// [`Upload::keep`] is called.
pub struct Upload {
    name: String,
    info: GifInfo,
    size: u64,
    guard: Guard,
}

impl Upload {
    /// The URL path the event stores (`/gif/<name>`).
    pub fn url(&self) -> String {
        super::url(&self.name)
    }

    pub fn info(&self) -> GifInfo {
        self.info
    }

    /// Size of the file, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The event referring to the file is committed: keep it for good.
    /// From now on only the room's deletion removes it.
    pub fn keep(self) {
        self.guard.disarm();
    }
}

/// Removes its file when dropped, unless disarmed. The removal is a
/// synchronous `unlink` even on an async worker: one short syscall, and a
/// `Drop` cannot await.
struct Guard {
    path: PathBuf,
    armed: bool,
}

impl Guard {
    fn new(path: PathBuf) -> Guard {
        Guard { path, armed: true }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file and guards it under its new name. On failure the
    /// guard is dropped and removes the old file.
    fn rename(mut self, to: PathBuf) -> io::Result<Guard> {
        std::fs::rename(&self.path, &to)?;
        self.path = to;
        Ok(self)
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            super::remove_quietly(&self.path);
        }
    }
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn not_a_gif() -> AppError {
    AppError::UnsupportedMediaType("only GIF files can be uploaded (GIF87a or GIF89a)".into())
}

/// 413 `too_large`, naming the limit.
pub fn too_large(max: u64) -> AppError {
    AppError::TooLarge(format!("a GIF may be at most {}", human_size(max)))
}

/// `5 MiB`, `512 KiB`, or bytes when the limit is no round number.
fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_like_the_flag() {
        assert_eq!(human_size(5 << 20), "5 MiB");
        assert_eq!(human_size(512 << 10), "512 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn an_intake_checks_the_signature_then_the_size() {
        let mut intake = Intake::new(8);
        assert_eq!(intake.complete().unwrap_err().code(), "invalid");
        intake.accept(b"GIF8").unwrap();
        assert_eq!(
            intake.complete().unwrap_err().code(),
            "unsupported_media_type"
        );
        intake.accept(b"7a").unwrap();
        assert_eq!(intake.complete().unwrap(), 6);
        let refused = intake.accept(b"...").unwrap_err();
        assert_eq!(refused.code(), "too_large");
        let refused = Intake::new(8).accept(b"GIF87b").unwrap_err();
        assert_eq!(refused.code(), "unsupported_media_type");
    }

    #[tokio::test]
    async fn a_signature_split_across_chunks_is_still_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = Incoming::create(dir.path(), 100, GifLimits::default())
            .await
            .unwrap();
        for chunk in [&b"GI"[..], b"F8", b"9a rest"] {
            good.write(chunk).await.unwrap();
        }
        let mut bad = Incoming::create(dir.path(), 100, GifLimits::default())
            .await
            .unwrap();
        bad.write(b"GIF8").await.unwrap();
        let refused = bad.write(b"8a").await.unwrap_err();
        assert_eq!(refused.code(), "unsupported_media_type");
        drop(bad);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the good file is left"
        );
    }
}
