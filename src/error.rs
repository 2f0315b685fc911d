//! The one error type of the HTTP edge.
//!
//! Handlers return `Result<_, AppError>`. Pick the constructor that says what
//! went wrong for the client (`AppError::not_found("room")`,
//! `AppError::invalid("...")`); wrap anything unexpected (the database, the disk, a
//! closed channel) with `?`, which lands in [`AppError::Internal`]: the cause
//! is kept for the log, never shown to the client.
//!
//! Turning an error into a response has no side effects: it always renders
//! the JSON body `{"error", "message"}` and puts an [`ErrorInfo`] in the
//! response extensions. The `render_errors` middleware (routes/errors.rs)
//! logs internal causes and, for browsers, swaps the JSON for an HTML page or
//! a flash message and a redirect.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::Access;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `bad_request`: the body or query could not be parsed at all.
    #[error("{0}")]
    BadRequest(String),
    /// 422 `invalid`: parsed, but a value is out of its bounds.
    #[error("{0}")]
    Invalid(String),
    /// 403 `forbidden`: not admitted, not the owner, or a cross-site request.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `wrong_password`.
    #[error("wrong password")]
    WrongPassword,
    /// 403 `kicked`: banned from this room for its lifetime.
    #[error("you were kicked out of this room")]
    Kicked,
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`: the path exists, not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 409 `room_full`.
    #[error("this room is full")]
    RoomFull,
    /// 409 `conflict`: well-formed, but at odds with the room as it is now
    /// (whom the request names is not present, or is the caller). What
    /// the document's schemas cannot tell is 409; what they can is 422.
    #[error("{0}")]
    Conflict(String),
    /// 413 `too_large`.
    #[error("{0}")]
    TooLarge(String),
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `rate_limited`, with `Retry-After` in seconds.
    #[error("too many requests, slow down")]
    RateLimited { retry_after_secs: u64 },
    /// 408 `timeout`: an ordinary request took longer than allowed.
    #[error("the request took too long")]
    Timeout,
    /// 503 `unavailable`, with `Retry-After`: the server is shutting down
    /// (another process, or this one restarted, will answer).
    #[error("the server is shutting down")]
    Unavailable,
    /// 503 `unavailable`, with `Retry-After`: too much of one kind of work
    /// at once (the message says which); trying again shortly will do.
    #[error("{0}")]
    Busy(&'static str),
    /// 500 `internal`: the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The body of every JSON error: `{"error": <code>, "message": <text>}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorCode,
    /// For people: what went wrong, and what to do about it.
    #[schema(min_length = 1)]
    pub message: String,
}

/// The machine-readable `error` of an error body: one per kind of
/// failure (`AppError`), so a client can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Invalid,
    Forbidden,
    WrongPassword,
    Kicked,
    NotFound,
    MethodNotAllowed,
    RoomFull,
    Conflict,
    TooLarge,
    UnsupportedMediaType,
    RateLimited,
    Timeout,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code as it is written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Invalid => "invalid",
            Self::Forbidden => "forbidden",
            Self::WrongPassword => "wrong_password",
            Self::Kicked => "kicked",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RoomFull => "room_full",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// What the error-rendering middleware needs to know about a failed response.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    /// The internal cause, for the log.
    pub cause: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

