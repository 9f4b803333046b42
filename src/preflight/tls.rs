//! Transport-security pre-flight: talk SMTP to the relay up to a successful login and
//! prove the connection is encrypted, authenticated and trustworthy — without sending mail.
//!
//! The dialogue is written here over tokio + tokio-rustls rather than through lettre so
//! that every step can be observed and reported: whether STARTTLS is offered, why a
//! certificate was refused, which TLS version was negotiated, whether AUTH is offered
//! before encryption. Security invariants:
//! - certificates are always fully validated against [`crate::trust::Trust`] (the system
//!   roots plus an optional company CA), the same set sending uses; there is no code path
//!   that skips verification;
//! - only TLS 1.2 and 1.3 are enabled, so a successful handshake proves the version;
//! - AUTH is only ever sent after a verified TLS handshake; the password is never logged,
//!   formatted into a check or an error;
//! - the probe never sends `MAIL FROM`: it ends with `QUIT` after the login;
//! - every network step has its own timeout, so a stalled relay yields a fail, not a hang.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::campaign::Security;
use crate::error::ErrorCode;
use crate::preflight::Check;
use crate::secrets::Secret;
use crate::trust::{self, Trust};

/// Check ids reported by [`probe_relay`], stable for the UI and the JSON output.
pub mod ids {
    pub const CONNECT: &str = "tls.connect";
    pub const STARTTLS: &str = "tls.starttls";
    pub const IMPLICIT: &str = "tls.implicit";
    pub const CERTIFICATE: &str = "tls.certificate";
    pub const VERSION: &str = "tls.version";
    pub const AUTH_AFTER_TLS: &str = "tls.auth_after_tls";
    pub const LOGIN: &str = "tls.login";
}

/// What to probe: the relay from the campaign file plus the stored password.
#[derive(Debug, Clone)]
pub struct RelayProbe {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// A PEM file of extra trusted CA certificates (a company relay), added to the
    /// system roots; never a replacement for them (see [`crate::trust`]).
    pub ca: Option<PathBuf>,
    /// User name and password; `None` when nothing is stored for this relay.
    pub credentials: Option<(String, Secret)>,
    /// Limit for each network step (connect, handshake, each reply).
    pub timeout: Duration,
}

/// The outcome of a probe: the checks plus facts later checks need.
#[derive(Debug, Clone, Default)]
pub struct TransportReport {
    pub checks: Vec<Check>,
    /// The relay's `SIZE` limit in bytes from EHLO (after TLS when it got that far);
    /// `None` when not advertised or advertised as 0 (no fixed limit).
    pub size_limit: Option<u64>,
    /// The negotiated protocol, e.g. `"TLS 1.3"`.
    pub tls_version: Option<String>,
}

impl TransportReport {
    /// The check with this id, if the probe got far enough to make it.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Why one step of the dialogue failed. Turned into a plain-words check detail; it never
/// holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the relay did not answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    #[error("the relay closed the connection")]
    Closed,
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("the relay's reply is not valid SMTP: {0}")]
    Protocol(String),
    /// The trusted set could not be built (CA file unreadable, empty system store).
    #[error(transparent)]
    Trust(#[from] trust::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Trust(e) => e.code(),
            _ => ErrorCode::CheckFailed,
        }
    }
}

/// Probes the relay: connect, STARTTLS or implicit TLS with full certificate validation,
/// EHLO, AUTH with the stored credentials, QUIT. Never sends a message.
///
/// `now` is the time certificates are validated against.
pub async fn probe_relay(relay: &RelayProbe, now: SystemTime) -> TransportReport {
    let mut report = TransportReport::default();
    // Every early return below has already pushed the check that explains it.
    let _ = run(relay, now, &mut report).await;
    report
}

/// Marker: the probe stopped; the reason is already in the report.
struct Stopped;

