//! Sessions: tower-sessions over our own database, behind a signed
//! cookie.
//!
//! A session is stored only once it is worth keeping: when its client
//! comes back with the cookie (`identity.rs` marks it, within a budget per
//! address). Until then it lives in memory only ([`Pending`]): every
//! cookie-less request (curl, a scanner, a crawler) makes a new session
//! that nobody will ever present again, and storing each for 30 days would
//! let anyone grow the database without bound. A browser comes back within
//! milliseconds (its page opens a stream), so its session is stored at once.
//!
//! The store writes through the single writer thread (so a burst of new
//! visitors is group-committed like everything else and never contends for
//! the write lock) and reads from the pool. The signing key comes from
//! `COOKIE_SECRET`, or from a secret generated on first run and kept in the
//! data dir, so sessions (and so identities) survive restarts either way.

use std::{
    collections::{HashMap, VecDeque},
    fs,
    io::Write,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::Argon2;
use async_trait::async_trait;
use rand::RngCore;
use time::OffsetDateTime;
use tower_sessions::{
    Expiry, SessionManagerLayer, SessionStore,
    cookie::{Key, SameSite},
    service::SignedCookie,
    session::{Id, Record},
    session_store,
};

use crate::{
    config::Config,
    db::{DatabaseUrl, Db, StoreError, writer::Writer},
    identity::{self, UserIds},
    model::SessionRow,
};

pub type SessionLayer = SessionManagerLayer<DbStore, SignedCookie>;

/// File in the data dir holding the generated cookie secret.
const SECRET_FILE: &str = "cookie_secret";
const COOKIE_NAME: &str = "gifchat.sid";
/// Sessions idle this long expire.
const IDLE_EXPIRY: time::Duration = time::Duration::days(30);
/// How often expired sessions are swept from the database (and idle ones
/// from memory).
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// The key of a tombstone's data (see `DbStore::delete`).
const REVOKED_KEY: &str = "revoked";
/// How long a tombstone is kept: longer than any browser keeps a cookie
/// (400 days at most, as browsers cap it).
const TOMBSTONE_EXPIRY: time::Duration = time::Duration::days(400);
/// Sessions kept in memory only, at most; past it the oldest go first.
const PENDING_SESSIONS: usize = 100_000;
/// A session in memory only that nobody used for this long is forgotten.
const PENDING_IDLE: Duration = Duration::from_secs(24 * 3600);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the session layer and starts the expiry sweep.
pub fn layer(
    config: &Config,
    db: Db,
    writer: Writer,
) -> Result<(SessionLayer, UserIds, tokio::task::JoinHandle<()>), BoxError> {
    let key = cookie_key(config)?;
    let store = DbStore {
        db,
        writer: writer.clone(),
        cache: Arc::new(Mutex::new(Cache {
            off: matches!(config.database_url(), DatabaseUrl::Postgres(_)),
            ..Cache::default()
        })),
        pending: Arc::default(),
    };
    let sweeper = tokio::spawn({
        let pending = store.pending.clone();
        async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                lock(&pending).forget_idle(PENDING_IDLE);
                let now = OffsetDateTime::now_utc().unix_timestamp();
                if let Err(e) = writer.delete_expired_sessions(now).await {
                    tracing::warn!(error = %e, "sweeping expired sessions failed");
                }
            }
        }
    });
    let layer = SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(IDLE_EXPIRY))
        .with_signed(key.clone());
    Ok((layer, UserIds::new(key.master()), sweeper))
}

/// The session store: records as JSON in the `sessions` table.
#[derive(Clone)]
pub struct DbStore {
    db: Db,
    writer: Writer,
    /// Records as last written or read. On SQLite this process is the
    /// database's only writer, so the cache can be kept exact; it saves a
    /// blocking-pool read on nearly every request (most requests load their
    /// session). On PostgreSQL another node may have written the session
    /// since (a new name), so there is none.
    cache: Arc<Mutex<Cache>>,
    /// Sessions not stored (yet): see the module docs.
    pending: Arc<Mutex<Pending>>,
}

/// Sessions in memory only, oldest first.
#[derive(Default)]
struct Pending {
    records: HashMap<Id, (Record, Instant)>,
    /// Ids in the order they came; some may have been stored or deleted
    /// since (they are skipped).
    order: VecDeque<Id>,
}