/// What a busy or stopping server asks a client to wait, in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
    /// 409 `conflict`: a locked room turns newcomers away.
    pub fn locked() -> Self {
        Self::conflict("this room is locked: nobody new may come in")
    }
    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound(what)
    }
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(cause))
    }
    /// What a user whose `access` is not admission is told: 403 `kicked`
    /// when banned, 403 `forbidden` before a private room's password.
    pub fn refused(access: Access) -> Self {
        match access {
            Access::Banned => Self::Kicked,
            _ => Self::forbidden("this room is private: enter its password first"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden(_) | Self::WrongPassword | Self::Kicked => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RoomFull | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable | Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Invalid(_) => ErrorCode::Invalid,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::WrongPassword => ErrorCode::WrongPassword,
            Self::Kicked => ErrorCode::Kicked,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::RoomFull => ErrorCode::RoomFull,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Timeout => ErrorCode::Timeout,
            Self::Unavailable | Self::Busy(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl AppError {
    /// The error for a failed answer made outside our handlers (an
    /// extractor's rejection, the router's 405), from its status and its
    /// plain-text body, so that every error has the same JSON shape.
    pub fn from_status(status: StatusCode, text: &str) -> AppError {
        let text = text.trim();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text.to_owned()
        };
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest(message),
            StatusCode::NOT_FOUND => Self::NotFound("page"),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge(message),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(message),
            StatusCode::UNPROCESSABLE_ENTITY => Self::Invalid(message),
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited {
                retry_after_secs: 1,
            },
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            status if status.is_client_error() => Self::BadRequest(message),
            _ => Self::Internal(message.into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let info = ErrorInfo {
            code: self.code(),
            message: self.to_string(),
            cause: match &self {
                Self::Internal(cause) => Some(format!("{cause:?}")),
                _ => None,
            },
        };
        let body = Json(ErrorBody {
            error: self.error_code(),
            message: info.message.clone(),
        });
        let mut response = (self.status(), body).into_response();
        let retry_after_secs = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            Self::Busy(_) | Self::Unavailable => Some(BUSY_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(info);
        response
    }
}

/// Unexpected failures below the HTTP edge all become `Internal`.
macro_rules! internal_from {
    ($($source:ty),* $(,)?) => {$(
        impl From<$source> for AppError {
            fn from(cause: $source) -> Self {
                Self::internal(cause)
            }
        }
    )*};
}

impl From<crate::db::StoreError> for AppError {
    fn from(error: crate::db::StoreError) -> Self {
        use crate::db::StoreError;
        match error {
            StoreError::NoSuchRoom => Self::not_found("room"),
            StoreError::Refused(access) => Self::refused(access),
            StoreError::Message(refusal) => Self::from(refusal),
            StoreError::Stopped => Self::Unavailable,
            StoreError::Unreachable(cause) => {
                tracing::warn!(error = %cause, "the database is unreachable");
                Self::Busy("the database is unreachable; try again shortly")
            }
            failed @ (StoreError::SessionTaken | StoreError::Database(_)) => Self::internal(failed),
        }
    }
}

impl From<crate::db::Refusal> for AppError {
    fn from(refusal: crate::db::Refusal) -> Self {
        use crate::db::Refusal;
        match refusal {
            Refusal::Missing => Self::not_found("message"),
            Refusal::NoReaction => Self::not_found("reaction"),
            Refusal::NotAuthor | Refusal::NotAuthorOrOwner => Self::forbidden(refusal.to_string()),
            Refusal::NotMessage
            | Refusal::NotText
            | Refusal::WhisperReply
            | Refusal::ReplyMissing => Self::conflict(refusal.to_string()),
        }
    }
}

impl From<crate::hub::HubError> for AppError {
    fn from(error: crate::hub::HubError) -> Self {
        match error {
            crate::hub::HubError::NoSuchRoom => Self::not_found("room"),
            crate::hub::HubError::RoomFull => Self::RoomFull,
            crate::hub::HubError::Locked => Self::locked(),
            crate::hub::HubError::BannedSince => {
                Self::Busy("bans are coming in as you enter; try again in a moment")
            }
        }
    }
}

impl From<crate::passwords::PasswordError> for AppError {
    fn from(error: crate::passwords::PasswordError) -> Self {
        match error {
            crate::passwords::PasswordError::Busy => {
                Self::Busy("too many password checks at once; try again in a moment")
            }
            failed => Self::internal(failed),
        }
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(error: tower_sessions::session::Error) -> Self {
        if crate::sessions::is_unreachable(&error) {
            tracing::warn!(%error, "sessions: the database is unreachable");
            return Self::Busy("the database is unreachable; try again shortly");
        }
        Self::internal(error)
    }
}

internal_from!(
    rusqlite::Error,
    r2d2::Error,
    std::io::Error,
    tokio::task::JoinError,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_as_they_are_named() {
        let codes = [
            AppError::bad_request("x"),
            AppError::invalid("x"),
            AppError::forbidden("x"),
            AppError::WrongPassword,
            AppError::Kicked,
            AppError::not_found("x"),
            AppError::MethodNotAllowed,
            AppError::RoomFull,
            AppError::conflict("x"),
            AppError::TooLarge("x".into()),
            AppError::UnsupportedMediaType("x".into()),
            AppError::RateLimited {
                retry_after_secs: 1,
            },
            AppError::Timeout,
            AppError::Unavailable,
            AppError::Internal("x".into()),
        ];
        for error in codes {
            let written = serde_json::to_value(error.error_code()).unwrap();
            assert_eq!(written, error.code());
        }
    }

    #[test]
    fn every_429_and_503_says_when_to_come_back() {
        for error in [
            AppError::RateLimited {
                retry_after_secs: 3,
            },
            AppError::Busy("busy"),
            AppError::Unavailable,
        ] {
            let response = error.into_response();
            assert!(
                response.headers().contains_key(header::RETRY_AFTER),
                "{}",
                response.status()
            );
        }
    }
}
