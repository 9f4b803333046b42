//! Relays: where a finished message goes. The SMTP relay (lettre over rustls, STARTTLS
//! required or implicit TLS) and the "Outbox folder" that writes `.eml` files.
//!
//! Why not lettre's `AsyncSmtpTransport::send_raw`: its error cannot tell whether a
//! connection broke *before* the DATA command (nothing handed over: safe to retry) or
//! *after* the message bytes were written (the relay may have queued it: a retry risks a
//! duplicate). We drive lettre's own `AsyncSmtpConnection` one command at a time so
//! each failure is classified by the SMTP stage it happened in. TLS, certificate
//! checking, AUTH mechanisms and the SMTP codec (dot-stuffing) are all lettre's.
//!
//! Architecture invariant: no constructor reachable from the app allows a plaintext
//! connection. The only plaintext path is [`SmtpRelay::plain_dangerous`], for the
//! benchmark against Postfix's plain port; it never sends credentials.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use crate::error::ErrorCode;
use crate::secrets::Secret;
use crate::trust::Trust;

/// One message ready for the relay (already DKIM-signed if a key is configured).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub row: u64,
    pub message_id: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
}

/// What the relay did with one message, classified by SMTP stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// 2xx after the final dot.
    Accepted {
        code: u16,
        text: String,
        queue_id: Option<String>,
    },
    /// A 4xx reply at any stage, or the connection broke *before* DATA was accepted
    /// (code 0): nothing was handed over, retry later.
    Transient { code: u16, text: String },
    /// A 5xx reply at any stage, or an address the relay cannot take.
    Permanent { code: Option<u16>, text: String },
    /// The connection broke or timed out after the message bytes were written: the
    /// relay may or may not have queued it.
    Unknown { text: String },
}

/// Why a relay session could not be opened (connect, TLS, STARTTLS, AUTH). When this
/// happens no message and no password went to the server.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct OpenError {
    pub kind: OpenErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenErrorKind {
    Connect,
    /// The server offered no STARTTLS; we do not continue in plain text.
    NoStartTls,
    /// The certificate was refused (untrusted, expired, wrong host) or the handshake failed.
    Tls,
    Auth,
    Io,
    /// The connection's [`TokenSource`] gave no token (for OAuth2: the sign-in expired
    /// or was withdrawn, or the sign-in server could not be reached); nothing was
    /// connected. Carries the source's own code.
    Token(ErrorCode),
}

impl OpenError {
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            OpenErrorKind::Auth => ErrorCode::AuthFailed,
            OpenErrorKind::Io => ErrorCode::Io,
            OpenErrorKind::Token(code) => code,
            _ => ErrorCode::Send,
        }
    }
}

/// Why a [`TokenSource`] gave no token: a code the caller branches on and a sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TokenError {
    pub code: ErrorCode,
    pub message: String,
}

/// The future of [`TokenSource::token`].
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Secret, TokenError>> + Send + 'a>>;

/// Where an SMTP relay gets the secret for each new connection when it is not a fixed
/// password: an OAuth2 access token, which lives minutes to an hour, so a send longer
/// than one token's life needs a fresh one per connection. Asked on every
/// [`Relay::open`] before anything is connected; the source decides whether its token
/// is still good (see `oauth::ProfileTokens`, which keeps it in memory and refreshes it
/// near its end). This module knows nothing of OAuth2.
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// A token for the next AUTH.
    fn token(&self) -> TokenFuture<'_>;
    /// The relay refused `token` at AUTH: forget it, so the next connection asks for a
    /// new one instead of offering the same again.
    fn refused(&self, token: &Secret) {
        let _ = token;
    }
}

/// A destination for messages. A session is one connection (or nothing, for a folder);
/// the engine holds up to `parallel` sessions and reuses each for many messages.
pub trait Relay: Send + Sync + 'static {
    type Session: Send + 'static;
    /// The key of this relay in the persistent quota ledger (host, port, user).
    fn quota_key(&self) -> String;
    fn open(&self) -> impl Future<Output = Result<Self::Session, OpenError>> + Send;
    fn deliver<'a>(
        &'a self,
        session: &'a mut Self::Session,
        msg: &'a Outgoing,
    ) -> impl Future<Output = Delivery> + Send + 'a;
    /// False once the session cannot carry another message (it is then reopened).
    fn usable(session: &Self::Session) -> bool;
    fn close(session: Self::Session) -> impl Future<Output = ()> + Send;
}

