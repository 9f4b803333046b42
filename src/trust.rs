//! The one set of certificate authorities a relay's certificate is checked against: the
//! operating system's trusted roots plus the campaign's (or profile's) company CA file.
//!
//! Every TLS client in the core gets its trust from here — the checklist's relay probe
//! (`preflight::tls`), STARTTLS sending (lettre's `TlsParameters`) and implicit-TLS
//! sending (a tokio-rustls session under lettre) — so a relay the checklist accepts is
//! the relay sending accepts, and one it refuses is refused at send time too.
//!
//! Decisions:
//! - **System roots, no bundled list.** The roots come from the OS store
//!   (`rustls-native-certs`: the distribution's CA bundle on Linux, the keychain on
//!   macOS, the certificate store on Windows), read once per process. A bundled copy of
//!   Mozilla's list (webpki-roots) is *not* used, not even as a fallback when the store
//!   is empty: an administrator who removes or distrusts a root in the OS expects every
//!   program to follow, and a list compiled into the binary ages with the binary. An
//!   empty or unreadable system store is therefore an error in plain words, unless a
//!   company CA file is configured (a relay behind a company CA needs nothing else).
//! - **The CA file adds, never replaces**: it is the company relay's own authority.
//! - Only TLS 1.2 and 1.3, the ring provider, full certificate and host-name checks.
//!   There is no code path here that skips verification.
//!
//! Architecture invariant: this module knows nothing of SMTP; it only says whom to trust.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::transport::smtp::client::{Certificate, CertificateStore, TlsParameters};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{ClientConfig, RootCertStore};

use crate::error::ErrorCode;

/// Why the trusted set could not be built. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot use the CA file {source_name}: {message}")]
    CaFile {
        source_name: String,
        message: String,
    },
    #[error(
        "this computer's list of trusted certificate authorities is empty or could not be \
         read, and no company CA file is set, so no relay certificate can be checked"
    )]
    NoRoots,
    #[error("the TLS settings could not be built: {0}")]
    Config(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::CaFile { .. } => ErrorCode::Io,
            Error::NoRoots => ErrorCode::CheckFailed,
            Error::Config(_) => ErrorCode::Internal,
        }
    }
}

/// The trusted certificate authorities for one relay: system roots plus the CA file.
#[derive(Clone)]
pub struct Trust {
    /// Every trust anchor, each one known to parse as an anchor: the system's first,
    /// then the CA file's.
    anchors: Arc<[CertificateDer<'static>]>,
    /// How many of `anchors` came from the CA file (they are the last ones).
    from_ca: usize,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("anchors", &self.anchors.len())
            .field("from_ca", &self.from_ca)
            .finish()
    }
}

impl Trust {
    /// The system roots plus the PEM file at `ca`, if one is configured.
    pub fn with_ca_file(ca: Option<&Path>) -> Result<Trust, Error> {
        match ca {
            None => Trust::with_ca_pem(None, ""),
            Some(path) => {
                let name = path.display().to_string();
                let pem = std::fs::read(path).map_err(|e| Error::CaFile {
                    source_name: name.clone(),
                    message: e.to_string(),
                })?;
                Trust::with_ca_pem(Some(&pem), &name)
            }
        }
    }

    /// The system roots plus the CA certificates in `pem` (already read; `source_name`
    /// names it in errors). An empty or non-PEM file is an error, never "no extra CA".
    pub fn with_ca_pem(pem: Option<&[u8]>, source_name: &str) -> Result<Trust, Error> {
        let ca = match pem {
            None => Vec::new(),
            Some(pem) => parse_ca_pem(pem, source_name)?,
        };
        Trust::build(system_roots(), ca, source_name)
    }

