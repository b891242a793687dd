//! TLS to PostgreSQL with libpq's `sslmode` meanings, over rustls (the same TLS stack the
//! HTTP client uses; ring's primitives, Mozilla's root certificates compiled in):
//! - `disable`, `allow`: plain TCP;
//! - `prefer` (the default, as in libpq): TLS when the server offers it, unverified, else plain;
//! - `require`: TLS or nothing; the certificate is not checked unless a root certificate is
//!   given (`sslrootcert`, or `~/.postgresql/root.crt` exists), which makes it `verify-ca`;
//! - `verify-ca`: the certificate chains to a trusted root (the name is not checked);
//! - `verify-full`: it chains to a trusted root and names the host.
//!
//! Trusted roots are `sslrootcert`'s PEM file, else `~/.postgresql/root.crt`, else (and for
//! `sslrootcert=system`) Mozilla's list, which is what hosted PostgreSQL services chain to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::error::{Error, Result};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// Plain TCP (libpq would try TLS after a refusal; servers that insist are rare).
    Allow,
    /// TLS if the server offers it, unverified.
    Prefer,
    /// TLS, unverified unless a root certificate is given.
    Require,
    /// TLS, the chain verified.
    VerifyCa,
    /// TLS, the chain and the host name verified.
    VerifyFull,
}

impl SslMode {
    /// The mode named `s`.
    pub fn from_name(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// Whether TLS is asked for at all.
    pub fn tries_tls(self) -> bool {
        !matches!(self, SslMode::Disable | SslMode::Allow)
    }

    /// Whether a server without TLS is refused.
    pub fn insists(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// The TLS set-up of a connection under `mode`, with `root` the `sslrootcert` setting.
pub fn client_config(mode: SslMode, root: Option<&str>) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS: {e}")))?;
    let root: Option<PathBuf> = match root {
        Some("system") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => home_root_cert().filter(|p| p.exists()),
    };
    let check = match mode {
        SslMode::Prefer => Check::Nothing,
        SslMode::Require if root.is_none() => Check::Nothing,
        SslMode::VerifyFull => Check::Full,
        _ => Check::Chain,
    };
    let chain = match check {
        Check::Nothing => None,
        _ => Some(
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root.as_deref())?),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::Usage(format!("TLS: {e}")))?,
        ),
    };
    let config = match (check, chain) {
        (Check::Full, Some(webpki)) => builder.with_webpki_verifier(webpki),
        (_, chain) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient { provider, chain })),
    };
    Ok(Arc::new(config.with_no_client_auth()))
}

/// The server name to check, from the URL's host.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::Usage(format!("{host}: not a host name TLS can check")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    Full,
}

fn home_root_cert() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt"))
}

/// The trusted roots: a PEM file's certificates, or Mozilla's list.
fn roots(file: Option<&Path>) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match file {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let bad = |why: String| Error::Usage(format!("sslrootcert {}: {why}", path.display()));
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad("no certificate in the file".into()));
            }
        }
    }
    Ok(store)
}

/// The verifier of `prefer`, `require` without a root (`chain` None: any certificate, which
/// encrypts against a passive listener, as libpq gives) and `verify-ca` (the chain must
/// verify, the name need not match). The handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