/// How the connection is encrypted. There is deliberately no plaintext variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Port 587 style: plain greeting, STARTTLS required (refuse if not offered).
    StartTls,
    /// Port 465 style: TLS from the first byte.
    ImplicitTls,
}

/// Settings of an SMTP relay profile.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Asked for the secret of every new connection instead of `password` (an OAuth2
    /// access token for XOAUTH2); `None`: `password` is used.
    pub token_source: Option<Arc<dyn TokenSource>>,
    /// AUTH mechanisms in order of preference; PLAIN then LOGIN by default.
    pub mechanisms: Vec<Mechanism>,
    /// Extra trusted CA (PEM), added to the system roots (a company relay's own CA);
    /// see [`crate::trust`], the one trusted set the checklist's probe uses too.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Per-command network timeout; a stalled relay fails this fast.
    pub timeout: Duration,
    /// The name we greet with (EHLO).
    pub hello_name: Option<String>,
}

impl SmtpSettings {
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> SmtpSettings {
        SmtpSettings {
            host: host.into(),
            port,
            security,
            username: None,
            password: None,
            token_source: None,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            extra_ca_pem: None,
            timeout: Duration::from_secs(60),
            hello_name: None,
        }
    }
}

#[derive(Clone)]
enum Mode {
    StartTls(TlsParameters),
    /// rustls run by us under lettre's SMTP session, on our own socket with Nagle off
    /// (lettre's implicit-TLS connect makes its socket itself and leaves Nagle on).
    ImplicitTls(Arc<rustls::ClientConfig>),
    PlainDangerous,
}

/// The production SMTP relay.
#[derive(Clone)]
pub struct SmtpRelay {
    settings: SmtpSettings,
    mode: Mode,
    hello: ClientId,
}

/// One open, authenticated SMTP connection.
pub struct SmtpSession(AsyncSmtpConnection);

impl SmtpRelay {
    /// Builds the relay. STARTTLS and implicit TLS both trust exactly
    /// [`Trust::with_ca_pem`]: the system roots plus the optional extra CA, the set the
    /// checklist's probe trusts. Fails on an unusable CA file or an empty trust store.
    pub fn new(settings: SmtpSettings) -> Result<SmtpRelay, OpenError> {
        let tls_err = |e: crate::trust::Error| OpenError {
            kind: OpenErrorKind::Tls,
            message: format!("TLS settings are not usable: {e}"),
        };
        let trust = Trust::with_ca_pem(settings.extra_ca_pem.as_deref(), "for the relay")
            .map_err(tls_err)?;
        let mode = match settings.security {
            Security::StartTls => {
                Mode::StartTls(trust.tls_parameters(&settings.host).map_err(tls_err)?)
            }
            Security::ImplicitTls => Mode::ImplicitTls(trust.client_config(None).map_err(tls_err)?),
        };
        let hello = settings
            .hello_name
            .clone()
            .map(ClientId::Domain)
            .unwrap_or_default();
        Ok(SmtpRelay {
            settings,
            mode,
            hello,
        })
    }

    /// PLAINTEXT, no TLS, no AUTH. Only for benchmarks and tests against a loopback
    /// relay; the app never calls it.
    pub fn plain_dangerous(host: impl Into<String>, port: u16, timeout: Duration) -> SmtpRelay {
        let mut settings = SmtpSettings::new(host, port, Security::StartTls);
        settings.timeout = timeout;
        SmtpRelay {
            settings,
            mode: Mode::PlainDangerous,
            hello: ClientId::default(),
        }
    }

