//! The server under test: this same executable re-run with `--serve`, so
//! that its CPU time and memory are the server's alone.

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// Child side: serves gifchat on 127.0.0.1 (a free port, printed on
/// stdout) over `data_dir` until stdin closes.
pub fn serve(
    data_dir: &Path,
    database: Option<gifchat::db::DatabaseUrl>,
    log: &str,
) -> Result<(), gifchat::BoxError> {
    crate::stats::raise_nofile_limit();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(log)?)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // As `main` does: a deep accept queue.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind("127.0.0.1:0".parse()?)?;
        let listener = socket.listen(4096)?;
        println!("listening {}", listener.local_addr()?);
        let shutdown = async {
            // The parent closes our stdin to stop us (or dies, which does
            // the same), so no server outlives its benchmark.
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut sink);
            })
            .await;
        };
        let mut config = gifchat::Config::for_dir(data_dir);
        config.database = database;
        // Nodes of one benchmark are one installation: one cookie key.
        config.cookie_secret = std::env::var("GIFCHAT_COOKIE_SECRET").ok();
        // Every client of the benchmark comes from 127.0.0.1: the
        // per-address limits (streams, posts, stored sessions) would
        // measure themselves.
        config.max_streams_per_addr = 0;
        config.post_rate = 0.0;
        config.new_sessions_per_addr = 0;
        gifchat::run(listener, config, shutdown).await
    })
}

/// The cookie secret of every server a benchmark starts.
const SECRET: &str = "fanout-benchmark-cookie-secret-shared-by-all-nodes-0123456789abcdef";

/// Parent side: the child process and its data.
pub struct Server {
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    _dir: TempDir,
}

impl Server {
    /// `tls`: the certificate and key (PEM) to serve HTTPS with.
    pub fn start(
        database: Option<&gifchat::db::DatabaseUrl>,
        log: &str,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Server, gifchat::BoxError> {
        let dir = TempDir::new()?;
        let mut command = Command::new(std::env::current_exe()?);
        if let Some(database) = database {
            command.arg("--database").arg(&*database.as_str());
        }
        // Read by the child's configuration as `gifchat` reads them.
        if let Some((cert, key)) = tls {
            command
                .env("GIFCHAT_TLS_CERT", cert)
                .env("GIFCHAT_TLS_KEY", key);
        }
        let mut child = command
            .env("GIFCHAT_COOKIE_SECRET", SECRET)
            .arg("--serve")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--log")
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                return Err("the server did not start within 60 s".into());
            }
        };
        let Some(addr) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the server did not start: {line:?}").into());
        };
        Ok(Server {
            addr: addr.parse()?,
            pid: child.id(),
            child,
            _dir: dir,
        })
    }

    /// Closes the child's stdin (graceful shutdown) and waits for it,
    /// killing it after `patience`.
    pub fn stop(mut self, patience: Duration) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the server did not stop within {patience:?}: killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn data_dir_arg(dir: Option<PathBuf>) -> Result<PathBuf, gifchat::BoxError> {
    dir.ok_or_else(|| "--serve needs --data-dir".into())
}
