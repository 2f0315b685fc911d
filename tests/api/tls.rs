//! HTTPS in the binary (`--tls-cert`, `--tls-key`): HTTP/2 offered before
//! HTTP/1.1, many live streams over one HTTP/2 connection, cookies marked
//! `Secure`, and a renewed certificate served without a restart. The
//! certificates are self-signed, made here.

use std::{path::Path, sync::Arc, time::Duration};

use http_body_util::BodyExt;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use crate::helpers::{Client, TestApp, eventually};

/// A self-signed certificate for localhost and 127.0.0.1: (cert, key) PEM.
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a certificate");
    (made.cert.pem(), made.key_pair.serialize_pem())
}

/// Writes a certificate and key where the server reads them, each file
/// replaced whole (as a renewal does), never seen half written.
fn install(dir: &Path, (cert, key): &(String, String)) {
    for (name, pem) in [("cert.pem", cert), ("key.pem", key)] {
        let part = dir.join(format!("{name}.part"));
        std::fs::write(&part, pem).unwrap();
        std::fs::rename(part, dir.join(name)).unwrap();
    }
}

/// A server on HTTPS with `pair`, its certificate folder, and its URL.
async fn https_app(pair: &(String, String)) -> (TestApp, tempfile::TempDir, String) {
    let certs = tempfile::TempDir::new().unwrap();
    install(certs.path(), pair);
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let app = TestApp::spawn_with(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    (app, certs, base)
}

/// A visitor that trusts `cert` (PEM), on `base`.
fn visitor(base: &str, cert: &str, http1_only: bool) -> Client {
    let root = reqwest::Certificate::from_pem(cert.as_bytes()).unwrap();
    Client::tuned(base, |builder| {
        let builder = builder
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root.clone());
        if http1_only {
            builder.http1_only()
        } else {
            builder
        }
    })
}

/// A TLS connection to `app` trusting `roots`, offering only `h2`.
async fn tls_connection(
    app: &TestApp,
    roots: &[&str],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        store
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake")
}

/// The certificate a new connection is shown (DER).
async fn served_certificate(app: &TestApp, roots: &[&str]) -> Option<Vec<u8>> {
    let stream = TcpStream::connect(app.addr).await.ok()?;
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        store
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).ok()?)
            .ok()?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(store)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").ok()?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .ok()?;
    let certs = tls.get_ref().1.peer_certificates()?;
    Some(certs.first()?.to_vec())
}

#[tokio::test]
async fn https_speaks_http2_and_http11_and_its_cookies_are_secure() {
    let pair = self_signed();
    let (_app, _certs, base) = https_app(&pair).await;

    let h2 = visitor(&base, &pair.0, false);
    let answer = h2
        .http
        .get(h2.url("/me"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    let cookie = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    // The same visitor goes on over HTTPS: the Secure cookie came back.
    let id = answer.json::<serde_json::Value>().await.unwrap()["id"].clone();
    assert_eq!(h2.me().await["id"], id);

    let h1 = visitor(&base, &pair.0, true);
    let answer = h1.http.get(h1.url("/healthz")).send().await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    assert_eq!(answer.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rooms_stream_live_over_one_http2_connection() {
    const ROOMS: usize = 20;
    let pair = self_signed();
    let (app, _certs, base) = https_app(&pair).await;
    let owner = visitor(&base, &pair.0, false);
    let mut rooms = Vec::new();
    for n in 0..ROOMS {
        rooms.push(owner.new_room(&format!("Room {n}"), 10, None).await);
    }

    let tls = tls_connection(&app, &[&pair.0]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("an HTTP/2 connection");
    tokio::spawn(connection);
    let mut bodies = Vec::new();
    for room in &rooms {
        let request = hyper::Request::get(format!("https://localhost/rooms/{room}/events"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let answer = sender.send_request(request).await.unwrap();
        assert_eq!(answer.status(), 200);
        bodies.push(answer.into_body());
    }
    for (n, room) in rooms.iter().enumerate() {
        owner.say(room, &format!("hello room {n}")).await;
    }
    for (n, body) in bodies.iter_mut().enumerate() {
        let wanted = format!("hello room {n}");
        let mut seen = String::new();
        let found = tokio::time::timeout(Duration::from_secs(5), async {
            while !seen.contains(&wanted) {
                let frame = body.frame().await.unwrap().unwrap();
                if let Some(data) = frame.data_ref() {
                    seen.push_str(&String::from_utf8_lossy(data));
                }
            }
        })
        .await;
        assert!(found.is_ok(), "stream {n} got its message: {seen}");
        for other in (0..ROOMS).filter(|o| *o != n) {
            assert!(!seen.contains(&format!("hello room {other}\"")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let (old, new) = (self_signed(), self_signed());
    let (app, certs, base) = https_app(&old).await;
    let roots = [old.0.as_str(), new.0.as_str()];
    let der = |pem: &str| {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    };
    assert_eq!(served_certificate(&app, &roots).await, Some(der(&old.0)));

    install(certs.path(), &new);
    let renewed = eventually(Duration::from_secs(10), || async {
        served_certificate(&app, &roots).await == Some(der(&new.0))
    })
    .await;
    assert!(renewed, "the new certificate is served");
    let after = visitor(&base, &new.0, false);
    assert_eq!(
        after
            .http
            .get(after.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A renewal caught half written is not served: the last good one is.
    std::fs::write(
        certs.path().join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served_certificate(&app, &roots).await, Some(der(&new.0)));
}

#[tokio::test]
async fn a_certificate_that_cannot_be_read_stops_the_start_with_its_name() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = gifchat::Config::for_dir(dir.path());
    config.tls_cert = Some(dir.path().join("missing.pem"));
    config.tls_key = Some(dir.path().join("key.pem"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = gifchat::run(listener, config, async {}).await;
    let error = started
        .expect_err("no start without the certificate")
        .to_string();
    assert!(
        error.contains("--tls-cert") && error.contains("missing.pem"),
        "{error}"
    );
}