impl Pending {
    fn get(&mut self, id: &Id) -> Option<Record> {
        let (record, used) = self.records.get_mut(id)?;
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return None;
        }
        *used = Instant::now();
        Some(record.clone())
    }

    fn put(&mut self, record: &Record) {
        let fresh = self
            .records
            .insert(record.id, (record.clone(), Instant::now()))
            .is_none();
        if fresh {
            self.order.push_back(record.id);
        }
        while self.records.len() > PENDING_SESSIONS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.records.remove(&oldest);
        }
        if self.order.len() > 2 * PENDING_SESSIONS {
            let records = &self.records;
            self.order.retain(|id| records.contains_key(id));
        }
    }

    fn remove(&mut self, id: &Id) -> bool {
        self.records.remove(id).is_some()
    }

    fn forget_idle(&mut self, idle: Duration) {
        self.records.retain(|_, (_, used)| used.elapsed() < idle);
        let records = &self.records;
        self.order.retain(|id| records.contains_key(id));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct Cache {
    /// Off where other nodes may write the same sessions (PostgreSQL).
    off: bool,
    records: HashMap<Id, Cached>,
    /// Bumped by every write, before and after it: a load that raced a
    /// write (and may have read the old row) does not cache what it read.
    epoch: u64,
}

/// A cached record: its data as the JSON it is stored as, one string,
/// read again on each hit. The parsed map (a hash table, a tree node per
/// object, a string per key and value) took 1.2 KiB a session, most of
/// the memory of a waiting long-poll's session; a hit's parse is a
/// microsecond, and a steady long-poll needs none (`routes/steady.rs`).
#[derive(Clone)]
struct Cached {
    /// Shared, so that a hit copies it out of the lock for nothing.
    data: Arc<str>,
    expiry_date: OffsetDateTime,
}

impl Cached {
    fn of(record: &Record) -> Option<Cached> {
        Some(Cached {
            data: serde_json::to_string(&record.data).ok()?.into(),
            expiry_date: record.expiry_date,
        })
    }

    /// The record, if it is still live.
    fn record(&self, id: Id) -> Option<Record> {
        if self.expiry_date <= OffsetDateTime::now_utc() {
            return None;
        }
        Some(Record {
            id,
            data: serde_json::from_str(&self.data).ok()?,
            expiry_date: self.expiry_date,
        })
    }
}

/// Cached records kept before the cache starts over (a few hundred bytes
/// each).
const CACHED_SESSIONS: usize = 100_000;

impl DbStore {
    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        lock(&self.cache)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// A live cached record, or the epoch to hand to [`Self::loaded`].
    fn cached(&self, id: &Id) -> Result<Record, u64> {
        let (cached, epoch) = {
            let cache = self.cache();
            (cache.records.get(id).cloned(), cache.epoch)
        };
        // Parsed outside the lock every request takes.
        cached.and_then(|cached| cached.record(*id)).ok_or(epoch)
    }

    /// Caches a record read from the database, unless a write ran meanwhile.
    fn loaded(&self, record: &Record, epoch: u64) {
        let mut cache = self.cache();
        if cache.epoch == epoch {
            cache.insert(record);
        }
    }

    /// Around every write: drop (before) or store (after) the record.
    fn written(&self, id: &Id, record: Option<&Record>) {
        let mut cache = self.cache();
        cache.epoch += 1;
        cache.records.remove(id);
        if let Some(record) = record {
            cache.insert(record);
        }
    }
}

impl Cache {
    fn insert(&mut self, record: &Record) {
        if self.off {
            return;
        }
        if self.records.len() >= CACHED_SESSIONS {
            self.records.clear();
        }
        if let Some(cached) = Cached::of(record) {
            self.records.insert(record.id, cached);
        }
    }
}

impl std::fmt::Debug for DbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbStore")
    }
}

fn row_of(record: &Record) -> session_store::Result<SessionRow> {
    Ok(SessionRow {
        id: record.id.to_string(),
        data: serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?,
        expiry: record.expiry_date.unix_timestamp(),
    })
}

/// How the store says the database could not be reached: tower-sessions
/// passes a store's errors on as text, and the edge answers this one 503
/// (try again), not 500 ([`is_unreachable`]).
const UNREACHABLE: &str = "the database is unreachable: ";

fn backend(e: StoreError) -> session_store::Error {
    match e {
        StoreError::Unreachable(_) | StoreError::Stopped => {
            session_store::Error::Backend(format!("{UNREACHABLE}{e}"))
        }
        e => session_store::Error::Backend(e.to_string()),
    }
}

