//! Sessions: tower-sessions with its rusqlite store, in the same database
//! file as everything else, behind a signed cookie.
//!
//! The signing key comes from `COOKIE_SECRET`, or from a secret generated on
//! first run and kept in the data dir, so sessions (and so identities)
//! survive restarts either way.

use std::{fs, io::Write, path::Path};

use argon2::Argon2;
use rand::RngCore;
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{Key, SameSite},
    service::SignedCookie,
    session_store::ExpiredDeletion,
};
use tower_sessions_rusqlite_store::{RusqliteStore, tokio_rusqlite};

use crate::{config::Config, db::DB_FILE};

pub type SessionLayer = SessionManagerLayer<RusqliteStore, SignedCookie>;

/// File in the data dir holding the generated cookie secret.
const SECRET_FILE: &str = "cookie_secret";
const COOKIE_NAME: &str = "gifchat.sid";
/// Sessions idle this long expire.
const IDLE_EXPIRY: time::Duration = time::Duration::days(30);
/// How often expired sessions are swept from the database.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store, starts the expiry sweep, and builds the layer.
pub async fn layer(config: &Config) -> Result<(SessionLayer, tokio::task::JoinHandle<()>), BoxError> {
    let conn = tokio_rusqlite::Connection::open(config.data_dir.join(DB_FILE)).await?;
    conn.call(|conn| {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok::<_, tokio_rusqlite::Error>(())
    })
    .await?;
    let store = RusqliteStore::new(conn);
    store.migrate().await?;
    let sweeper = tokio::spawn({
        let store = store.clone();
        async move {
            if let Err(e) = store.continuously_delete_expired(SWEEP_EVERY).await {
                tracing::warn!(error = %e, "session sweep stopped");
            }
        }
    });
    let key = cookie_key(config)?;
    let layer = SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(IDLE_EXPIRY))
        .with_signed(key);
    Ok((layer, sweeper))
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
