//! Certificates from an ACME server, end to end against Debian's `pebble`
//! (an ACME test server) started here: `--acme-domain localhost` obtains a
//! certificate through the TLS-ALPN-01 challenge on gifchat's own port,
//! serves it over HTTPS, and orders a new one by itself before it expires.
//!
//! Without `pebble` installed, one "acme tests skipped" line and success;
//! `GIFCHAT_ACME_TESTS=required` (CI) makes that a failure.

use std::{net::SocketAddr, path::Path, process::Stdio, sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
};

use crate::requirement::{Mode, mode};

/// How long pebble's certificates live: short, so that the renewal (due
/// when a third of the life is left) comes within the test.
const VALIDITY_SECONDS: u64 = 24;

/// Debian's pebble, or why the tests do not run.
fn pebble() -> Option<&'static str> {
    const PEBBLE: &str = "/usr/bin/pebble";
    let mode = mode("GIFCHAT_ACME_TESTS");
    let installed = Path::new(PEBBLE).is_file();
    match (mode, installed) {
        (Mode::Skip, _) => None,
        (_, true) => Some(PEBBLE),
        (Mode::Required, false) => {
            panic!(
                "GIFCHAT_ACME_TESTS=required, but {PEBBLE} is missing: install Debian's `pebble`"
            )
        }
        (Mode::Auto, false) => {
            eprintln!("acme tests skipped: no {PEBBLE} (install Debian's `pebble`)");
            None
        }
    }
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Pebble, validating challenges on `tls_port`, with its own HTTPS
/// certificate (made here, trusted through `--acme-ca`) in `dir`. Killed
/// when dropped.
struct Pebble {
    _child: Child,
    directory: String,
    management: u16,
    /// PEM of the certificate pebble's own HTTPS answers with.
    own_cert: String,
}

async fn start_pebble(program: &str, dir: &Path, tls_port: u16) -> Pebble {
    let own =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let own_cert = own.cert.pem();
    std::fs::write(dir.join("pebble-cert.pem"), &own_cert).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), own.key_pair.serialize_pem()).unwrap();
    let (port, management) = (free_port().await, free_port().await);
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": free_port().await,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": VALIDITY_SECONDS,
        }
    });
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let child = Command::new(program)
        .arg("-config")
        .arg(dir.join("pebble.json"))
        // No random pause before validating, no nonce refused on purpose:
        // pebble's ways of testing clients' patience, not ours.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("pebble starts");
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Pebble {
        _child: child,
        directory: format!("https://127.0.0.1:{port}/dir"),
        management,
        own_cert,
    }
}

/// The root pebble signs with (new on every start), from its management
/// interface.
async fn pebble_root(pebble: &Pebble) -> String {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pebble.own_cert.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/roots/0", pebble.management);
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// The leaf certificate gifchat shows for `localhost`, if a handshake
/// trusting `root` succeeds.
async fn served_leaf(addr: SocketAddr, root: &str) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root.as_bytes()).ok()?)
        .ok()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.ok()?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").ok()?, tcp)
        .await
        .ok()?;
    Some(tls.get_ref().1.peer_certificates()?.first()?.to_vec())
}

/// Polls until gifchat serves a certificate trusted by `root` other than
/// `not`, or `wait` passes.
async fn next_leaf(addr: SocketAddr, root: &str, not: Option<&[u8]>, wait: Duration) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(leaf) = served_leaf(addr, root).await
            && Some(leaf.as_slice()) != not
        {
            return leaf;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no (new) certificate within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_is_obtained_served_and_renewed_by_itself() {
    let Some(program) = pebble() else {
        return;
    };
    let dir = tempfile::TempDir::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pebble = start_pebble(program, dir.path(), addr.port()).await;

    let mut config = gifchat::Config::for_dir(&dir.path().join("gifchat"));
    config.acme_domain = vec!["localhost".into()];
    config.acme_directory = pebble.directory.clone();
    config.acme_ca = Some(dir.path().join("pebble-cert.pem"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gifchat::run(listener, config, async {
        let _ = stopped.await;
    }));

    let root = pebble_root(&pebble).await;
    let first = next_leaf(addr, &root, None, Duration::from_secs(30)).await;
    // Served over HTTPS, HTTP/2 included, to a client that trusts the CA.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);

    // A third of its life before it ends, a new one, by itself.
    let wait = Duration::from_secs(VALIDITY_SECONDS + 20);
    let renewed = next_leaf(addr, &root, Some(&first), wait).await;
    assert_ne!(renewed, first);

    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(20), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}
