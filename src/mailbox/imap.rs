//! The IMAP connection of a mailbox sync: TCP, implicit TLS or STARTTLS over the
//! project's tokio-rustls (trusting exactly `trust::Trust`: system roots plus the
//! profile's CA file), sign-in with a password (LOGIN) or an OAuth2 access token
//! (SASL XOAUTH2), and read-only access to one folder (EXAMINE, BODY.PEEK: no flag is
//! set, nothing is moved or deleted).
//!
//! The protocol is async-imap's; nothing here parses IMAP. **Invariant:** no credential
//! is sent before TLS is up (STARTTLS is required, its failure ends the connection).

use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{Error, MailboxSettings};
use crate::campaign::Security;
use crate::secrets::Secret;
use crate::trust::Trust;

pub(crate) type Stream = TlsStream<TcpStream>;

/// How the sync signs in to the mailbox.
pub enum Credentials {
    Password {
        user: String,
        password: Secret,
    },
    /// An OAuth2 access token, sent with SASL XOAUTH2.
    AccessToken {
        user: String,
        token: Secret,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => write!(f, "Password({user}, <redacted>)"),
            Credentials::AccessToken { user, .. } => write!(f, "AccessToken({user}, <redacted>)"),
        }
    }
}

/// SASL XOAUTH2: the initial response, then an empty answer to the server's error
/// challenge so that it finishes with NO instead of waiting.
struct XOAuth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

async fn timed<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = T>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, f).await.map_err(|_| {
        Error::Connect(format!(
            "no answer from the mailbox within {} s ({what})",
            limit.as_secs()
        ))
    })
}

/// Connects, secures and signs in; returns a session with nothing selected.
pub(crate) async fn open(
    settings: &MailboxSettings,
    trust: &Trust,
    credentials: &Credentials,
    limit: Duration,
) -> Result<Session<Stream>, Error> {
    let addr = (settings.host.as_str(), settings.port);
    let tcp = timed(limit, "connect", TcpStream::connect(addr))
        .await?
        .map_err(|e| {
            Error::Connect(format!(
                "cannot connect to {}:{}: {e}",
                settings.host, settings.port
            ))
        })?;
    let _ = tcp.set_nodelay(true);
    let config = trust
        .client_config(None)
        .map_err(|e| Error::Tls(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::<rustls::ClientConfig>::clone(&config));
    let name = ServerName::try_from(settings.host.clone())
        .map_err(|_| Error::Connect(format!("\"{}\" is not a host name", settings.host)))?;
    let tls = match settings.security {
        Security::Tls => timed(limit, "TLS", connector.connect(name, tcp))
            .await?
            .map_err(|e| Error::Tls(tls_words(&e)))?,
        Security::Starttls => {
            let mut plain = Client::new(tcp);
            let greeting = timed(limit, "greeting", plain.read_response())
                .await?
                .map_err(|e| Error::Connect(e.to_string()))?;
            if greeting.is_none() {
                return Err(Error::Connect(
                    "the mailbox server closed the connection".into(),
                ));
            }
            timed(
                limit,
                "STARTTLS",
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await?
            .map_err(|e| {
                Error::Tls(format!(
                    "the server refused STARTTLS ({e}); nothing was sent before TLS"
                ))
            })?;
            let tcp = plain.into_inner();
            timed(limit, "TLS", connector.connect(name, tcp))
                .await?
                .map_err(|e| Error::Tls(tls_words(&e)))?
        }
    };
    let mut client = Client::new(tls);
    if settings.security == Security::Tls {
        let greeting = timed(limit, "greeting", client.read_response())
            .await?
            .map_err(|e| Error::Connect(e.to_string()))?;
        if greeting.is_none() {
            return Err(Error::Connect(
                "the mailbox server closed the connection".into(),
            ));
        }
    }
    let session = match credentials {
        Credentials::Password { user, password } => {
            timed(limit, "LOGIN", client.login(user, password.expose())).await?
        }
        Credentials::AccessToken { user, token } => {
            let auth = XOAuth2 {
                response: Some(format!(
                    "user={user}\x01auth=Bearer {}\x01\x01",
                    token.expose()
                )),
            };
            timed(limit, "AUTHENTICATE", client.authenticate("XOAUTH2", auth)).await?
        }
    };
    // The server's words go nowhere: they could echo what was sent.
    session.map_err(|(e, _)| match e {
        async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => Error::LoginRefused,
        other => Error::Connect(format!(
            "the mailbox sign-in failed: {}",
            short(&other.to_string())
        )),
    })
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

fn tls_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    if s.contains("certificate") || s.contains("UnknownIssuer") {
        format!(
            "the mailbox server's certificate is not trusted: {}",
            short(&s)
        )
    } else {
        format!("TLS with the mailbox server failed: {}", short(&s))
    }
}

/// One fetched message: its UID and full bytes.
pub(crate) struct Fetched {
    pub uid: u32,
    pub bytes: Vec<u8>,
}

/// Opens `folder` read-only: (UIDVALIDITY, UIDNEXT).
pub(crate) async fn examine(
    session: &mut Session<Stream>,
    folder: &str,
    limit: Duration,
) -> Result<(u32, Option<u32>), Error> {
    let mailbox = timed(limit, "EXAMINE", session.examine(folder))
        .await?
        .map_err(|e| {
            Error::Connect(format!(
                "cannot open the folder \"{folder}\": {}",
                short(&e.to_string())
            ))
        })?;
    let validity = mailbox
        .uid_validity
        .ok_or_else(|| Error::Connect("the server gave no UIDVALIDITY for the folder".into()))?;
    Ok((validity, mailbox.uid_next))
}

/// The messages with UIDs in `from..=to` (`to` None: to the end), oldest first, bytes
/// read without setting \Seen.
pub(crate) async fn fetch_range(
    session: &mut Session<Stream>,
    from: u32,
    to: Option<u32>,
    limit: Duration,
) -> Result<Vec<Fetched>, Error> {
    let range = match to {
        Some(to) => format!("{from}:{to}"),
        None => format!("{from}:*"),
    };
    let fetch = async {
        let stream = session.uid_fetch(&range, "(UID BODY.PEEK[])").await?;
        stream.try_collect::<Vec<_>>().await
    };
    let fetched = timed(limit, "FETCH", fetch).await?.map_err(|e| {
        Error::Connect(format!(
            "reading the mailbox failed: {}",
            short(&e.to_string())
        ))
    })?;
    let mut out: Vec<Fetched> = fetched
        .iter()
        .filter_map(|f| {
            let uid = f.uid?;
            // "N:*" always returns the last message, even below N.
            if uid < from || to.is_some_and(|t| uid > t) {
                return None;
            }
            Some(Fetched {
                uid,
                bytes: f.body().unwrap_or_default().to_vec(),
            })
        })
        .collect();
    out.sort_by_key(|f| f.uid);
    out.dedup_by_key(|f| f.uid);
    Ok(out)
}