async fn run(
    relay: &RelayProbe,
    now: SystemTime,
    report: &mut TransportReport,
) -> Result<(), Stopped> {
    let t = relay.timeout;
    let endpoint = format!("{}:{}", relay.host, relay.port);
    let tls_id = match relay.security {
        Security::Starttls => ids::STARTTLS,
        Security::Tls => ids::IMPLICIT,
    };

    let config = match client_config(relay.ca.as_deref(), now) {
        Ok(c) => c,
        Err(e) => {
            let fix = match e {
                Error::Trust(trust::Error::NoRoots) => "Install the operating system's CA certificates (for example the ca-certificates package), or set `ca` in the [relay] section to the company CA's PEM file.",
                _ => "Point `ca` in the [relay] section at a readable PEM file holding the company CA certificate, or remove it.",
            };
            report
                .checks
                .push(Check::fail(ids::CERTIFICATE, e.to_string(), fix));
            return Err(Stopped);
        }
    };
    let Ok(server_name) = ServerName::try_from(relay.host.clone()) else {
        report.checks.push(Check::fail(
            ids::CONNECT,
            format!("\"{}\" is not a valid host name or IP address", relay.host),
            "Enter the relay's host name, for example smtp.example.com.",
        ));
        return Err(Stopped);
    };

    let tcp = match timeout(t, TcpStream::connect((relay.host.as_str(), relay.port))).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            report.checks.push(connect_failed(&endpoint, &e));
            return Err(Stopped);
        }
        Err(_) => {
            report.checks.push(Check::fail(
                ids::CONNECT,
                format!("no connection to {endpoint} within {} s", t.as_secs_f32()),
                "Check the relay's host name and port, and that a firewall lets this computer reach it.",
            ));
            return Err(Stopped);
        }
    };
    let _ = tcp.set_nodelay(true);
    let helo = helo_name(&tcp);
    let connector = TlsConnector::from(config);

    match relay.security {
        Security::Tls => {
            let tls = match timeout(t, connector.connect(server_name, tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    report.checks.push(Check::pass(
                        ids::CONNECT,
                        format!("{endpoint} accepts connections"),
                    ));
                    report
                        .checks
                        .extend(handshake_failed(tls_id, &relay.host, &e, relay.security));
                    return Err(Stopped);
                }
                Err(_) => {
                    report.checks.push(Check::pass(
                        ids::CONNECT,
                        format!("{endpoint} accepts connections"),
                    ));
                    report.checks.push(Check::fail(
                        tls_id,
                        format!("the TLS handshake did not finish within {} s", t.as_secs_f32()),
                        "Check that the port expects implicit TLS (usually 465); for port 587 use security = \"starttls\".",
                    ));
                    return Err(Stopped);
                }
            };
            let tls_facts = tls_facts(tls.get_ref().1);
            let mut smtp = Session::new(tls, t);
            greet(&mut smtp, &endpoint, report).await?;
            report.checks.push(Check::pass(
                tls_id,
                format!("{endpoint} speaks TLS from the first byte"),
            ));
            push_tls_facts(report, &relay.host, tls_facts);
            after_tls(&mut smtp, relay, &helo, false, report).await
        }
        Security::Starttls => {
            let mut smtp = Session::new(tcp, t);
            greet(&mut smtp, &endpoint, report).await?;
            let ext = match ehlo(&mut smtp, &helo).await {
                Ok(ext) => ext,
                Err(detail) => {
                    report.checks.push(Check::fail(
                        tls_id,
                        detail,
                        "Ask the relay's operator to enable ESMTP with STARTTLS.",
                    ));
                    return Err(Stopped);
                }
            };
            report.size_limit = ext.size;
            if !ext.starttls {
                report.checks.push(Check::fail(
                    tls_id,
                    format!("{endpoint} does not offer STARTTLS: the password and every message would travel unencrypted"),
                    "Use the relay's submission port 587 with STARTTLS, or port 465 with security = \"tls\"; ask the operator to enable TLS.",
                ));
                if ext.auth.is_some() {
                    report.checks.push(auth_in_clear_warning());
                }
                // Deliberately no AUTH: the password must not cross an unencrypted link.
                smtp.quit().await;
                return Err(Stopped);
            }
            match smtp.command("STARTTLS").await {
                Ok(r) if r.code == 220 => {}
                Ok(r) => {
                    report.checks.push(Check::fail(
                        tls_id,
                        format!("the relay refused STARTTLS: {}", r.text()),
                        "Ask the relay's operator to fix its TLS set-up.",
                    ));
                    return Err(Stopped);
                }
                Err(e) => {
                    report.checks.push(Check::fail(
                        tls_id,
                        format!("STARTTLS failed: {e}"),
                        "Try again; if it persists, ask the relay's operator.",
                    ));
                    return Err(Stopped);
                }
            }
            // Bytes already buffered after the 220 would be processed as if they had
            // arrived inside TLS (the STARTTLS command-injection attack): refuse.
            if !smtp.io.buffer().is_empty() {
                report.checks.push(Check::fail(
                    tls_id,
                    "the relay sent data before the TLS handshake began, which an attacker on the network could have injected",
                    "Check the network path to the relay; ask its operator to fix the STARTTLS implementation.",
                ));
                return Err(Stopped);
            }
            let tcp = smtp.io.into_inner();
            let tls = match timeout(t, connector.connect(server_name, tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    report
                        .checks
                        .extend(handshake_failed(tls_id, &relay.host, &e, relay.security));
                    return Err(Stopped);
                }
                Err(_) => {
                    report.checks.push(Check::fail(
                        tls_id,
                        format!(
                            "the TLS handshake did not finish within {} s",
                            t.as_secs_f32()
                        ),
                        "Try again; if it persists, ask the relay's operator.",
                    ));
                    return Err(Stopped);
                }
            };
            let facts = tls_facts(tls.get_ref().1);
            report.checks.push(Check::pass(
                tls_id,
                format!("{endpoint} offers STARTTLS and the upgrade succeeded"),
            ));
            push_tls_facts(report, &relay.host, facts);
            let mut smtp = Session::new(tls, t);
            after_tls(&mut smtp, relay, &helo, ext.auth.is_some(), report).await
        }
    }
}

