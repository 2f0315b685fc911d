//! Memory per idle viewer over HTTPS (`--idle-tls h1` or `--idle-tls h2`):
//! the server serves a self-signed certificate made here; viewers open a
//! room's stream and read nothing more. Over `h1`, one TLS connection per
//! viewer, as a browser's HTTP/1.1 has; over `h2`, `--streams-per-connection`
//! streams share each connection, as a browser's tabs share one.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Empty;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Semaphore,
    task::JoinSet,
};

use crate::stats::rss_bytes;

/// HTTP/1.1 or HTTP/2 inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Over {
    H1,
    H2,
}

/// A self-signed certificate for 127.0.0.1: (cert, key) PEM.
pub fn certificate() -> Result<(String, String), crate::BoxError> {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    Ok((made.cert.pem(), made.key_pair.serialize_pem()))
}

/// Anything a viewer keeps open: dropping it hangs up.
type Held = Box<dyn std::any::Any + Send>;

/// What a connection keeps open, and how many streams it carries.
type Opened = (Vec<Held>, usize);

pub async fn run(
    addr: SocketAddr,
    pid: Option<u32>,
    cert: &str,
    over: Over,
    viewers: usize,
    per_connection: usize,
    settle: Duration,
) -> crate::Result<()> {
    let tls = connector(cert, over)?;
    let room = create_room(addr, cert).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pid.and_then(rss_bytes);
    let per_connection = match over {
        Over::H1 => 1,
        Over::H2 => per_connection.max(1),
    };
    let connections = viewers.div_ceil(per_connection);
    let gate = Arc::new(Semaphore::new(256));
    let mut opening = JoinSet::new();
    for c in 0..connections {
        let streams = per_connection.min(viewers - c * per_connection);
        let (tls, room, gate) = (tls.clone(), room.clone(), gate.clone());
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            match over {
                Over::H1 => open_h1(addr, &tls, &room).await,
                Over::H2 => open_h2(addr, &tls, &room, streams).await,
            }
        });
    }
    let (mut held, mut streams, mut failed) = (Vec::new(), 0, 0);
    while let Some(opened) = opening.join_next().await {
        match opened {
            Ok(Ok((mut kept, opened))) => {
                held.append(&mut kept);
                streams += opened;
            }
            _ => failed += 1,
        }
    }
    println!(
        "idle viewers over HTTPS ({over:?}): {streams} streams on {connections} connections, {failed} connections failed"
    );
    tokio::time::sleep(settle).await;
    if let (Some(before), Some(idle)) = (before, pid.and_then(rss_bytes)) {
        println!(
            "server memory: RSS {:.1} MiB before, {:.1} MiB with {} idle viewers = {:.2} KiB per idle viewer",
            before as f64 / 1048576.0,
            idle as f64 / 1048576.0,
            streams,
            (idle as f64 - before as f64) / streams.max(1) as f64 / 1024.0
        );
    }
    drop(held);
    Ok(())
}

fn connector(cert: &str, over: Over) -> crate::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(cert.as_bytes())?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![match over {
        Over::H1 => b"http/1.1".to_vec(),
        Over::H2 => b"h2".to_vec(),
    }];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn create_room(addr: SocketAddr, cert: &str) -> crate::Result<Arc<str>> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes())?)
        .build()?;
    let room: serde_json::Value = client
        .post(format!("https://{addr}/rooms"))
        .header("accept", "application/json")
        .json(&serde_json::json!({ "title": "idle viewers", "max": 10_000 }))
        .send()
        .await?
        .json()
        .await?;
    let id = room["id"].as_str().ok_or("no room id")?;
    Ok(id.into())
}

async fn tls_stream(
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
) -> crate::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    Ok(tls.connect(ServerName::try_from("127.0.0.1")?, tcp).await?)
}

/// One viewer on a TLS connection of its own, its answer's head read.
async fn open_h1(
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    room: &str,
) -> crate::Result<Opened> {
    let mut stream = tls_stream(addr, tls).await?;
    let request = format!(
        "GET /rooms/{room}/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("the stream closed before its head".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(String::from_utf8_lossy(&head).into_owned().into());
    }
    Ok((vec![Box::new(stream)], 1))
}

/// `streams` viewers sharing one HTTP/2 connection.
async fn open_h2(
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    room: &str,
    streams: usize,
) -> crate::Result<Opened> {
    let stream = tls_stream(addr, tls).await?;
    let (mut sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await?;
    let driver = tokio::spawn(connection);
    let mut held: Vec<Held> = vec![Box::new(AbortOnDrop(driver))];
    for _ in 0..streams {
        let request = hyper::Request::get(format!("https://127.0.0.1/rooms/{room}/events"))
            .header("accept", "text/event-stream")
            .body(Empty::<bytes::Bytes>::new())?;
        sender.ready().await?;
        let answer = sender.send_request(request).await?;
        if answer.status() != 200 {
            return Err(format!("a stream answered {}", answer.status()).into());
        }
        held.push(Box::new(answer.into_body()));
    }
    held.push(Box::new(sender));
    Ok((held, streams))
}

struct AbortOnDrop(tokio::task::JoinHandle<hyper::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
