//! Certificates from an ACME server (Let's Encrypt by default) for
//! `--acme-domain`: rustls-acme orders them, answers the TLS-ALPN-01
//! challenge on the HTTPS port itself (a handshake that asks for
//! `acme-tls/1` gets the challenge certificate and nothing else), and
//! orders a new one when a third of the current one's life is left. The
//! account and certificates are cached in `<data dir>/acme`, so a restart
//! serves the cached certificate at once and asks the ACME server nothing.

use std::{path::PathBuf, sync::Arc};

use futures_util::StreamExt;
use rustls::{
    RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
    server::ResolvesServerCert,
};
use rustls_acme::{AcmeConfig, caches::DirCache};
use tokio::task::JoinHandle;

/// The ALPN protocol of a TLS-ALPN-01 validation.
pub const CHALLENGE_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;

/// What `--acme-*` says.
#[derive(Debug, Clone)]
pub struct Acme {
    pub domains: Vec<String>,
    pub directory: String,
    pub contact: Option<String>,
    /// The CA that the ACME server's own HTTPS certificate comes from,
    /// when it is a private one (step-ca, pebble); else the public roots.
    pub server_ca: Option<PathBuf>,
    pub cache: PathBuf,
}

/// The certificates as they come, and the task that orders and renews
/// them (it runs until aborted).
pub fn start(acme: &Acme) -> Result<(Arc<dyn ResolvesServerCert>, JoinHandle<()>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match &acme.server_ca {
        None => AcmeConfig::new_with_provider(&acme.domains, provider),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--acme-ca {}: {e}", ca.display()))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("--acme-ca {}: {e}", ca.display()))?;
            }
            let client = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            AcmeConfig::new_with_client_config(&acme.domains, Arc::new(client))
        }
    };
    let mut state = config
        .directory(&acme.directory)
        .contact(acme.contact.iter().map(|c| c.as_str()))
        .cache(DirCache::new(acme.cache.clone()))
        .state();
    let resolver: Arc<dyn ResolvesServerCert> = state.resolver();
    let domains = acme.domains.join(",");
    let task = tokio::spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(done) => tracing::info!(domains, ?done, "ACME"),
                // rustls-acme tries again by itself, backing off.
                Err(e) => tracing::warn!(domains, error = %e, "ACME"),
            }
        }
    });
    Ok((resolver, task))
}