/// Reads the greeting; pushes `tls.connect`.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<S>,
    endpoint: &str,
    report: &mut TransportReport,
) -> Result<(), Stopped> {
    match smtp.read_reply().await {
        Ok(r) if r.code == 220 => {
            report.checks.push(Check::pass(
                ids::CONNECT,
                format!("{endpoint} answered: {}", r.first_line()),
            ));
            Ok(())
        }
        Ok(r) => {
            report.checks.push(Check::fail(
                ids::CONNECT,
                format!("{endpoint} refused the session: {}", r.text()),
                "Ask the relay's operator whether this computer may connect.",
            ));
            Err(Stopped)
        }
        Err(e) => {
            report.checks.push(Check::fail(
                ids::CONNECT,
                format!("{endpoint} accepted the connection but sent no greeting: {e}"),
                "Check that the port belongs to a mail relay and that the relay is not overloaded.",
            ));
            Err(Stopped)
        }
    }
}

/// EHLO over TLS, the AUTH placement check and the login; then QUIT.
async fn after_tls<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<S>,
    relay: &RelayProbe,
    helo: &str,
    auth_offered_in_clear: bool,
    report: &mut TransportReport,
) -> Result<(), Stopped> {
    let ext = match ehlo(smtp, helo).await {
        Ok(ext) => ext,
        Err(detail) => {
            report.checks.push(Check::fail(
                ids::AUTH_AFTER_TLS,
                detail,
                "Ask the relay's operator to check its TLS set-up.",
            ));
            return Err(Stopped);
        }
    };
    if ext.size.is_some() || report.size_limit.is_none() {
        report.size_limit = ext.size;
    }
    let Some(mechanisms) = ext.auth else {
        report.checks.push(Check::fail(
            ids::AUTH_AFTER_TLS,
            "the relay does not offer AUTH after TLS, so MergeGuard cannot sign in",
            "Check that this is the relay's submission port (587 or 465) and that SMTP authentication is enabled for it.",
        ));
        smtp.quit().await;
        return Err(Stopped);
    };
    report.checks.push(if auth_offered_in_clear {
        auth_in_clear_warning()
    } else {
        Check::pass(
            ids::AUTH_AFTER_TLS,
            format!("AUTH is offered only after TLS ({})", mechanisms.join(" ")),
        )
    });

    let login = login(smtp, relay.credentials.as_ref(), &mechanisms).await;
    let ok = login.status == crate::preflight::Status::Pass;
    report.checks.push(login);
    smtp.quit().await;
    if ok {
        Ok(())
    } else {
        Err(Stopped)
    }
}