    /// The TCP connection with Nagle's algorithm off. lettre writes the message body and
    /// the final `.` in two writes and then waits for the reply; with Nagle on, the
    /// second small write waits for the relay's delayed ACK (40 ms on Linux), which
    /// capped each connection at about 20 messages per second.
    async fn connect_tcp(&self) -> Result<tokio::net::TcpStream, OpenError> {
        let s = &self.settings;
        let fail = |what: String| OpenError {
            kind: OpenErrorKind::Connect,
            message: format!("could not connect to {}:{}: {what}", s.host, s.port),
        };
        let addrs = tokio::net::lookup_host((s.host.as_str(), s.port))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut last = String::from("the name resolves to no address");
        for addr in addrs {
            match tokio::time::timeout(s.timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    tcp.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
                    return Ok(tcp);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {} s", s.timeout.as_secs()),
            }
        }
        Err(fail(last))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, OpenError> {
        let s = &self.settings;
        // A token per connection, got before anything is connected: a send longer than
        // one token's life reconnects with a fresh one.
        let token = match &s.token_source {
            Some(source) => Some(source.token().await.map_err(|e| OpenError {
                kind: OpenErrorKind::Token(e.code),
                message: e.message,
            })?),
            None => None,
        };
        let secret = token.as_ref().or(s.password.as_ref());
        let connect_err = |e: lettre::transport::smtp::Error| {
            let kind = if e.is_tls() {
                OpenErrorKind::Tls
            } else {
                OpenErrorKind::Connect
            };
            OpenError {
                kind,
                message: format!("could not connect to {}:{}: {e}", s.host, s.port),
            }
        };
        let mut conn = match &self.mode {
            Mode::ImplicitTls(config) => {
                let tcp = self.connect_tcp().await?;
                let tls_fail = |what: String| {
                    OpenError {
                    kind: OpenErrorKind::Tls,
                    message: format!("the TLS handshake with {}:{} failed (certificate untrusted, expired or for another host?): {what}", s.host, s.port),
                }
                };
                let name = rustls::pki_types::ServerName::try_from(s.host.clone())
                    .map_err(|e| tls_fail(format!("\"{}\" is not a host name ({e})", s.host)))?;
                let handshake =
                    tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name, tcp);
                let tls = tokio::time::timeout(s.timeout, handshake)
                    .await
                    .map_err(|_| tls_fail(format!("no answer within {} s", s.timeout.as_secs())))?
                    .map_err(|e| tls_fail(e.to_string()))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsOverTcp(tls)), &self.hello)
                    .await
                    .map_err(connect_err)?
            }
            Mode::PlainDangerous => {
                let tcp = self.connect_tcp().await?;
                return AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(connect_err);
            }
            Mode::StartTls(p) => {
                let tcp = self.connect_tcp().await?;
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(connect_err)?;
                if !conn.can_starttls() {
                    abort_quickly(&mut conn).await;
                    return Err(OpenError {
                        kind: OpenErrorKind::NoStartTls,
                        message: format!("{}:{} does not offer STARTTLS; refusing to send (or log in) without encryption", s.host, s.port),
                    });
                }
                conn.starttls(p.clone(), &self.hello).await.map_err(|e| OpenError {
                    kind: OpenErrorKind::Tls,
                    message: format!("the TLS handshake with {}:{} failed (certificate untrusted, expired or for another host?): {e}", s.host, s.port),
                })?;
                conn
            }
        };
        // lettre sees our implicit-TLS stream as a plain transport; it is TLS all the same.
        debug_assert!(matches!(self.mode, Mode::ImplicitTls(_)) || conn.is_encrypted());
        if let (Some(user), Some(secret)) = (&s.username, secret) {
            let creds = Credentials::new(user.clone(), secret.expose().to_owned());
            if let Err(e) = conn.auth(&s.mechanisms, &creds).await {
                abort_quickly(&mut conn).await;
                if let (Some(source), Some(token)) = (&s.token_source, &token) {
                    source.refused(token);
                }
                return Err(OpenError {
                    kind: OpenErrorKind::Auth,
                    message: format!("the relay refused the login for {user}: {e}"),
                });
            }
        }
        Ok(conn)
    }

    /// One connection: greeting, STARTTLS and login, bounded as a whole.
    async fn open_once(&self) -> Result<SmtpSession, OpenError> {
        // Bound the whole greeting + STARTTLS + AUTH exchange, not only the TCP connect.
        let limit = self.settings.timeout * 3;
        match tokio::time::timeout(limit, self.connect()).await {
            Ok(r) => r.map(SmtpSession),
            Err(_) => Err(OpenError {
                kind: OpenErrorKind::Connect,
                message: format!(
                    "{}:{} did not complete the greeting, STARTTLS and login within {} s",
                    self.settings.host,
                    self.settings.port,
                    limit.as_secs()
                ),
            }),
        }
    }
}

