//! The `gifchat` binary: read the configuration, set up logging, bind, and
//! serve until SIGINT or SIGTERM.

use clap::Parser;
use gifchat::Config;
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
    tracing_subscriber::fmt()
        // Colors only for a person watching, not for journald or files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
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