fn auth_in_clear_warning() -> Check {
    Check::warning(
        ids::AUTH_AFTER_TLS,
        "the relay offers AUTH on an unencrypted connection; MergeGuard signs in only after TLS, but other programs may send passwords in clear",
        "Ask the relay's operator to set AUTH to require TLS (for Postfix: smtpd_tls_auth_only = yes).",
    )
}

async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<S>,
    credentials: Option<&(String, Secret)>,
    mechanisms: &[String],
) -> Check {
    let Some((user, password)) = credentials else {
        return Check::fail(
            ids::LOGIN,
            "no password stored for this relay",
            "Enter the relay's user name and password in the relay settings; the password is kept in the system keychain.",
        );
    };
    let has = |m: &str| mechanisms.iter().any(|x| x.eq_ignore_ascii_case(m));
    let b64 = base64::engine::general_purpose::STANDARD;
    let reply = if has("PLAIN") {
        let token = b64.encode(format!("\0{user}\0{}", password.expose()));
        smtp.command(&format!("AUTH PLAIN {token}")).await
    } else if has("LOGIN") {
        match smtp.command("AUTH LOGIN").await {
            Ok(r) if r.code == 334 => match smtp.command(&b64.encode(user)).await {
                Ok(r) if r.code == 334 => smtp.command(&b64.encode(password.expose())).await,
                other => other,
            },
            other => other,
        }
    } else {
        return Check::fail(
            ids::LOGIN,
            format!("the relay offers only {} for signing in; MergeGuard supports PLAIN and LOGIN over TLS", mechanisms.join(" ")),
            "Ask the relay's operator to enable AUTH PLAIN or LOGIN over TLS.",
        );
    };
    match reply {
        Ok(r) if r.code == 235 => Check::pass(ids::LOGIN, format!("signed in as {user}")),
        Ok(r) if r.code == 535 => Check::fail(
            ids::LOGIN,
            "the relay refused the user name or password",
            "Check the user name in the relay settings and enter the password again.",
        ),
        Ok(r) if (400..500).contains(&r.code) => Check::fail(
            ids::LOGIN,
            format!("the relay could not check the password right now: {}", r.text()),
            "Try again in a few minutes.",
        ),
        Ok(r) => Check::fail(
            ids::LOGIN,
            format!("the relay refused to sign in: {}", r.text()),
            "Check the account with the relay's operator (it may be disabled or need an app password).",
        ),
        Err(e) => Check::fail(ids::LOGIN, format!("signing in failed: {e}"), "Try again; if it persists, ask the relay's operator."),
    }
}

/// What the handshake established, read before the stream moves into the session.
struct TlsFacts {
    version: Option<rustls::ProtocolVersion>,
    suite: Option<rustls::CipherSuite>,
}

fn tls_facts(conn: &rustls::ClientConnection) -> TlsFacts {
    TlsFacts {
        version: conn.protocol_version(),
        suite: conn.negotiated_cipher_suite().map(|s| s.suite()),
    }
}

fn push_tls_facts(report: &mut TransportReport, host: &str, facts: TlsFacts) {
    report.checks.push(Check::pass(
        ids::CERTIFICATE,
        format!("the certificate is valid for {host} and issued by a trusted authority"),
    ));
    let version = facts.version.map(version_name);
    let suite = facts
        .suite
        .and_then(|s| s.as_str())
        .unwrap_or("unknown cipher suite");
    report.checks.push(match &version {
        // Only 1.2 and 1.3 are enabled in the client, so anything else cannot happen;
        // reporting it as a fail keeps the check honest if that ever changes.
        Some(v) if v == "TLS 1.2" || v == "TLS 1.3" => {
            Check::pass(ids::VERSION, format!("{v} ({suite})"))
        }
        other => Check::fail(
            ids::VERSION,
            format!(
                "negotiated {}, older than TLS 1.2",
                other.as_deref().unwrap_or("an unknown version")
            ),
            "Ask the relay's operator to enable TLS 1.2 or 1.3.",
        ),
    });
    report.tls_version = version;
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        other => format!("{other:?}"),
    }
}

fn connect_failed(endpoint: &str, e: &io::Error) -> Check {
    let detail = match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("nothing accepts connections on {endpoint} (connection refused)")
        }
        _ => format!("cannot connect to {endpoint}: {e}"),
    };
    Check::fail(ids::CONNECT, detail, "Check the relay's host name and port (587 for STARTTLS, 465 for implicit TLS) and the network.")
}

