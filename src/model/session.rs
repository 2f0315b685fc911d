//! A session as the database stores it.

/// A session record as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub data: String,
    pub expiry: i64,
}
