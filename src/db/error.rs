//! What storage says when something cannot be done. Storage knows nothing
//! of HTTP: the edge (`error.rs`) decides what each of these means to a
//! client.

use crate::model::Access;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The room does not exist (or no longer does).
    #[error("no such room")]
    NoSuchRoom,
    /// The poster may not post in the room: banned, or not admitted to a
    /// private one.
    #[error("not admitted to the room ({0:?})")]
    Refused(Access),
    /// A change to a message (a reaction, an edit, a delete, a reply) is
    /// not allowed: [`Refusal`] says why.
    #[error("{0}")]
    Message(#[from] Refusal),
    /// A new session's id is taken already.
    #[error("the session id is taken")]
    SessionTaken,
    /// The writer has stopped (the server is shutting down).
    #[error("the writer has stopped")]
    Stopped,
    /// The database cannot be reached (connection refused or lost, the
    /// pool timed out): trying again shortly may work.
    #[error("the database is unreachable: {0}")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database failed: the cause, for the log.
    #[error("database: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why a change to a message, or a reply to one, is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No such message in the room, or not one the caller may see, or
    /// deleted.
    #[error("no such message in this room")]
    Missing,
    /// A reply to a message that is not in the room, not seen by the
    /// poster, or deleted.
    #[error("the message replied to is not in this room (or not one you can see)")]
    ReplyMissing,
    /// An unreaction of a reaction the caller has not given.
    #[error("you have not reacted so to this message")]
    NoReaction,
    /// The event is no message (a notice, a reaction...).
    #[error("only messages, GIFs and whispers can be reacted to, replied to or changed")]
    NotMessage,
    /// An edit of a GIF.
    #[error("only text messages and whispers can be edited")]
    NotText,
    /// An edit by someone else than the author.
    #[error("only its author can edit a message")]
    NotAuthor,
    /// A delete by someone else than the author or the room's owner.
    #[error("only its author or the room's owner can delete a message")]
    NotAuthorOrOwner,
    /// A reply to a whisper that is not a whisper between the same two.
    #[error("a reply to a whisper is a whisper between the same two people")]
    WhisperReply,
}

impl StoreError {
    pub fn database(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(cause))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(cause: rusqlite::Error) -> Self {
        Self::database(cause)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(cause: r2d2::Error) -> Self {
        Self::database(cause)
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(cause: tokio::task::JoinError) -> Self {
        Self::database(cause)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(cause: tokio_postgres::Error) -> Self {
        if connection_lost(&cause) {
            Self::Unreachable(Box::new(cause))
        } else {
            Self::database(cause)
        }
    }
}

/// Whether `cause` says the connection is gone or the server will not
/// serve us now, rather than that a statement failed: the connection
/// closed or failed on the wire, or the server said so (SQLSTATE class 08
/// connection exception, 53 insufficient resources, 57 operator
/// intervention, such as a restart).
fn connection_lost(cause: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    let on_the_wire = cause
        .source()
        .is_some_and(|source| source.is::<std::io::Error>());
    let said_so = cause
        .code()
        .is_some_and(|code| matches!(code.code().get(..2), Some("08" | "53" | "57")));
    cause.is_closed() || on_the_wire || said_so
}

impl From<deadpool_postgres::PoolError> for StoreError {
    /// Whatever kept the pool from handing out a connection (none free in
    /// time, none could be made) makes the database unreachable for now.
    fn from(cause: deadpool_postgres::PoolError) -> Self {
        Self::Unreachable(Box::new(cause))
    }
}