/// Turns a failed handshake into checks that say why in plain words.
fn handshake_failed(tls_id: &str, host: &str, e: &io::Error, security: Security) -> Vec<Check> {
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::InvalidCertificate(ce)) => {
            let (detail, fix) = certificate_problem(host, ce);
            vec![Check::fail(ids::CERTIFICATE, detail, fix)]
        }
        Some(
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
                | rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                | rustls::PeerIncompatible::Tls12NotOffered
                | rustls::PeerIncompatible::Tls12NotOfferedOrEnabled,
            ),
        ) => vec![Check::fail(
            ids::VERSION,
            "the relay offers only TLS versions older than 1.2, which are no longer safe",
            "Ask the relay's operator to enable TLS 1.2 or 1.3.",
        )],
        Some(rustls::Error::InvalidMessage(_)) if security == Security::Tls => vec![Check::fail(
            tls_id,
            "the relay did not answer with TLS; this port probably expects STARTTLS",
            "Set security = \"starttls\" (usually port 587), or use the relay's implicit-TLS port (usually 465).",
        )],
        Some(other) => vec![Check::fail(
            tls_id,
            format!("the TLS handshake failed: {other}"),
            "Ask the relay's operator to check its TLS set-up.",
        )],
        None if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::ConnectionReset => vec![Check::fail(
            tls_id,
            "the relay closed the connection during the TLS handshake (it may support only TLS older than 1.2, or no cipher in common)",
            "Ask the relay's operator to enable TLS 1.2 or 1.3 with current ciphers.",
        )],
        None => vec![Check::fail(tls_id, format!("the TLS handshake failed: {e}"), "Try again; if it persists, ask the relay's operator.")],
    }
}

/// Plain words for a refused certificate, and what to do about it.
fn certificate_problem(host: &str, e: &CertificateError) -> (String, &'static str) {
    const ASK: &str = "Ask the relay's operator to install a valid certificate for this host name.";
    match e {
        CertificateError::Expired => ("the relay's certificate has expired".into(), "Ask the relay's operator to renew the certificate."),
        CertificateError::ExpiredContext { not_after, .. } => (
            format!("the relay's certificate expired on {}", date(*not_after)),
            "Ask the relay's operator to renew the certificate.",
        ),
        CertificateError::NotValidYet => ("the relay's certificate is not valid yet".into(), "Check this computer's clock; otherwise ask the relay's operator."),
        CertificateError::NotValidYetContext { not_before, .. } => (
            format!("the relay's certificate is valid only from {}", date(*not_before)),
            "Check this computer's clock; otherwise ask the relay's operator.",
        ),
        CertificateError::NotValidForName => (format!("the relay's certificate is not valid for {host} (wrong host)"), ASK),
        CertificateError::NotValidForNameContext { presented, .. } => (
            format!(
                "the relay's certificate is for {}, not for {host} (wrong host)",
                if presented.is_empty() { "other names".to_owned() } else { presented.join(", ") }
            ),
            "Use the host name the certificate was issued for, or ask the relay's operator for a certificate that names this host.",
        ),
        CertificateError::UnknownIssuer => (
            "the relay's certificate is self-signed or issued by an authority this computer does not trust (unknown issuer)".into(),
            "For a company relay, set `ca` in the [relay] section to the company CA's PEM file; otherwise ask the operator for a certificate from a public authority.",
        ),
        CertificateError::Revoked => ("the relay's certificate has been revoked".into(), ASK),
        CertificateError::BadSignature => ("the relay's certificate has an invalid signature".into(), ASK),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            ("the relay's certificate is not issued for servers".into(), ASK)
        }
        // webpki refuses a certificate that is itself a CA before it looks for an issuer;
        // on a server that is a self-signed certificate made with `openssl req -x509`.
        // rustls passes this through as an opaque `Other`, so its name is all there is.
        CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => (
            "the relay's certificate is self-signed (a CA certificate used as the server's own), so no trusted authority vouches for it".into(),
            "For a company relay, set `ca` in the [relay] section to that certificate's PEM file; otherwise ask the operator for a certificate from a public authority.",
        ),
        other => (format!("the relay's certificate was refused: {}", rustls::Error::InvalidCertificate(other.clone())), ASK),
    }
}

