//! Who is talking: the public identity of a session.
//!
//! Every session gets a user id the first time it is seen, kept in the
//! session: a keyed hash of the session id ([`UserIds`]), never the session
//! id itself. Any node that holds the key finds the same user for a
//! session, even one it has never seen: with several nodes, a browser's
//! first request (whose session is not stored yet) and its next may go to
//! different nodes and it stays one user. The session is marked to be
//! stored the first time its client comes back with the cookie, within a
//! budget of stored sessions per address (see `sessions.rs` for why);
//! past the budget it keeps working from memory, and is marked on a later
//! request. An optional display name travels with the user from the
//! moment it is set. The user itself is plain data (`model::User`).

use axum::{extract::FromRequestParts, http::request::Parts};
use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::Session;

use crate::{error::AppError, model::User, routes::limits::ClientAddr, state::AppState};

/// Session key holding the [`SessionUser`].
const USER_KEY: &str = "user";
/// Session key marking a session worth storing (its client came back).
const KEPT_KEY: &str = "kept";

/// Whether a session's data says it is to be stored (see [`KEPT_KEY`]).
pub fn is_kept(data: &std::collections::HashMap<String, Value>) -> bool {
    data.get(KEPT_KEY)
        .is_some_and(|kept| kept == &Value::Bool(true))
}

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// What the session stores; the color is derived, not stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionUser {
    id: String,
    name: Option<String>,
}

/// Extractor: the caller's [`User`], created on first sight, and the
/// address they come from (`--trust-proxy` heeded): a room can keep an
/// address out, so that a fresh cookie does not let its user back in.
pub struct Visitor {
    pub user: User,
    pub session: Session,
    pub addr: std::net::IpAddr,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| AppError::Internal(message.into()))?;
        let stored = match session.get::<SessionUser>(USER_KEY).await? {
            Some(stored) => {
                keep_if_allowed(&session, parts, state).await?;
                stored
            }
            None => {
                // With a cookie, the client came back (maybe from another
                // node, where its session began); without one, saving the
                // new session gives it its id.
                let came_back = session.id().is_some();
                if !came_back {
                    session.save().await?;
                }
                let id = session
                    .id()
                    .ok_or_else(|| AppError::Internal("a saved session has no id".into()))?;
                let fresh = SessionUser {
                    id: state.user_ids.of(&id.to_string()),
                    name: None,
                };
                session.insert(USER_KEY, &fresh).await?;
                if came_back {
                    keep_if_allowed(&session, parts, state).await?;
                }
                fresh
            }
        };
        let Ok(ClientAddr(addr)) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Self {
            user: User::new(stored.id, stored.name),
            session,
            addr,
        })
    }
}

/// Extractor: the caller's user id if their session has one, without
/// making a session for a caller who has none (the lobby's stream and
/// poll serve anyone, and count unread messages for those they know).
pub struct KnownVisitor(pub Option<String>);

impl FromRequestParts<AppState> for KnownVisitor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| AppError::Internal(message.into()))?;
        Ok(Self(session_user_id(&session).await))
    }
}

/// The client came back with its cookie: the session is worth storing,
/// if its address may store another one now.
async fn keep_if_allowed(
    session: &Session,
    parts: &mut Parts,
    state: &AppState,
) -> Result<(), AppError> {
    if session.get::<bool>(KEPT_KEY).await? == Some(true) {
        return Ok(());
    }
    let Ok(ClientAddr(addr)) = ClientAddr::from_request_parts(parts, state).await;
    if state.limits.new_session(addr).is_ok() {
        session.insert(KEPT_KEY, true).await?;
    }
    Ok(())
}

impl Visitor {
    /// Sets (or clears) the display name kept in the session.
    pub async fn set_name(&mut self, name: Option<String>) -> Result<(), AppError> {
        self.user.name = name;
        let stored = SessionUser {
            id: self.user.id.clone(),
            name: self.user.name.clone(),
        };
        self.session.insert(USER_KEY, &stored).await?;
        Ok(())
    }
}

/// The user id of a session, if it has one yet (without creating one).
pub async fn session_user_id(session: &Session) -> Option<String> {
    let stored = session.get::<SessionUser>(USER_KEY).await.ok()??;
    Some(stored.id)
}

/// Derives a session's user id from its session id with a key only the
/// nodes hold (derived from the cookie secret): the same on every node,
/// and telling nothing of the session id, which is a bearer secret.
#[derive(Clone)]
pub struct UserIds {
    key: [u8; 32],
}

impl UserIds {
    pub fn new(secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        let derived = Blake2s256::new_with_prefix(b"gifchat user ids\0")
            .chain_update(secret)
            .finalize();
        key.copy_from_slice(&derived);
        Self { key }
    }

    /// 16 alphanumeric characters: unguessable, URL- and HTML-safe.
    pub fn of(&self, session_id: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let hash = Blake2s256::new_with_prefix(self.key)
            .chain_update(session_id.as_bytes())
            .finalize();
        hash.iter()
            .take(16)
            .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_has_one_user_id_for_a_key_and_another_for_another_key() {
        let ids = UserIds::new(b"one secret");
        let id = ids.of("session-1");
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_eq!(
            UserIds::new(b"one secret").of("session-1"),
            id,
            "every node"
        );
        assert_ne!(ids.of("session-2"), id);
        assert_ne!(UserIds::new(b"another secret").of("session-1"), id);
    }
}
