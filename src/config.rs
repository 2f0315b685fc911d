//! Configuration: one clap struct read from flags, environment variables and
//! a `.env` file (loaded by `main` before parsing). The `///` docs below are
//! the `--help` text. Every field has an embedded default, so a bare
//! `gifchat` runs with no configuration at all.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};

use crate::{
    client_addr::TrustedProxy,
    db::DatabaseUrl,
    server::{Acme, CertificateSource},
};

/// A self-hosted, real-time GIF chat server.
#[derive(Parser, Debug, Clone)]
#[command(name = "gifchat", version, about)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long, env = "GIFCHAT_ADDR", default_value = "127.0.0.1:8005")]
    pub addr: SocketAddr,

    /// Folder holding the generated cookie secret and, unless `--database`
    /// names another place, the SQLite database.
    #[arg(long, env = "GIFCHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// The database: `sqlite:<path>` (embedded, nothing to install; the
    /// default is `sqlite:<data dir>/gifchat.sqlite3`) or
    /// `postgres://user:password@host/db` (PostgreSQL 15 or newer; a unix
    /// socket as `postgres:///db?host=/run/postgresql`).
    #[arg(long, env = "GIFCHAT_DATABASE", value_parser = DatabaseUrl::parse)]
    pub database: Option<DatabaseUrl>,

    /// Folder holding uploaded GIFs.
    #[arg(long, env = "GIFCHAT_UPLOADS_DIR", default_value = "uploads")]
    pub uploads_dir: PathBuf,

    /// Secret that signs session cookies. When unset, one is generated on
    /// first run and kept in the data dir, so sessions survive restarts.
    #[arg(long, env = "COOKIE_SECRET", hide_env_values = true)]
    pub cookie_secret: Option<String>,

    /// Serve HTTPS (with HTTP/2) with this certificate chain (PEM); read
    /// again when the file changes.
    #[arg(long, env = "GIFCHAT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "GIFCHAT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Serve HTTPS (with HTTP/2) with a certificate for these domains
    /// (comma-separated) from an ACME server, renewed by itself. The ACME
    /// server checks on port 443: listen there (`--addr 0.0.0.0:443`).
    #[arg(
        long,
        env = "GIFCHAT_ACME_DOMAIN",
        value_delimiter = ',',
        conflicts_with = "tls_cert"
    )]
    pub acme_domain: Vec<String>,

    /// The ACME server's directory (Let's Encrypt's by default; its
    /// staging one is https://acme-staging-v02.api.letsencrypt.org/directory).
    #[arg(
        long,
        env = "GIFCHAT_ACME_DIRECTORY",
        default_value = "https://acme-v02.api.letsencrypt.org/directory"
    )]
    pub acme_directory: String,

    /// A contact for the ACME account, e.g. `mailto:admin@example.org`.
    #[arg(long, env = "GIFCHAT_ACME_CONTACT")]
    pub acme_contact: Option<String>,

    /// Where the ACME account and certificates are kept (default:
    /// `<data dir>/acme`).
    #[arg(long, env = "GIFCHAT_ACME_CACHE")]
    pub acme_cache: Option<PathBuf>,

    /// The CA of a private ACME server's own HTTPS certificate (PEM), for
    /// servers such as step-ca; the public roots otherwise.
    #[arg(long, env = "GIFCHAT_ACME_CA")]
    pub acme_ca: Option<std::path::PathBuf>,

    /// Mark the session cookie `Secure` (set this when served over HTTPS;
    /// always on with `--tls-cert` or `--acme-domain`).
    /// In the environment: 1/0, true/false, yes/no, on/off, in any case.
    #[arg(long, env = "GIFCHAT_SECURE_COOKIES", action = clap::ArgAction::SetTrue,
          value_parser = parse_bool)]
    pub secure_cookies: bool,

    /// How long a user stays present after their last stream or poll ends,
    /// so that page reloads do not flap join/leave notices.
    #[arg(long, env = "GIFCHAT_LEAVE_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub leave_grace: Duration,

    /// How long a page view or a post keeps its user present in the room
    /// when no stream or poll of theirs does (a page without JavaScript, a
    /// curl poster): they are members meanwhile, and the room is not
    /// deleted while anyone posted or looked within this window. 0: only
    /// streams and polls count.
    #[arg(long, env = "GIFCHAT_VISIT_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub visit_window: Duration,

    /// A room nobody has entered this long after its creation (or after a
    /// restart, or after the node its people were on died) is deleted.
    #[arg(long, env = "GIFCHAT_UNENTERED_ROOM_TTL", default_value = "10m", value_parser = parse_duration)]
    pub unentered_room_ttl: Duration,

    /// With PostgreSQL, how long a node counts as alive after it last said
    /// so: a node that dies (or is cut off) takes its users' presence with
    /// it after this long, with leave notices. Renewed every third of it.
    #[arg(long, env = "GIFCHAT_NODE_LEASE", default_value = "15s", value_parser = parse_duration)]
    pub node_lease: Duration,

    /// Largest accepted GIF upload, in bytes (suffixes KiB, MiB accepted).
    #[arg(long, env = "GIFCHAT_MAX_UPLOAD", default_value = "5MiB", value_parser = parse_size)]
    pub max_upload: u64,

    /// Widest and tallest GIF accepted, in pixels (canvas and frames).
    #[arg(long, env = "GIFCHAT_MAX_GIF_SIDE", default_value_t = 4096)]
    pub max_gif_side: u32,

    /// Most pixels a GIF may decode to: its canvas area times its frames
    /// (what a browser composes).
    #[arg(long, env = "GIFCHAT_MAX_GIF_PIXELS", default_value_t = 100_000_000)]
    pub max_gif_pixels: u64,

    /// Time a client has to send a request's head (against slowloris).
    #[arg(long, env = "GIFCHAT_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// A connection with no request in flight this long is closed (an
    /// open stream or poll is a request in flight).
    #[arg(long, env = "GIFCHAT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Longest an ordinary request may take (streams, polls and uploads
    /// have their own bounds).
    #[arg(long, env = "GIFCHAT_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Interval between SSE keep-alive comments.
    #[arg(long, env = "GIFCHAT_KEEP_ALIVE", default_value = "15s", value_parser = parse_duration)]
    pub keep_alive: Duration,

    /// Peers whose `X-Forwarded-For` header is believed, as `proxy-addr`
    /// does (the client address is the rightmost untrusted hop): CIDR
    /// ranges, bare addresses, or `loopback`, `linklocal`, `uniquelocal`.
    #[arg(long, env = "GIFCHAT_TRUST_PROXY", value_delimiter = ',', num_args = 1..)]
    pub trust_proxy: Vec<TrustedProxy>,

    /// Posts (any state-changing request) per second per session; an
    /// address may make four times as many. 0 disables the limit.
    #[arg(long, env = "GIFCHAT_POST_RATE", default_value_t = 5.0, value_parser = parse_rate)]
    pub post_rate: f64,

    /// Posts a session may make in a burst before the rate applies.
    #[arg(long, env = "GIFCHAT_POST_BURST", default_value_t = 20)]
    pub post_burst: u32,

    /// Streams and polls one client address may hold open at once
    /// (0: no cap).
    #[arg(long, env = "GIFCHAT_MAX_STREAMS_PER_ADDR", default_value_t = 256)]
    pub max_streams_per_addr: usize,

    /// Wrong room passwords one client address may try per minute (a room
    /// takes four times as many from everyone together); then 429 until
    /// the minute has refilled. 0 disables the limit.
    #[arg(long, env = "GIFCHAT_PASSWORD_GUESSES", default_value_t = 10)]
    pub password_guesses: u32,

    /// Sessions one client address may store per hour (a session is stored
    /// once it posts, names itself or is admitted somewhere). 0: no limit.
    #[arg(long, env = "GIFCHAT_NEW_SESSIONS_PER_ADDR", default_value_t = 100)]
    pub new_sessions_per_addr: u32,

    /// GIF uploads one client address may send at once (0: no cap).
    #[arg(long, env = "GIFCHAT_MAX_UPLOADS_PER_ADDR", default_value_t = 4)]
    pub max_uploads_per_addr: usize,

    /// Longest a GIF upload may take to arrive; a slower or stalled one is
    /// cut (408) and its partial file removed.
    #[arg(long, env = "GIFCHAT_UPLOAD_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub upload_timeout: Duration,

    /// Events a room's broadcast channel buffers; a subscriber further
    /// behind catches up from the database instead.
    #[arg(
        long,
        env = "GIFCHAT_ROOM_CHANNEL_CAPACITY",
        default_value_t = 1024,
        hide = true
    )]
    pub room_channel_capacity: usize,

    /// Serve `GET /metrics` on this address only, not on `--addr`: keeps
    /// the metrics off the public port (e.g. `127.0.0.1:9105`). Unset,
    /// `/metrics` is served on `--addr` with everything else.
    #[arg(long, env = "GIFCHAT_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Log filter, in `tracing_subscriber::EnvFilter` syntax.
    #[arg(long, env = "GIFCHAT_LOG", default_value = "info")]
    pub log: String,
}

