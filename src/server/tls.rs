//! HTTPS in the binary: rustls, offering HTTP/2 (`h2`) before HTTP/1.1 by
//! ALPN, so that a browser's streams to every room share one connection
//! instead of using up the six HTTP/1.1 connections it allows per site.
//!
//! The certificate comes from an ACME server (`--acme-domain`, `acme.rs`),
//! or from PEM files (`--tls-cert`, `--tls-key`), read again whenever
//! either changes on disk: a renewal by certbot, or any
//! ACME client that rewrites the files, is served from the next handshake
//! on, without a restart. A renewal that cannot be read (half written, a
//! key that does not match) is logged and the certificate in use is kept.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use rustls::{
    ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tokio::task::JoinHandle;
pub use tokio_rustls::TlsAcceptor;

use super::acme::{self, Acme, CHALLENGE_ALPN};

/// How often the files are looked at for a renewal.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Files { cert: PathBuf, key: PathBuf },
    Acme(Acme),
}

/// The acceptor, and the task that keeps its certificate current (it runs
/// until aborted). Fails when the files cannot be read or do not match.
pub fn acceptor(source: &Source) -> Result<(TlsAcceptor, JoinHandle<()>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let (resolver, keeper): (Arc<dyn ResolvesServerCert>, _) = match source {
        Source::Files { cert, key } => {
            let files = Files {
                cert: cert.clone(),
                key: key.clone(),
            };
            let current = Arc::new(Current {
                key: RwLock::new(Arc::new(files.load(&provider)?)),
            });
            let watcher = tokio::spawn(watch(files, provider.clone(), current.clone()));
            (current, watcher)
        }
        Source::Acme(acme) => {
            alpn.push(CHALLENGE_ALPN.to_vec());
            acme::start(acme)?
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn;
    Ok((TlsAcceptor::from(Arc::new(config)), keeper))
}

/// Whether a connection was an ACME server's validation, which the
/// handshake alone answered: nothing is served on it.
pub fn is_challenge(connection: &rustls::ServerConnection) -> bool {
    connection.alpn_protocol() == Some(CHALLENGE_ALPN)
}

/// Where the certificate chain and its key are.
#[derive(Clone)]
struct Files {
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--tls-cert {}: {e}", self.cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "--tls-cert {}: no certificate in it",
                self.cert.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("--tls-key {}: {e}", self.key.display()))?;
        CertifiedKey::from_der(chain, key, provider)
            .map_err(|e| format!("--tls-cert and --tls-key do not go together: {e}"))
    }

    /// When each file was last changed, and its length: a renewal changes
    /// one of them.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let of = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        Some([of(&self.cert)?, of(&self.key)?])
    }
}

/// The certificate every handshake is answered with.
struct Current {
    key: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the current certificate")
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let key = self.key.read().unwrap_or_else(|e| e.into_inner());
        Some(key.clone())
    }
}

/// Reads the files again whenever they change (off the executor).
async fn watch(files: Files, provider: Arc<CryptoProvider>, current: Arc<Current>) {
    let stamp = |files: &Files| {
        let files = files.clone();
        tokio::task::spawn_blocking(move || files.stamp())
    };
    let mut seen = stamp(&files).await.ok().flatten();
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let now = stamp(&files).await.ok().flatten();
        if now.is_none() || now == seen {
            continue;
        }
        let (again, provider) = (files.clone(), provider.clone());
        match tokio::task::spawn_blocking(move || again.load(&provider)).await {
            Ok(Ok(renewed)) => {
                *current.key.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(renewed);
                tracing::info!(cert = %files.cert.display(), "serving the renewed certificate");
                seen = now;
            }
            // Perhaps caught half written: tried again at the next look.
            Ok(Err(e)) => tracing::warn!(error = %e, "the changed certificate cannot be used yet"),
            Err(e) => tracing::warn!(error = %e, "reading the certificate failed"),
        }
    }
}