/// Whether a session error says the database could not be reached.
pub fn is_unreachable(error: &tower_sessions::session::Error) -> bool {
    matches!(
        error,
        tower_sessions::session::Error::Store(session_store::Error::Backend(message))
            if message.starts_with(UNREACHABLE)
    )
}

#[async_trait]
impl SessionStore for DbStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if !identity::is_kept(&record.data) {
            // Ids are 128 random bits; a collision is theoretical, but the
            // contract is to pick another id rather than overwrite.
            let mut pending = self.pending();
            while pending.records.contains_key(&record.id) {
                record.id = Id::default();
            }
            pending.put(record);
            return Ok(());
        }
        self.pending().remove(&record.id);
        loop {
            match self.writer.create_session(row_of(record)?).await {
                Ok(()) => {
                    self.written(&record.id, Some(record));
                    return Ok(());
                }
                Err(StoreError::SessionTaken) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if !identity::is_kept(&record.data) {
            // In memory still (or again, if it was pushed out meanwhile).
            self.pending().put(record);
            return Ok(());
        }
        self.pending().remove(&record.id);
        // Dropped first: if the write fails, the next load reads the database.
        self.written(&record.id, None);
        self.writer
            .save_session(row_of(record)?)
            .await
            .map_err(backend)?;
        self.written(&record.id, Some(record));
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.pending().get(session_id) {
            return Ok(Some(record));
        }
        let epoch = match self.cached(session_id) {
            Ok(record) => return Ok(Some(record)),
            Err(epoch) => epoch,
        };
        let found = self
            .db
            .session(
                &session_id.to_string(),
                OffsetDateTime::now_utc().unix_timestamp(),
            )
            .await
            .map_err(backend)?;
        let Some((data, expiry)) = found else {
            // A signed cookie (the layer checked it) for a session this
            // node does not know: one another node began and keeps in its
            // memory, or one this node forgot (restarted, or pushed out of
            // memory). The same session goes on, empty; its user is the
            // same wherever it is (`identity::UserIds`).
            return Ok(Some(Record {
                id: *session_id,
                data: HashMap::new(),
                expiry_date: OffsetDateTime::now_utc() + IDLE_EXPIRY,
            }));
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        if data.contains_key(REVOKED_KEY) {
            // Given up for a new id: a client still holding it starts over.
            return Ok(None);
        }
        let record = Record {
            id: *session_id,
            data,
            expiry_date: OffsetDateTime::from_unix_timestamp(expiry)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        };
        self.loaded(&record, epoch);
        Ok(Some(record))
    }

    /// A session given up (for a new id, after a password admitted it) is
    /// kept as a tombstone rather than deleted, in memory or not: a signed
    /// cookie for a session nobody knows is taken up again (see `load`),
    /// and the old cookie must not bring back the user it was.
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.pending().remove(id);
        self.written(id, None);
        let tombstone = SessionRow {
            id: id.to_string(),
            data: format!("{{\"{REVOKED_KEY}\":true}}"),
            expiry: (OffsetDateTime::now_utc() + TOMBSTONE_EXPIRY).unix_timestamp(),
        };
        let saved = self.writer.save_session(tombstone).await;
        // Again after: a load that read the row meanwhile must not keep it.
        self.written(id, None);
        saved.map_err(backend)
    }
}

/// A 64-byte signing key stretched from the secret with Argon2, so a
/// secret of any length gives a full-strength key.
fn cookie_key(config: &Config) -> Result<Key, BoxError> {
    let secret = match &config.cookie_secret {
        Some(secret) if !secret.is_empty() => secret.clone(),
        _ => stored_secret(&config.data_dir)?,
    };
    let mut key = [0u8; 64];
    Argon2::default()
        .hash_password_into(secret.as_bytes(), b"gifchat-cookie-key", &mut key)
        .map_err(|e| format!("deriving the cookie key: {e}"))?;
    Ok(Key::from(&key))
}

/// Copies the generated cookie secret (if there is one) from one data dir
/// to another, private, so that sessions stored in a copy of the database
/// go on working there.
pub fn copy_secret(from: &Path, to: &Path) -> std::io::Result<()> {
    let source = from.join(SECRET_FILE);
    if !source.exists() {
        return Ok(());
    }
    let target = to.join(SECRET_FILE);
    fs::copy(&source, &target)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The secret kept in the data dir, created (readable by the owner only)
/// when missing.
fn stored_secret(data_dir: &Path) -> Result<String, BoxError> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(secret) = fs::read_to_string(&path) {
        let secret = secret.trim().to_owned();
        if !secret.is_empty() {
            return Ok(secret);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok(secret)
}