/// A rustls stream that lettre drives as its transport.
#[derive(Debug)]
struct TlsOverTcp(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for TlsOverTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsOverTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsOverTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// "250 2.0.0 Ok: queued as 4ABCD" (Postfix) → "4ABCD".
pub fn parse_queue_id(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("queued as ")? + "queued as ".len();
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// lettre's abort says QUIT and waits for the reply; a stalled relay never answers,
/// so give it a moment and then just drop the socket (abort marks it broken first).
async fn abort_quickly(conn: &mut AsyncSmtpConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.abort()).await;
}

fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    e.to_string()
}

impl Relay for SmtpRelay {
    type Session = SmtpSession;

    fn quota_key(&self) -> String {
        let s = &self.settings;
        format!(
            "smtp://{}@{}:{}",
            s.username.as_deref().unwrap_or(""),
            s.host,
            s.port
        )
    }

    async fn open(&self) -> Result<SmtpSession, OpenError> {
        match self.open_once().await {
            // A token refused at AUTH (revoked, or ended early at the server): the source
            // was told and forgot it; one more connection with a new one, or the
            // source's own error ("sign in again") when it cannot get one.
            Err(e) if e.kind == OpenErrorKind::Auth && self.settings.token_source.is_some() => {
                self.open_once().await
            }
            other => other,
        }
    }

    async fn deliver<'a>(&'a self, session: &'a mut SmtpSession, msg: &'a Outgoing) -> Delivery {
        let conn = &mut session.0;
        let parse = |a: &str| {
            a.parse::<Address>().map_err(|e| Delivery::Permanent {
                code: None,
                text: format!("{a:?} is not a valid address: {e}"),
            })
        };
        let from = match parse(&msg.envelope_from) {
            Ok(a) => a,
            Err(d) => return d,
        };
        let mut to = Vec::new();
        for t in &msg.envelope_to {
            match parse(t) {
                Ok(a) => to.push(a),
                Err(d) => return d,
            }
        }
        let mut params = Vec::new();
        if !msg.raw.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if (!msg.envelope_from.is_ascii() || msg.envelope_to.iter().any(|t| !t.is_ascii()))
            && conn.server_info().supports_feature(Extension::SmtpUtfEight)
        {
            params.push(MailParameter::SmtpUtfEight);
        }

        // Before the message bytes are written nothing can be delivered, so any failure
        // here is transient (4xx, network, timeout) or permanent (5xx).
        let before_data = |e: lettre::transport::smtp::Error| {
            if e.is_permanent() {
                Delivery::Permanent {
                    code: e.status().map(u16::from),
                    text: reply_text(&e),
                }
            } else {
                Delivery::Transient {
                    code: e.status().map(u16::from).unwrap_or(0),
                    text: format!("not sent: {}", reply_text(&e)),
                }
            }
        };
        // lettre's timeout covers only the connect on tokio, so every command gets its own.
        let limit = self.settings.timeout;
        let timed_out = || Delivery::Transient {
            code: 0,
            text: format!(
                "not sent: the relay did not answer within {} s",
                limit.as_secs()
            ),
        };
        let mut result =
            match tokio::time::timeout(limit, conn.command(Mail::new(Some(from), params))).await {
                Ok(r) => r.map_err(before_data),
                Err(_) => Err(timed_out()),
            };
        for t in to {
            if result.is_ok() {
                result = match tokio::time::timeout(limit, conn.command(Rcpt::new(t, vec![]))).await
                {
                    Ok(r) => r.map_err(before_data),
                    Err(_) => Err(timed_out()),
                };
            }
        }
        if result.is_ok() {
            result = match tokio::time::timeout(limit, conn.command(Data)).await {
                Ok(r) => r.map_err(before_data),
                Err(_) => Err(timed_out()),
            };
        }
        if let Err(d) = result {
            // The transaction is half-open; drop the connection rather than RSET so the
            // next message starts on a clean one (a 421 closes it anyway).
            abort_quickly(conn).await;
            return d;
        }
        let sent = match tokio::time::timeout(limit, conn.message(&msg.raw)).await {
            Ok(r) => r,
            Err(_) => {
                abort_quickly(conn).await;
                return Delivery::Unknown {
                    text: format!(
                        "the relay did not answer within {} s after the message was handed over",
                        limit.as_secs()
                    ),
                };
            }
        };
        match sent {
            Ok(resp) => {
                let text = resp.message().collect::<Vec<_>>().join(" ");
                Delivery::Accepted {
                    code: u16::from(resp.code()),
                    queue_id: parse_queue_id(&text),
                    text,
                }
            }
            Err(e) => {
                abort_quickly(conn).await;
                if e.is_permanent() {
                    Delivery::Permanent {
                        code: e.status().map(u16::from),
                        text: reply_text(&e),
                    }
                } else if e.is_transient() {
                    // An explicit 4xx after the final dot: the relay declined it.
                    Delivery::Transient {
                        code: e.status().map(u16::from).unwrap_or(0),
                        text: reply_text(&e),
                    }
                } else {
                    Delivery::Unknown {
                        text: format!(
                            "connection lost after the message was handed over: {}",
                            reply_text(&e)
                        ),
                    }
                }
            }
        }
    }

    fn usable(session: &SmtpSession) -> bool {
        !session.0.has_broken()
    }

    async fn close(mut session: SmtpSession) {
        if !session.0.has_broken() {
            let _ = session.0.quit().await;
        }
    }
}

