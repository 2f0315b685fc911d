//! The real server, in-process on `127.0.0.1:0` with its own temporary data
//! dir, as `tests/api`'s `TestApp` starts it (kept separate so the two test
//! binaries do not share code that either may change).

use std::{net::SocketAddr, time::Duration};

use gifchat::Config;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub struct Server {
    pub addr: SocketAddr,
    /// Served over HTTPS (`--tls-cert`): its certificate is self-signed.
    pub https: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Removed when the server is dropped, after it has stopped.
    _dir: TempDir,
}

impl Server {
    /// Starts the server with test timings, then `tune`'s changes.
    pub async fn start(tune: impl FnOnce(&mut Config)) -> Server {
        init_logs();
        let dir = TempDir::new().expect("temp dir");
        let mut config = Config::for_dir(dir.path());
        // Reloads and closed tabs turn into leaves quickly, and the tests
        // post in bursts from one address.
        config.leave_grace = Duration::from_millis(300);
        config.post_rate = 2000.0;
        config.post_burst = 2000;
        tune(&mut config);
        let https = config.tls_cert.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            gifchat::run(listener, config, shutdown)
                .await
                .expect("server ran");
        });
        Server {
            addr,
            https,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(20), task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the server task failed: {e}"),
                Err(_) => panic!("the server did not stop within 20 s"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Server logs go to the test output (shown for failing tests); the filter
/// comes from `GIFCHAT_TEST_LOG` (default: warnings).
fn init_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let filter = std::env::var("GIFCHAT_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    });
}