fn date(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        Err(_) => "an unknown date".into(),
    }
}

/// The EHLO argument: our own address literal (RFC 5321 §4.1.3), which needs no DNS.
fn helo_name(tcp: &TcpStream) -> String {
    match tcp.local_addr().map(|a| a.ip()) {
        Ok(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Ok(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        Err(_) => "[127.0.0.1]".into(),
    }
}

/// The probe's TLS client: the one trusted set of [`crate::trust`] (system roots plus the
/// optional company CA), with certificates checked at the probe's `now`.
fn client_config(ca: Option<&Path>, now: SystemTime) -> Result<Arc<ClientConfig>, Error> {
    Ok(Trust::with_ca_file(ca)?.client_config(Some(now))?)
}

// ---- a minimal SMTP client session ----------------------------------------------------

/// Longest reply line accepted (RFC 5321 allows 512; relays send longer EHLO lines).
const MAX_LINE: u64 = 4096;
/// Most lines in one reply; protects against a relay that never ends its reply.
const MAX_LINES: usize = 200;

/// One SMTP reply: its code and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn first_line(&self) -> String {
        format!(
            "{} {}",
            self.code,
            self.lines.first().map(String::as_str).unwrap_or("")
        )
    }
    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" "))
    }
}

struct Session<S> {
    io: BufReader<S>,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn new(stream: S, timeout: Duration) -> Self {
        Session {
            io: BufReader::new(stream),
            timeout,
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, Error> {
        let t = self.timeout;
        timeout(t, read_reply(&mut self.io))
            .await
            .map_err(|_| Error::Timeout(t))?
    }

    /// Sends one command line and reads the reply. The line may hold a secret (AUTH), so
    /// it is never logged and never part of an error.
    async fn command(&mut self, line: &str) -> Result<Reply, Error> {
        let t = self.timeout;
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let io = self.io.get_mut();
        timeout(t, async {
            io.write_all(&bytes).await?;
            io.flush().await
        })
        .await
        .map_err(|_| Error::Timeout(t))??;
        self.read_reply().await
    }

    /// Ends the session politely; failures do not matter any more, so the wait is short.
    async fn quit(&mut self) {
        let t = self.timeout.min(Duration::from_secs(1));
        let _ = timeout(t, async {
            let _ = self.io.get_mut().write_all(b"QUIT\r\n").await;
            let _ = self.io.get_mut().flush().await;
            let _ = read_reply(&mut self.io).await;
            let _ = self.io.get_mut().shutdown().await;
        })
        .await;
    }
}

async fn read_reply<R: AsyncBufReadExt + Unpin>(io: &mut R) -> Result<Reply, Error> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let mut raw = Vec::new();
        let n = (&mut *io)
            .take(MAX_LINE)
            .read_until(b'\n', &mut raw)
            .await?;
        if n == 0 {
            return Err(Error::Closed);
        }
        if raw.last() != Some(&b'\n') {
            return Err(Error::Protocol(format!(
                "a reply line is longer than {MAX_LINE} bytes or cut off"
            )));
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let (this_code, more, text) = parse_reply_line(line)?;
        if *code.get_or_insert(this_code) != this_code {
            return Err(Error::Protocol(format!(
                "reply codes {} and {this_code} mixed in one reply",
                code.unwrap_or(0)
            )));
        }
        lines.push(text.to_owned());
        if !more {
            return Ok(Reply {
                code: this_code,
                lines,
            });
        }
        if lines.len() >= MAX_LINES {
            return Err(Error::Protocol(format!(
                "a reply has more than {MAX_LINES} lines"
            )));
        }
    }
}

/// `250-TEXT` → (250, true, "TEXT"); `250 TEXT` or `250` → (250, false, …).
fn parse_reply_line(line: &str) -> Result<(u16, bool, &str), Error> {
    let bytes = line.as_bytes();
    let valid = bytes.len() >= 3
        && (b'2'..=b'5').contains(&bytes[0])
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit()
        && (bytes.len() == 3 || bytes[3] == b' ' || bytes[3] == b'-');
    if !valid {
        let shown: String = line.chars().take(60).collect();
        return Err(Error::Protocol(format!("\"{shown}\"")));
    }
    let code = line[..3]
        .parse()
        .map_err(|_| Error::Protocol(line.chars().take(60).collect()))?;
    let more = bytes.get(3) == Some(&b'-');
    Ok((code, more, line.get(4..).unwrap_or("")))
}

/// The EHLO extensions the probe cares about.
#[derive(Debug, Default, PartialEq, Eq)]
struct Extensions {
    starttls: bool,
    /// Mechanisms after `AUTH` (or the old `AUTH=` form); `None` when AUTH is absent.
    auth: Option<Vec<String>>,
    size: Option<u64>,
}

fn parse_extensions(reply: &Reply) -> Extensions {
    let mut ext = Extensions::default();
    // The first line is the greeting (the relay's name), not an extension.
    for line in reply.lines.iter().skip(1) {
        let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "STARTTLS" => ext.starttls = true,
            "AUTH" => {
                let list = ext.auth.get_or_insert_with(Vec::new);
                for m in words.map(str::to_ascii_uppercase) {
                    if !list.contains(&m) {
                        list.push(m);
                    }
                }
            }
            "SIZE" => ext.size = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0),
            _ => {}
        }
    }
    ext
}

