//! The `gifchat` binary: read the configuration, set up logging, bind, and
//! serve until SIGINT or SIGTERM; or run a command (`gifchat backup DIR`,
//! `gifchat copy-database --from URL --to URL`).

use clap::Parser;
use gifchat::{Config, config::Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    // A missing .env is the normal case; a malformed one is worth a word.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("gifchat: ignoring .env: {e}");
    }
    let config = Config::parse();
    if let Some(command) = &config.command {
        std::process::exit(run_command(&config, command).await);
    }
    tracing_subscriber::fmt()
        // Colors only for a person watching, not for journald or files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    raise_open_file_limit();
    let listener = match listen(config.addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("gifchat: cannot listen on {}: {e}", config.addr);
            std::process::exit(1);
        }
    };
    if let Err(e) = gifchat::run(listener, config, shutdown_signal()).await {
        eprintln!("gifchat: {e}");
        std::process::exit(1);
    }
}

/// Runs a command instead of the server; the process's exit code.
async fn run_command(config: &Config, command: &Command) -> i32 {
    match command {
        Command::CopyDatabase { from, to } => match gifchat::db::copy::copy(from, to).await {
            Ok(copied) => {
                let rows: Vec<String> = copied
                    .rows
                    .iter()
                    .map(|(table, count)| format!("{count} {table}"))
                    .collect();
                println!(
                    "gifchat: copied {} from {from} to {to}; the next event id is {}",
                    rows.join(", "),
                    copied.newest_id + 1
                );
                0
            }
            Err(e) => {
                eprintln!("gifchat: copy-database failed: {e}");
                1
            }
        },
        Command::Backup { dir } => match gifchat::backup::backup(config, dir) {
            Ok(copied) => {
                println!(
                    "gifchat: backed up {} rooms, {} events and {} GIFs into {}",
                    copied.rooms,
                    copied.events,
                    copied.files,
                    dir.display()
                );
                if copied.missing.is_empty() {
                    0
                } else {
                    eprintln!(
                        "gifchat: {} GIFs were deleted during the backup and are missing: {}",
                        copied.missing.len(),
                        copied.missing.join(", ")
                    );
                    1
                }
            }
            Err(e) => {
                eprintln!("gifchat: backup failed: {e}");
                1
            }
        },
    }
}

/// Connections that may wait to be accepted. The kernel caps it at
/// `net.core.somaxconn` (4096 by default on recent Linux): raise that too
/// when thousands of clients reconnect at once.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds with a deep accept queue: tokio's default (1024) is too short
/// when a room's thousands of viewers reconnect together after a restart.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Every SSE viewer and every waiting poll holds a socket: raises the
/// open-file soft limit as far as the hard limit allows, and says so.
fn raise_open_file_limit() {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) if now > before => {
            tracing::info!(from = before, to = now, "raised the open-file limit");
        }
        Ok(now) => tracing::info!(limit = now, "open-file limit already at its maximum"),
        Err(e) => tracing::warn!(limit = before, error = %e, "cannot raise the open-file limit"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