/// Commands that work on an installation instead of serving it.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Writes a consistent copy of the database (SQLite's online backup, so
    /// the server may keep running), the GIFs it refers to and the cookie
    /// secret into DIR, a new or empty folder. Serve the copy with
    /// `gifchat --data-dir DIR/data --uploads-dir DIR/uploads`.
    Backup {
        /// Where the copy goes.
        dir: PathBuf,
    },
    /// Copies a whole database (rooms, events with their ids, admissions,
    /// bans, sessions) into another, empty one: how an installation moves
    /// from SQLite to PostgreSQL. Stop the server first; point the new one
    /// at the same uploads folder and cookie secret.
    CopyDatabase {
        /// The database to copy, e.g. sqlite:data/gifchat.sqlite3.
        #[arg(long, value_parser = DatabaseUrl::parse)]
        from: DatabaseUrl,
        /// The empty database to copy into, e.g. postgres://gifchat@localhost/gifchat.
        #[arg(long, value_parser = DatabaseUrl::parse)]
        to: DatabaseUrl,
    },
}

impl Config {
    /// The database to use: `--database`, or SQLite in the data dir.
    pub fn database_url(&self) -> DatabaseUrl {
        self.database
            .clone()
            .unwrap_or_else(|| DatabaseUrl::Sqlite(self.data_dir.join(crate::db::DB_FILE)))
    }