/// Sends EHLO; an error is a plain-words detail.
async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<S>,
    helo: &str,
) -> Result<Extensions, String> {
    match smtp.command(&format!("EHLO {helo}")).await {
        Ok(r) if r.code == 250 => Ok(parse_extensions(&r)),
        Ok(r) => Err(format!("the relay rejected EHLO: {}", r.text())),
        Err(e) => Err(format!("EHLO failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(raw: &str) -> Reply {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(read_reply(&mut BufReader::new(raw.as_bytes())))
            .unwrap()
    }

    #[test]
    fn multiline_reply_is_joined_and_extensions_are_read() {
        let r = reply("250-mail.test\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=LOGIN\r\n250 8BITMIME\r\n");
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 6);
        let ext = parse_extensions(&r);
        assert_eq!(
            ext,
            Extensions {
                starttls: true,
                auth: Some(vec!["PLAIN".into(), "LOGIN".into()]),
                size: Some(52_428_800)
            }
        );
    }

    #[test]
    fn size_zero_means_no_limit_and_absent_auth_is_none() {
        let ext = parse_extensions(&reply("250-x\r\n250 SIZE 0\r\n"));
        assert_eq!(
            ext,
            Extensions {
                starttls: false,
                auth: None,
                size: None
            }
        );
    }

    #[test]
    fn malformed_and_endless_replies_are_errors_not_panics() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for raw in [
            "hello\r\n",
            "250-a\r\n354 b\r\n",
            "25\r\n",
            "250-a\r\n",
            "",
            "999 x\r\n",
        ] {
            assert!(
                rt.block_on(read_reply(&mut BufReader::new(raw.as_bytes())))
                    .is_err(),
                "{raw:?}"
            );
        }
        let endless = "250-x\r\n".repeat(MAX_LINES + 5);
        assert!(rt
            .block_on(read_reply(&mut BufReader::new(endless.as_bytes())))
            .is_err());
        let long = format!("250 {}\r\n", "x".repeat(MAX_LINE as usize));
        assert!(rt
            .block_on(read_reply(&mut BufReader::new(long.as_bytes())))
            .is_err());
    }

    #[test]
    fn certificate_errors_are_explained_in_plain_words() {
        let (d, _) = certificate_problem("mail.test", &CertificateError::UnknownIssuer);
        assert!(
            d.contains("self-signed") && d.contains("unknown issuer"),
            "{d}"
        );
        let (d, _) = certificate_problem(
            "127.0.0.1",
            &CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_580_515_200)),
            },
        );
        assert_eq!(d, "the relay's certificate expired on 2020-02-01");
        let (d, _) = certificate_problem("127.0.0.1", &CertificateError::NotValidForName);
        assert!(d.contains("wrong host"), "{d}");
    }

    #[test]
    fn an_unreadable_or_empty_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(Some(&empty), SystemTime::now()).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let missing = dir.path().join("missing.pem");
        let e = client_config(Some(&missing), SystemTime::now()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Io);
    }
}
