//! Posters: sessions on keep-alive connections posting chat messages,
//! either on a schedule (fan-out mode) or as fast as answers come back
//! (writer mode).

use std::{
    io::Write,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use crate::{
    http::{Conn, cookie_line, err},
    stats::Histogram,
};

/// A keep-alive connection with its own session.
pub struct Session {
    pub conn: Conn,
    pub cookie: String,
    addr: SocketAddr,
    request: Vec<u8>,
    /// Whether each post carries a `client_id`, as the browser's do.
    pub client_ids: bool,
    /// Publishes to Nchan's channel instead (`nchan.rs`).
    nchan: bool,
}

impl Session {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Session> {
        let mut conn = Conn::connect(addr).await?;
        let response = conn
            .request(b"GET /me HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n")
            .await?;
        let cookie = response
            .head
            .cookie
            .ok_or_else(|| err("GET /me set no session cookie"))?;
        Ok(Session {
            conn,
            cookie,
            addr,
            request: Vec::with_capacity(512),
            client_ids: false,
            nchan: false,
        })
    }

    /// A publisher to Nchan at `addr`: the same messages, no session.
    pub async fn nchan_publisher(addr: SocketAddr) -> std::io::Result<Session> {
        Ok(Session {
            conn: Conn::connect(addr).await?,
            cookie: String::new(),
            addr,
            request: Vec::with_capacity(512),
            client_ids: false,
            nchan: true,
        })
    }

    /// A fresh connection for the same session: the server closes
    /// connections left idle longer than its header timeout, as these are
    /// while the viewers connect.
    pub async fn reconnect(&mut self) -> std::io::Result<()> {
        self.conn = Conn::connect(self.addr).await?;
        Ok(())
    }

    /// Creates a public room for up to `max` members; returns its id.
    pub async fn create_room(&mut self, max: usize) -> std::io::Result<String> {
        let body = format!(r#"{{"title":"fanout benchmark","max":{max}}}"#);
        let request = format!(
            "POST /rooms HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            cookie_line(Some(&self.cookie)),
        );
        let response = self.conn.request(request.as_bytes()).await?;
        if response.head.status != 201 {
            return Err(err(format!(
                "creating the room answered {}: {}",
                response.head.status,
                String::from_utf8_lossy(&response.body)
            )));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&response.body).map_err(|e| err(format!("room JSON: {e}")))?;
        json["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| err("room JSON without id"))
    }

    /// Opens the room's page: the poster is then a member (a visit), as a
    /// person posting from the page is, so that their arrival is not
    /// news in the measured window.
    pub async fn view(&mut self, room: &str) -> std::io::Result<()> {
        let request = format!(
            "GET /rooms/{room} HTTP/1.1\r\nHost: bench\r\nAccept: text/html\r\n{}\r\n",
            cookie_line(Some(&self.cookie)),
        );
        let response = self.conn.request(request.as_bytes()).await?;
        match response.head.status {
            200 => Ok(()),
            status => Err(err(format!("the room's page answered {status}"))),
        }
    }

    /// Posts `fo <number> <sent_ns>` and returns the status.
    pub async fn post(&mut self, room: &str, number: usize, sent_ns: u64) -> std::io::Result<u16> {
        let mut body = [0u8; 128];
        let body_len = {
            let mut cursor = &mut body[..];
            if self.client_ids {
                write!(
                    cursor,
                    r#"{{"chat":"fo {number} {sent_ns}","client_id":"fo-{number}"}}"#
                )?;
            } else {
                write!(cursor, r#"{{"chat":"fo {number} {sent_ns}"}}"#)?;
            }
            128 - cursor.len()
        };
        self.request.clear();
        if self.nchan {
            write!(
                self.request,
                "POST /pub?id={room} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
            )?;
        } else {
            write!(
                self.request,
                "POST /rooms/{room}/messages HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\nCookie: {}\r\n\r\n",
                self.cookie
            )?;
        }
        self.request.extend_from_slice(&body[..body_len]);
        let request = std::mem::take(&mut self.request);
        let answer = self.conn.request(&request).await;
        self.request = request;
        Ok(answer?.head.status)
    }

    /// Whether a post answered `status` was taken: stored by gifchat, or
    /// queued (202) or delivered (201) by Nchan.
    pub fn taken(&self, status: u16) -> bool {
        status == 201 || (self.nchan && status == 202)
    }
}

/// Outcome of scheduled posting.
pub struct Posted {
    /// Which message numbers were answered 201.
    pub ok: Vec<bool>,
    pub answers: Histogram,
    /// How far behind schedule posts went out, at worst.
    pub worst_lag: Duration,
    pub errors: u64,
}

/// Posts `messages` messages at `rate` per second from `sessions`
/// (message i goes out at `start + i / rate` on session `i % sessions`).
pub async fn scheduled(
    sessions: Vec<Session>,
    room: Arc<str>,
    messages: usize,
    rate: f64,
    epoch: Instant,
) -> Posted {
    let ok: Arc<Vec<AtomicBool>> =
        Arc::new((0..messages).map(|_| AtomicBool::new(false)).collect());
    let answers = Arc::new(Histogram::new());
    let errors = Arc::new(AtomicU64::new(0));
    let worst_lag = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let every = sessions.len();
    let mut tasks = Vec::new();
    for (k, mut session) in sessions.into_iter().enumerate() {
        let (ok, answers, errors, worst_lag, room) = (
            ok.clone(),
            answers.clone(),
            errors.clone(),
            worst_lag.clone(),
            room.clone(),
        );
        tasks.push(tokio::spawn(async move {
            if session.reconnect().await.is_err() {
                errors.fetch_add(1, Relaxed);
                return;
            }
            for i in (k..messages).step_by(every) {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due).await;
                let lag = tokio::time::Instant::now().saturating_duration_since(due);
                worst_lag.fetch_max(lag.as_micros() as u64, Relaxed);
                let sent = Instant::now();
                let sent_ns = sent.duration_since(epoch).as_nanos() as u64;
                match session.post(&room, i, sent_ns).await {
                    Ok(status) if session.taken(status) => {
                        ok[i].store(true, Relaxed);
                        answers.record_us(sent.elapsed().as_micros() as u64);
                    }
                    Ok(_) => {
                        errors.fetch_add(1, Relaxed);
                    }
                    Err(_) => {
                        // Not retried (the server may have stored it); the
                        // next message goes out on a new connection.
                        errors.fetch_add(1, Relaxed);
                        if session.reconnect().await.is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let answers = Arc::try_unwrap(answers).unwrap_or_else(|_| Histogram::new());
    Posted {
        ok: ok.iter().map(|b| b.load(Relaxed)).collect(),
        answers,
        worst_lag: Duration::from_micros(worst_lag.load(Relaxed)),
        errors: errors.load(Relaxed),
    }
}

/// Outcome of posting as fast as possible.
pub struct Flood {
    pub stored: u64,
    pub by_status: std::collections::BTreeMap<u16, u64>,
    pub failures: u64,
    pub answers: Histogram,
    pub elapsed: Duration,
}

/// Every session posts, waits for its answer and posts again, for `run`.
pub async fn flood(sessions: Vec<Session>, room: Arc<str>, run: Duration) -> Flood {
    let answers = Arc::new(Histogram::new());
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + run;
    let mut tasks = Vec::new();
    for (k, mut session) in sessions.into_iter().enumerate() {
        let (answers, room) = (answers.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            let mut failures = 0u64;
            let mut i = k * 1_000_000;
            while tokio::time::Instant::now() < deadline {
                let sent = Instant::now();
                match session.post(&room, i, 0).await {
                    Ok(status) => {
                        if status == 201 {
                            answers.record_us(sent.elapsed().as_micros() as u64);
                        }
                        *statuses.entry(status).or_default() += 1;
                    }
                    Err(_) => {
                        failures += 1;
                        break;
                    }
                }
                i += 1;
            }
            (statuses, failures)
        }));
    }
    let mut by_status = std::collections::BTreeMap::new();
    let mut failures = 0;
    for task in tasks {
        if let Ok((statuses, failed)) = task.await {
            for (status, n) in statuses {
                *by_status.entry(status).or_default() += n;
            }
            failures += failed;
        }
    }
    let elapsed = started.elapsed();
    let answers = Arc::try_unwrap(answers).unwrap_or_else(|_| Histogram::new());
    Flood {
        stored: by_status.get(&201).copied().unwrap_or(0),
        by_status,
        failures,
        answers,
        elapsed,
    }
}