    /// Whether this server speaks HTTPS itself.
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() || !self.acme_domain.is_empty()
    }

    /// Where HTTPS gets its certificate, if it is on.
    pub fn certificate_source(&self) -> Result<Option<CertificateSource>, String> {
        match (&self.tls_cert, &self.tls_key, self.acme_domain.is_empty()) {
            (None, None, true) => Ok(None),
            (Some(cert), Some(key), true) => Ok(Some(CertificateSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None, false) => Ok(Some(CertificateSource::Acme(Acme {
                domains: self.acme_domain.clone(),
                directory: self.acme_directory.clone(),
                contact: self.acme_contact.clone(),
                server_ca: self.acme_ca.clone(),
                cache: (self.acme_cache.clone()).unwrap_or_else(|| self.data_dir.join("acme")),
            }))),
            (_, _, false) => Err("--acme-domain or --tls-cert, not both".into()),
            _ => Err("--tls-cert and --tls-key go together".into()),
        }
    }

    /// How big an uploaded GIF may be once decoded.
    pub fn gif_limits(&self) -> crate::uploads::GifLimits {
        crate::uploads::GifLimits {
            max_side: self.max_gif_side,
            max_pixels: self.max_gif_pixels,
        }
    }

    /// The embedded defaults with data and uploads under `root`: what the
    /// tests and the benchmark start from.
    pub fn for_dir(root: &std::path::Path) -> Self {
        let mut config = Config::parse_from(["gifchat"]);
        config.data_dir = root.join("data");
        config.uploads_dir = root.join("uploads");
        config
    }
}

/// Durations read like `5s`, `500ms`, `2m`.
/// A yes or a no as people write it: 1/0, true/false, yes/no, on/off, in
/// any case.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "{text:?} is neither yes nor no (1/0, true/false, yes/no, on/off)"
        )),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write it like 5s, 500ms or 2m)"))
}

/// A rate: a finite number, zero or more (`NaN` or `inf` would disable
/// or break the limit without saying so).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate: write a number, 0 or more (0 disables the limit)"
        )),
    }
}

/// Sizes read like `5242880`, `512KiB`, `5MiB` (also `KB`/`MB`, binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (write it like 5MiB)"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}`")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_as_documented() {
        assert_eq!(parse_size("5MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn rates_must_be_finite_numbers() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert_eq!(parse_rate("0"), Ok(0.0));
        for bad in ["NaN", "nan", "inf", "-inf", "-1", "fast", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
            let parsed = Config::try_parse_from(["gifchat", "--post-rate", bad]);
            assert!(parsed.is_err(), "--post-rate {bad} is refused at start-up");
        }
    }

    #[test]
    fn defaults_need_no_configuration() {
        let config = Config::parse_from(["gifchat"]);
        assert_eq!(config.addr.to_string(), "127.0.0.1:8005");
        assert_eq!(config.leave_grace, Duration::from_secs(5));
        assert_eq!(config.visit_window, Duration::from_secs(300));
        assert_eq!(config.max_upload, 5 * 1024 * 1024);
        let off = Config::parse_from(["gifchat", "--visit-window", "0"]);
        assert_eq!(off.visit_window, Duration::ZERO, "0 turns visits off");
    }

    #[test]
    fn a_boolean_setting_reads_the_usual_spellings_and_refuses_others() {
        for yes in ["1", "true", "TRUE", "yes", "Yes", "on", "ON"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "false", "False", "no", "NO", "off", "Off"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert!(parse_bool("banana").is_err());
    }
}
