//! Which database to use: `--database <URL>` (API.md, "Storage backends").

use std::{fmt, path::PathBuf};

/// A database, as named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:<path>`: the embedded database, a file on this machine.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL server, in the
    /// driver's own syntax (host, port, user, password, database, and
    /// `?host=/run/postgresql` for a unix socket).
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads a URL, refusing what names no backend.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            // `sqlite:///abs/path` and `sqlite://rel/path` read as the
            // path after the slashes' pair, like most tools take them.
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite:data/gifchat.sqlite3".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
            return Ok(Self::Postgres(text.to_owned()));
        }
        Err(format!(
            "`{text}` names no database: write sqlite:<path> or postgres://user@host/db"
        ))
    }
}

impl DatabaseUrl {
    /// The URL as written (with its password): what to hand to another
    /// process, never to a log.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()).into(),
            Self::Postgres(url) => url.into(),
        }
    }
}

/// Shown in logs: a PostgreSQL password never is.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(config) => {
                    let hosts: Vec<String> = config
                        .get_hosts()
                        .iter()
                        .map(|host| match host {
                            tokio_postgres::config::Host::Tcp(name) => name.clone(),
                            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                        })
                        .collect();
                    write!(
                        f,
                        "postgres://{}@{}/{}",
                        config.get_user().unwrap_or(""),
                        hosts.join(","),
                        config.get_dbname().unwrap_or("")
                    )
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/chat.sqlite3"),
            Ok(DatabaseUrl::Sqlite("data/chat.sqlite3".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/gifchat/db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/gifchat/db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://chat@db.example/gifchat"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in ["", "sqlite:", "mysql://x/y", "data/gifchat.sqlite3"] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logs_never_show_a_password() {
        let url = DatabaseUrl::parse("postgres://chat:s3cret@db.example:5433/gifchat").unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }
}