/// The "Outbox folder" profile: NOTHING IS SENT. Each message is written as
/// `<Message-ID>.eml` into a folder, so a new user can run the whole flow without a
/// relay and open the results in their mail program.
#[derive(Debug, Clone)]
pub struct OutboxFolder {
    pub dir: PathBuf,
}

impl OutboxFolder {
    /// File name for a Message-ID: only characters safe on every OS.
    pub fn file_name(message_id: &str) -> String {
        let stem: String = message_id
            .trim_matches(|c| c == '<' || c == '>')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{stem}.eml")
    }
}

impl Relay for OutboxFolder {
    type Session = ();

    fn quota_key(&self) -> String {
        format!("outbox://{}", self.dir.display())
    }

    async fn open(&self) -> Result<(), OpenError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| OpenError {
                kind: OpenErrorKind::Io,
                message: format!(
                    "cannot create the outbox folder {}: {e}",
                    self.dir.display()
                ),
            })
    }

    async fn deliver<'a>(&'a self, _: &'a mut (), msg: &'a Outgoing) -> Delivery {
        let path = self.dir.join(Self::file_name(&msg.message_id));
        let tmp = path.with_extension("eml.part");
        // Write then rename, so a crash never leaves a half message that looks finished.
        let r = async {
            tokio::fs::write(&tmp, &msg.raw).await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        match r {
            Ok(()) => Delivery::Accepted {
                code: 250,
                text: format!("written to outbox folder as {}", path.display()),
                queue_id: None,
            },
            Err(e) => Delivery::Transient {
                code: 0,
                text: format!("could not write {}: {e}", path.display()),
            },
        }
    }

    fn usable(_: &()) -> bool {
        true
    }

    async fn close(_: ()) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_id_from_postfix_reply() {
        assert_eq!(
            parse_queue_id("2.0.0 Ok: queued as 4F1xZ23kLmz9"),
            Some("4F1xZ23kLmz9".into())
        );
        assert_eq!(parse_queue_id("2.0.0 OK queued (test)"), None);
    }

    #[test]
    fn outbox_file_names_are_safe() {
        assert_eq!(
            OutboxFolder::file_name("<a.b/../c@x.test>"),
            "a.b_.._c@x.test.eml"
        );
    }
}
