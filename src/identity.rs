//! Who is talking: the public identity of a session.
//!
//! Every session gets a random user id the first time it is seen (kept in the
//! session, never the session id itself). The session is marked to be
//! stored the first time its client comes back with the cookie, within a
//! budget of stored sessions per address (see `sessions.rs` for why);
//! past the budget it keeps working from memory, and is marked on a later
//! request. An optional display name travels with the user from the
//! moment it is set. The user itself is plain data (`model::User`).

use axum::{extract::FromRequestParts, http::request::Parts};
use rand::{Rng, distr::Alphanumeric};
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

/// Extractor: the caller's [`User`], created on first sight.
pub struct Visitor {
    pub user: User,
    pub session: Session,
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
                let fresh = SessionUser {
                    id: new_user_id(),
                    name: None,
                };
                session.insert(USER_KEY, &fresh).await?;
                fresh
            }
        };
        Ok(Self {
            user: User::new(stored.id, stored.name),
            session,
        })
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

/// 16 random alphanumeric characters: unguessable, URL- and HTML-safe.
fn new_user_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}