    /// The trusted set from explicit parts; the system roots are a parameter so the
    /// empty-store rule can be tested.
    fn build(
        system: &[CertificateDer<'static>],
        ca: Vec<CertificateDer<'static>>,
        source_name: &str,
    ) -> Result<Trust, Error> {
        let mut anchors: Vec<CertificateDer<'static>> = system.to_vec();
        let mut probe = RootCertStore::empty();
        for cert in &ca {
            probe.add(cert.clone()).map_err(|e| Error::CaFile {
                source_name: source_name.to_owned(),
                message: format!("a certificate in it cannot be used as an authority: {e}"),
            })?;
        }
        let from_ca = ca.len();
        anchors.extend(ca);
        if anchors.is_empty() {
            return Err(Error::NoRoots);
        }
        Ok(Trust {
            anchors: anchors.into(),
            from_ca,
        })
    }

    /// How many authorities are trusted in all.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Never true: [`Trust`] refuses to exist without an authority.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// How many of them came from the company CA file.
    pub fn from_ca_file(&self) -> usize {
        self.from_ca
    }

    fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // Every anchor was checked when the set was built.
        roots.add_parsable_certificates(self.anchors.iter().cloned());
        roots
    }

    /// A rustls client: ring, TLS 1.2 and 1.3, full webpki verification against this
    /// set. `now` pins the clock certificates are checked against (the checklist passes
    /// its own `now`); `None` uses the system clock, as sending does.
    pub fn client_config(&self, now: Option<SystemTime>) -> Result<Arc<ClientConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match now {
            Some(now) => ClientConfig::builder_with_details(provider, Arc::new(FixedTime(now))),
            None => ClientConfig::builder_with_provider(provider),
        };
        Ok(Arc::new(
            builder
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Config(e.to_string()))?
                .with_root_certificates(self.root_store())
                .with_no_client_auth(),
        ))
    }

    /// lettre's parameters for STARTTLS to `host`: lettre's rustls client with its own
    /// default store switched off and exactly this set added, TLS 1.2 minimum.
    pub fn tls_parameters(&self, host: &str) -> Result<TlsParameters, Error> {
        let mut builder = TlsParameters::builder(host.to_owned())
            .certificate_store(CertificateStore::None)
            .set_min_tls_version(lettre::transport::smtp::client::TlsVersion::Tlsv12);
        for der in self.anchors.iter() {
            let cert =
                Certificate::from_der(der.to_vec()).map_err(|e| Error::Config(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build_rustls()
            .map_err(|e| Error::Config(e.to_string()))
    }
}

/// The CA file's certificates; a file with none is an error.
fn parse_ca_pem(pem: &[u8], source_name: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let err = |message: String| Error::CaFile {
        source_name: source_name.to_owned(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("it is not a valid PEM file ({e})")))?;
    if certs.is_empty() {
        return Err(err(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The operating system's trusted roots that parse as trust anchors, read once per
/// process (reading them costs milliseconds, and the probe and the send must see the
/// same set). Certificates the store holds but webpki cannot use are left out, as
/// rustls itself would.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .filter(|c| RootCertStore::empty().add(c.clone()).is_ok())
            .collect()
    })
}

/// A rustls clock that always reads the given time.
#[derive(Debug)]
struct FixedTime(SystemTime);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        self.0
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(UnixTime::since_unix_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_PEM: &[u8] = b"not a certificate\n";

    #[test]
    fn an_empty_system_store_without_a_ca_file_is_a_plain_error() {
        let e = Trust::build(&[], Vec::new(), "").unwrap_err();
        assert_eq!(e, Error::NoRoots);
        assert!(e.to_string().contains("no company CA file is set"), "{e}");
    }

    #[test]
    fn a_ca_file_holding_no_certificate_is_refused() {
        let e = Trust::with_ca_pem(Some(NOT_PEM), "ca.pem").unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        assert_eq!(e.code(), ErrorCode::Io);
        let dir = tempfile::tempdir().unwrap();
        let e = Trust::with_ca_file(Some(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(matches!(e, Error::CaFile { .. }), "{e}");
    }

    #[test]
    fn a_ca_file_that_is_not_a_certificate_authority_is_refused() {
        // A PEM block that is not DER at all: webpki cannot make an anchor of it.
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = Trust::build(&[], parse_ca_pem(pem, "x.pem").unwrap(), "x.pem").unwrap_err();
        assert!(
            e.to_string().contains("cannot be used as an authority"),
            "{e}"
        );
    }

    #[test]
    fn the_system_roots_are_read_once_and_all_usable() {
        let a = system_roots();
        let b = system_roots();
        assert!(std::ptr::eq(a, b));
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(a.iter().cloned());
        assert_eq!((added, ignored), (a.len(), 0));
    }
}
