//! Flash messages: one line of feedback kept in the session until the next
//! page shows it (the HTML side of every error a form post can meet).

use tower_sessions::Session;

const FLASH_KEY: &str = "flash";

pub async fn set(session: &Session, message: &str) {
    if let Err(e) = session.insert(FLASH_KEY, message).await {
        tracing::warn!(error = %e, "could not store a flash message");
    }
}

pub async fn take(session: &Session) -> Option<String> {
    session.remove::<String>(FLASH_KEY).await.ok().flatten()
}
