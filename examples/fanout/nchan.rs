//! The same fan-out against Nchan (the nginx pub/sub module) in place of
//! gifchat, so that both are measured by one load generator in the same
//! minutes: `--nchan` with `--pollers N`.
//!
//! Nginx from Debian (`apt-get install nginx libnginx-mod-nchan`) runs with
//! one worker on a free port, configured as [`CONFIG`] shows: a publisher
//! location and a long-poll subscriber location whose answers carry every
//! waiting message (multipart), as a gifchat poll answer does, from a
//! message buffer that keeps every message of the run, as gifchat stores
//! them. Messages are published with the body a gifchat post has, so the
//! pollers find them as they find gifchat's. A poller asks again at once
//! with the `If-Modified-Since` and `If-None-Match` of its last answer,
//! which is Nchan's cursor. CPU time and memory are the master's and the
//! worker's, added up.

use std::{
    io,
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use memchr::memmem;
use tempfile::TempDir;

use crate::{
    http::{Conn, err},
    sse::{MARKER, Shared},
    stats::Seen,
};

/// The channel every poller subscribes to and every message goes to.
pub const CHANNEL: &str = "bench";

/// Where Debian puts nginx and the module.
const NGINX: &str = "/usr/sbin/nginx";
const MODULE: &str = "/usr/lib/nginx/modules/ngx_nchan_module.so";

/// The configuration, `{dir}` the run's folder and `{port}` its port.
const CONFIG: &str = r#"
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
load_module {module};
events { worker_connections 30000; }
http {
    access_log off;
    client_body_temp_path {dir}/body;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:{port} backlog=4096;
        location = /pub {
            nchan_publisher;
            nchan_channel_id $arg_id;
            nchan_message_buffer_length 10000;
            nchan_message_timeout 10m;
        }
        location ~ ^/sub/(\w+)$ {
            nchan_subscriber longpoll;
            nchan_channel_id $1;
            nchan_longpoll_multipart_response on;
            nchan_subscriber_first_message newest;
            nchan_subscriber_timeout 60s;
        }
    }
}
"#;

/// A running nginx with Nchan, stopped when dropped.
pub struct Nginx {
    pub addr: SocketAddr,
    /// The master's and the worker's.
    pub pids: Vec<u32>,
    child: Child,
    _dir: TempDir,
}

impl Nginx {
    pub fn start() -> crate::Result<Nginx> {
        for needed in [NGINX, MODULE] {
            if !Path::new(needed).exists() {
                return Err(format!(
                    "{needed} not found: apt-get install nginx libnginx-mod-nchan"
                )
                .into());
            }
        }
        let dir = TempDir::new()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = CONFIG
            .replace("{dir}", &dir.path().display().to_string())
            .replace("{module}", MODULE)
            .replace("{port}", &port.to_string());
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, config)?;
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&file)
            .stdin(Stdio::null())
            .spawn()?;
        let mut nginx = Nginx {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            pids: vec![child.id()],
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(nginx.addr).is_err() {
            if Instant::now() > deadline || nginx.child.try_wait()?.is_some() {
                return Err("nginx did not start (see its error.log)".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx.pids.extend(workers(nginx.pids[0]));
        if nginx.pids.len() != 2 {
            return Err("nginx's worker not found".into());
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop would wait for the pollers; they
        // are gone by now, and a plain kill is as good.
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &worker in &self.pids[1..] {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(worker as i32, libc::SIGKILL) };
        }
    }
}

/// The children of `pid` (nginx's worker).
fn workers(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect()
}

/// A long-poll subscriber of [`CHANNEL`] on one keep-alive connection.
pub struct Poller {
    addr: SocketAddr,
    conn: Conn,
    /// `If-Modified-Since` and `If-None-Match` of the last answer.
    cursor: Option<(String, String)>,
    /// Whether the next poll's request is already sent (the first is, by
    /// [`open`], so that it waits on the server while memory is read).
    sent: bool,
}

/// Connects and sends the first poll, which waits for the next message.
pub async fn open(addr: SocketAddr) -> io::Result<Poller> {
    let mut poller = Poller {
        addr,
        conn: Conn::connect(addr).await?,
        cursor: None,
        sent: false,
    };
    poller.send().await?;
    Ok(poller)
}

impl Poller {
    async fn send(&mut self) -> io::Result<()> {
        let cursor = match &self.cursor {
            Some((modified, tag)) => {
                format!("If-Modified-Since: {modified}\r\nIf-None-Match: {tag}\r\n")
            }
            None => String::new(),
        };
        let request = format!("GET /sub/{CHANNEL} HTTP/1.1\r\nHost: bench\r\n{cursor}\r\n");
        self.conn.send(request.as_bytes()).await?;
        self.sent = true;
        Ok(())
    }

    async fn poll(&mut self, shared: &Shared, seen: &mut Seen) -> io::Result<()> {
        if !self.sent {
            self.send().await?;
        }
        self.sent = false;
        let limit = Duration::from_secs(120);
        let response = tokio::time::timeout(limit, async {
            let head = self.conn.read_head().await?;
            let body = self.conn.read_body(&head).await?;
            io::Result::Ok((head, body))
        })
        .await
        .map_err(|_| err("no answer in time"))??;
        let (head, body) = response;
        match head.status {
            200 => {}
            // Nothing within the subscriber timeout: ask again.
            304 | 408 => return Ok(()),
            status => return Err(err(format!("poll answered {status}"))),
        }
        let now = shared.now_ns();
        if shared.measuring.load(Relaxed) {
            shared.answers.fetch_add(1, Relaxed);
            shared.answer_bytes.fetch_add(body.len() as u64, Relaxed);
        }
        for at in memmem::find_iter(&body, MARKER) {
            shared.receive(seen, &body[at + MARKER.len()..], now);
        }
        match (head.last_modified, head.etag) {
            (Some(modified), Some(tag)) => self.cursor = Some((modified, tag)),
            _ => return Err(err("an answer without Last-Modified and Etag")),
        }
        Ok(())
    }
}

/// Polls until the benchmark stops; returns which messages arrived.
pub async fn run(mut poller: Poller, shared: Arc<Shared>) -> Seen {
    let mut seen = Seen::new(shared.messages);
    let cancelled = shared.stop.clone().cancelled_owned();
    tokio::pin!(cancelled);
    loop {
        let result = tokio::select! {
            biased;
            _ = &mut cancelled => break,
            result = poller.poll(&shared, &mut seen) => result,
        };
        if result.is_err() {
            shared.failed.fetch_add(1, Relaxed);
            match Conn::connect(poller.addr).await {
                Ok(conn) => (poller.conn, poller.sent) = (conn, false),
                Err(_) => {
                    shared.ended.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
    }
    seen
}
