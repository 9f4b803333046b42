//! The mailbox loop: a relay profile names an IMAP mailbox; a sync reads the messages
//! that arrived since the last one and acts on what they are (see `classify.rs`):
//! - an unsubscribe request carrying a valid token, mailed to that campaign's unsubscribe
//!   address → the person it names goes on the suppression list (logged without the
//!   address); the same token mailed elsewhere is refused;
//! - a bounce matched by Message-ID to a sent message → that delivery's report shows it;
//!   hard (5.1.x) → suppressed; soft → counted per address, suppressed at
//!   [`SyncOptions::soft_bounce_limit`];
//! - a DMARC aggregate report → stored (`dmarc_report`);
//! - anything else is left alone.
//!
//! **Invariants:** the folder is opened read-only (EXAMINE, BODY.PEEK): nothing is
//! deleted, moved or flagged. Messages are processed in UID order in chunks; a chunk's
//! effects and the new "last UID" commit in one transaction, so a crash loses nothing
//! and processes nothing twice. A new UIDVALIDITY (the folder was rebuilt) starts again
//! from the first message; suppression is idempotent, soft-bounce counts may then count
//! a message again. Credentials are the caller's (`Credentials`); none is stored here.

mod classify;
mod imap;

use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::campaign::Security;
use crate::error::{ErrorCode, UserError};
use crate::operators::{Role, Session};
use crate::profiles::Profile;
use crate::recipients::address_key;
use crate::store::{Store, Tx};
use crate::suppression::{self, Reason};
use crate::trust::Trust;
use crate::unsubscribe::{self, TokenIndex, Verdict};

pub use classify::{classify, Bounce, Class};
pub use imap::Credentials;

/// Who acts when the mailbox is read: not an operator, the mail that came back.
pub const MAILBOX: &str = unsubscribe::MAILBOX;

/// The IMAP mailbox a relay profile reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSettings {
    pub host: String,
    pub port: u16,
    #[serde(serialize_with = "ser_security")]
    pub security: Security,
    pub folder: String,
}

fn ser_security<S: serde::Serializer>(s: &Security, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(match s {
        Security::Starttls => "starttls",
        Security::Tls => "tls",
    })
}

/// Why a sync (or a settings change) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Tls(String),
    #[error("the mailbox refused the sign-in: check the user name and password, or sign in again")]
    LoginRefused,
    #[error("the relay profile \"{0}\" names no mailbox to read")]
    NoMailbox(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(UserError),
    #[error("the mailbox's results could not be stored: {0}")]
    Database(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Connect(_) | Error::Tls(_) => ErrorCode::CheckFailed,
            Error::LoginRefused => ErrorCode::AuthFailed,
            Error::NoMailbox(_) | Error::Invalid(_) => ErrorCode::InvalidInput,
            Error::Refused(e) => e.code,
            Error::Database(_) => ErrorCode::Database,
        }
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> Self {
        UserError::new(e.code(), e.to_string())
    }
}

impl From<audit::Error> for Error {
    fn from(e: audit::Error) -> Self {
        Error::Database(e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Database(e.to_string())
    }
}

/// The mailbox `profile` reads, if any.
pub fn settings(store: &Store, profile: &str) -> Result<Option<MailboxSettings>, Error> {
    type Row = (Option<String>, Option<u16>, Option<String>, Option<String>);
    let row: Option<Row> = store
        .read()
        .query_row(
            "SELECT imap_host, imap_port, imap_security, imap_folder FROM relay_profiles
             WHERE name = ?1",
            [profile],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some(row) = row else {
        return Err(Error::Invalid(format!(
            "there is no relay profile \"{profile}\""
        )));
    };
    Ok(match row {
        (Some(host), Some(port), Some(sec), folder) => Some(MailboxSettings {
            host,
            port,
            security: if sec == "tls" {
                Security::Tls
            } else {
                Security::Starttls
            },
            folder: folder.unwrap_or_else(|| "INBOX".into()),
        }),
        _ => None,
    })
}

/// What a person types for the mailbox of a profile.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct MailboxInput {
    pub host: String,
    pub port: Option<u32>,
    /// `tls` (IMAPS, 993) or `starttls` (143).
    pub security: String,
    /// Default `INBOX`.
    pub folder: String,
}

fn validate(input: &MailboxInput) -> Result<MailboxSettings, Error> {
    let host = input.host.trim();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(
            "the mailbox server needs a host name, without spaces".into(),
        ));
    }
    let security = match input.security.trim().to_ascii_lowercase().as_str() {
        "tls" | "imaps" | "ssl" | "" => Security::Tls,
        "starttls" => Security::Starttls,
        "plain" | "none" => {
            return Err(Error::Invalid(
                "a mailbox is only read over TLS (IMAPS or STARTTLS): the password and the mail would travel readable".into(),
            ))
        }
        other => return Err(Error::Invalid(format!("\"{other}\" is not tls or starttls"))),
    };
    let port = match input.port {
        None => {
            if security == Security::Tls {
                993
            } else {
                143
            }
        }
        Some(p) if (1..=65535).contains(&p) => p as u16,
        Some(p) => {
            return Err(Error::Invalid(format!(
                "{p} is not a port number (1 to 65535)"
            )))
        }
    };
    let folder = input.folder.trim();
    let folder = if folder.is_empty() { "INBOX" } else { folder };
    if folder.contains(|c: char| c.is_control() || c == '"' || c == '\\') {
        return Err(Error::Invalid(
            "the folder name holds characters IMAP cannot quote".into(),
        ));
    }
    Ok(MailboxSettings {
        host: host.to_owned(),
        port,
        security,
        folder: folder.to_owned(),
    })
}

/// Sets (or with `None` clears) the mailbox a profile reads; admin only, logged.
pub fn set_settings(
    store: &Store,
    by: &Session,
    profile: &str,
    input: Option<&MailboxInput>,
    now: OffsetDateTime,
) -> Result<Option<MailboxSettings>, Error> {
    let settings = input.map(validate).transpose()?;
    crate::operators::authorize(store, by, Role::Admin, now).map_err(|e| {
        Error::Refused(UserError::new(
            e.code(),
            format!(
                "{} cannot change a relay profile's mailbox: {e}",
                by.operator()
            ),
        ))
    })?;
    store.transaction(|tx| {
        let n = tx.execute(
            "UPDATE relay_profiles SET imap_host = ?2, imap_port = ?3, imap_security = ?4,
                 imap_folder = ?5 WHERE name = ?1",
            params![
                profile,
                settings.as_ref().map(|s| s.host.clone()),
                settings.as_ref().map(|s| s.port),
                settings.as_ref().map(|s| if s.security == Security::Tls {
                    "tls"
                } else {
                    "starttls"
                }),
                settings.as_ref().map(|s| s.folder.clone()),
            ],
        )?;
        if n == 0 {
            return Err(Error::Invalid(format!(
                "there is no relay profile \"{profile}\""
            )));
        }
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::RelayProfileSaved,
            None,
            &serde_json::json!({"profile": profile, "change": "mailbox", "mailbox": settings}),
        )?;
        Ok(())
    })?;
    Ok(settings)
}

/// Tuning of a sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Soft bounces of one address before it is suppressed.
    pub soft_bounce_limit: u32,
    /// Messages per transaction.
    pub chunk: u32,
    /// Per network step.
    pub timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            soft_bounce_limit: 3,
            chunk: 500,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What one sync did. Counts only: no address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub profile: String,
    pub folder: String,
    pub uidvalidity: u32,
    /// The highest UID processed, after the sync.
    pub last_uid: u32,
    /// New messages read.
    pub read: u64,
    pub unsubscribed: u64,
    /// Valid requests for people already on the list (a repeat, or a replayed token).
    pub unsubscribe_repeated: u64,
    /// Requests whose token matched nothing this install sent (forged or mistyped), an
    /// unkeyed token past its grace period, or a valid token mailed to another address
    /// than its campaign's unsubscribe address.
    pub unsubscribe_refused: u64,
    pub hard_bounces: u64,
    pub soft_bounces: u64,
    /// Bounces that match no message this install sent.
    pub bounces_unmatched: u64,
    /// Addresses newly on the suppression list (unsubscribes and bounces).
    pub suppressed: u64,
    pub dmarc_reports: u64,
    pub dmarc_refused: u64,
    /// Messages left alone (replies, spam, anything else).
    pub untouched: u64,
}

/// Reads `settings`'s folder from the last processed UID on, for `profile`, with
/// credentials the caller holds; the sync's log entry names [`MAILBOX`]. No role check:
/// this is for callers that bring their own credentials (tests, benchmarks). A person
/// checks a mailbox through [`check_mailbox`], which needs a sender or an admin.
pub async fn sync(
    store: &Store,
    profile: &Profile,
    settings: &MailboxSettings,
    credentials: &Credentials,
    options: &SyncOptions,
    now: OffsetDateTime,
) -> Result<SyncReport, Error> {
    sync_as(store, MAILBOX, profile, settings, credentials, options, now).await
}

/// [`sync`], its log entry (`mailbox_synced`) naming `operator`, who asked for it.
async fn sync_as(
    store: &Store,
    operator: &str,
    profile: &Profile,
    settings: &MailboxSettings,
    credentials: &Credentials,
    options: &SyncOptions,
    now: OffsetDateTime,
) -> Result<SyncReport, Error> {
    let ca = profile.ca.as_ref().map(|c| c.path.as_path());
    if let Some(ca) = &profile.ca {
        let bytes = std::fs::read(&ca.path).map_err(|e| {
            Error::Tls(format!(
                "cannot read the CA file {}: {e}",
                ca.path.display()
            ))
        })?;
        use sha2::Digest;
        if hex::encode(sha2::Sha256::digest(&bytes)) != ca.sha256 {
            return Err(Error::Tls(format!(
                "the CA file {} changed after the profile was saved; save the profile again to trust it",
                ca.path.display()
            )));
        }
    }
    let trust = Trust::with_ca_file(ca).map_err(|e| Error::Tls(e.to_string()))?;
    let mut session = imap::open(settings, &trust, credentials, options.timeout).await?;
    let (validity, uid_next) =
        imap::examine(&mut session, &settings.folder, options.timeout).await?;
    let mut report = SyncReport {
        profile: profile.name.clone(),
        folder: settings.folder.clone(),
        uidvalidity: validity,
        ..SyncReport::default()
    };
    let stored: Option<(u32, u32)> = store
        .read()
        .query_row(
            "SELECT uidvalidity, last_uid FROM mailbox_sync WHERE profile = ?1 AND folder = ?2",
            params![profile.name, settings.folder],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut last = match stored {
        Some((v, uid)) if v == validity => uid,
        _ => 0,
    };
    report.last_uid = last;
    let tokens = TokenIndex::build(store, now).map_err(Error::Refused)?;
    let chunk = options.chunk.max(1);
    loop {
        let from = last + 1;
        let to = match uid_next {
            Some(next) if from >= next => break,
            Some(next) => Some((from + chunk - 1).min(next - 1)),
            None => None,
        };
        let fetched = imap::fetch_range(&mut session, from, to, options.timeout).await?;
        let end = match to {
            Some(t) => t,
            None => match fetched.last() {
                Some(f) => f.uid,
                None => break,
            },
        };
        let classes: Vec<(u32, Class)> = fetched
            .iter()
            .map(|f| (f.uid, classify(&f.bytes, &tokens)))
            .collect();
        let mut delta = SyncReport::default();
        store.transaction(|tx| {
            for (_, class) in &classes {
                apply(tx, class, options, now, &mut delta)?;
            }
            let at = audit::format_time(now)?;
            tx.execute(
                "INSERT INTO mailbox_sync (profile, folder, uidvalidity, last_uid, synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (profile, folder) DO UPDATE SET uidvalidity = ?3, last_uid = ?4,
                     synced_at = ?5",
                params![profile.name, settings.folder, validity, end, at],
            )?;
            Ok::<_, Error>(())
        })?;
        add(&mut report, &delta);
        report.read += classes.len() as u64;
        last = end;
        report.last_uid = last;
        if to.is_none() {
            break;
        }
    }
    if report.read == 0 {
        // Nothing new: still record when the folder was last checked.
        let at = audit::format_time(now)?;
        store.transaction(|tx| {
            tx.execute(
                "INSERT INTO mailbox_sync (profile, folder, uidvalidity, last_uid, synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (profile, folder) DO UPDATE SET uidvalidity = ?3, last_uid = ?4,
                     synced_at = ?5",
                params![profile.name, settings.folder, validity, last, at],
            )
        })?;
    }
    let _ = tokio::time::timeout(options.timeout, session.logout()).await;
    audit::append(
        store,
        now,
        operator,
        Kind::MailboxSynced,
        None,
        serde_json::to_value(&report).unwrap_or_default(),
    )?;
    Ok(report)
}

fn add(total: &mut SyncReport, d: &SyncReport) {
    total.unsubscribed += d.unsubscribed;
    total.unsubscribe_repeated += d.unsubscribe_repeated;
    total.unsubscribe_refused += d.unsubscribe_refused;
    total.hard_bounces += d.hard_bounces;
    total.soft_bounces += d.soft_bounces;
    total.bounces_unmatched += d.bounces_unmatched;
    total.suppressed += d.suppressed;
    total.dmarc_reports += d.dmarc_reports;
    total.dmarc_refused += d.dmarc_refused;
    total.untouched += d.untouched;
}

/// One message's effects, inside the chunk's transaction.
fn apply(
    tx: &Tx<'_>,
    class: &Class,
    options: &SyncOptions,
    now: OffsetDateTime,
    r: &mut SyncReport,
) -> Result<(), Error> {
    match class {
        Class::Other => r.untouched += 1,
        Class::Unsubscribe(Verdict::Valid(issued)) => {
            if unsubscribe::honour_in(tx, issued, now)? {
                r.unsubscribed += 1;
                r.suppressed += 1;
            } else {
                r.unsubscribe_repeated += 1;
            }
        }
        Class::Unsubscribe(v) => {
            r.unsubscribe_refused += 1;
            let (why, campaign) = match v {
                Verdict::LegacyExpired { campaign_id } => {
                    ("legacy_token_expired", Some(campaign_id.as_str()))
                }
                // A valid token mailed somewhere else than the campaign's unsubscribe
                // address; the address it went to is not logged.
                Verdict::WrongAddress { campaign_id } => {
                    ("not_unsubscribe_address", Some(campaign_id.as_str()))
                }
                _ => ("unknown_token", None),
            };
            audit::append_in(
                tx,
                now,
                MAILBOX,
                Kind::UnsubscribeRefused,
                campaign,
                &serde_json::json!({"why": why}),
            )?;
        }
        Class::Report(report) => {
            if crate::dmarc_report::store_in(tx, report, MAILBOX, now)? {
                r.dmarc_reports += 1;
            }
        }
        Class::BadReport(_) => r.dmarc_refused += 1,
        Class::Bounce(b) => bounce(tx, b, options, now, r)?,
    }
    Ok(())
}

fn bounce(
    tx: &Tx<'_>,
    b: &Bounce,
    options: &SyncOptions,
    now: OffsetDateTime,
    r: &mut SyncReport,
) -> Result<(), Error> {
    // The one message we sent that this reports on: by Message-ID, else by the failed
    // recipient among sent messages (the newest).
    let found: Option<(String, String)> = match &b.message_id {
        Some(id) => tx
            .query_row(
                "SELECT campaign_id, address FROM deliveries WHERE message_id = ?1 LIMIT 1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?,
        None => None,
    };
    let found = match (found, &b.recipient) {
        (Some(f), _) => Some(f),
        (None, Some(rcpt)) => tx
            .query_row(
                "SELECT campaign_id, address FROM deliveries WHERE address = ?1 AND state = 'sent'
                 ORDER BY updated_at DESC LIMIT 1",
                [address_key(rcpt)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?,
        (None, None) => None,
    };
    let Some((campaign, address)) = found else {
        r.bounces_unmatched += 1;
        return Ok(());
    };
    let at = audit::format_time(now)?;
    tx.execute(
        "UPDATE deliveries SET bounce_status = ?3, bounced_at = ?4
         WHERE campaign_id = ?1 AND address = ?2",
        params![campaign, address, b.status, at],
    )?;
    let hard = b.is_hard();
    let mut suppress = hard;
    if hard {
        r.hard_bounces += 1;
    } else {
        r.soft_bounces += 1;
        let count: u32 = tx.query_row(
            "INSERT INTO soft_bounces (address, count, last_status, last_at) VALUES (?1, 1, ?2, ?3)
             ON CONFLICT (address) DO UPDATE SET count = count + 1, last_status = ?2, last_at = ?3
             RETURNING count",
            params![address, b.status, at],
            |row| row.get(0),
        )?;
        suppress = count >= options.soft_bounce_limit;
    }
    audit::append_in(
        tx,
        now,
        MAILBOX,
        Kind::BounceReceived,
        Some(&campaign),
        &serde_json::json!({"status": b.status, "hard": hard}),
    )?;
    if suppress {
        let added = suppression::insert_in(
            tx,
            std::slice::from_ref(&address),
            Reason::Bounced,
            MAILBOX,
            Some(&campaign),
            &at,
            now,
        )?;
        r.suppressed += added as u64;
    }
    Ok(())
}

/// The bounce a delivery got after it was sent, for the delivery report:
/// (status, when), per address of a campaign.
pub fn bounces(
    store: &Store,
    campaign_id: &str,
) -> Result<Vec<(String, String, String)>, UserError> {
    let conn = store.read();
    let mut stmt = conn
        .prepare(
            "SELECT email, bounce_status, bounced_at FROM deliveries
             WHERE campaign_id = ?1 AND bounce_status IS NOT NULL ORDER BY row",
        )
        .map_err(UserError::from)?;
    let rows = stmt
        .query_map([campaign_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(UserError::from)?;
    rows.collect::<Result<_, _>>().map_err(UserError::from)
}

/// How far the profile's mailbox was read: (folder, UIDVALIDITY, last UID, when).
pub fn last_sync(
    store: &Store,
    profile: &str,
) -> Result<Option<(String, u32, u32, String)>, UserError> {
    store
        .read()
        .query_row(
            "SELECT folder, uidvalidity, last_uid, synced_at FROM mailbox_sync WHERE profile = ?1
             ORDER BY synced_at DESC LIMIT 1",
            [profile],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(UserError::from)
}

/// The credentials a profile signs in to its mailbox with: the password stored in the
/// OS keychain for the profile's login (the same account as for sending).
pub fn stored_credentials(profile: &Profile) -> Result<Credentials, Error> {
    match crate::profiles::stored_password(profile) {
        Ok(Some(password)) => Ok(Credentials::Password {
            user: profile.username.clone(),
            password,
        }),
        Ok(None) => Err(Error::Refused(UserError::new(
            ErrorCode::Keychain,
            format!(
                "no password is stored for the relay profile \"{}\": save it in the profile first",
                profile.name
            ),
        ))),
        Err(e) => Err(Error::Refused(UserError::new(e.code(), e.to_string()))),
    }
}

/// "Check the mailbox", in the window and on the command line (`mergeguard mailbox sync
/// --operator NAME`): a signed-in sender or admin (the sync adds to the suppression list,
/// as they may; re-checked here), then the profile, its mailbox and its stored
/// credentials, then [`sync`]. The sync's log entry names the operator; what the mail
/// itself caused (unsubscribes, bounces, reports) is logged as [`MAILBOX`].
pub async fn check_mailbox(
    store: &Store,
    by: &Session,
    profile_name: &str,
    options: &SyncOptions,
    now: OffsetDateTime,
) -> Result<SyncReport, Error> {
    crate::operators::authorize_any(store, by, &[Role::Sender, Role::Admin], now).map_err(|e| {
        Error::Refused(UserError::new(
            e.code(),
            format!("{} cannot check the mailbox: {e}", by.operator()),
        ))
    })?;
    let profile = crate::profiles::get(store, profile_name)
        .map_err(|e| Error::Refused(UserError::new(e.code(), e.to_string())))?;
    let settings =
        settings(store, &profile.name)?.ok_or_else(|| Error::NoMailbox(profile.name.clone()))?;
    let oauth = match profile.auth {
        crate::profiles::AuthMethod::OAuth2 => Some((
            crate::oauth::settings(store, &profile.name)
                .map_err(oauth_error)?
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "the relay profile \"{}\" has no sign-in settings",
                        profile.name
                    ))
                })?,
            crate::oauth::trust_for(&profile).map_err(oauth_error)?,
        )),
        crate::profiles::AuthMethod::Password => None,
    };
    let run = async |credentials: &Credentials| {
        sync_as(
            store,
            by.operator(),
            &profile,
            &settings,
            credentials,
            options,
            now,
        )
        .await
    };
    let Some((oauth, trust)) = &oauth else {
        return run(&stored_credentials(&profile)?).await;
    };
    // OAuth2: an access token (refreshed if need be) for SASL XOAUTH2; an expired or
    // withdrawn sign-in is "sign in again", before connecting.
    let credentials = oauth_credentials(&profile, oauth, trust).await?;
    match run(&credentials).await {
        // The token was refused at sign-in (withdrawn, or ended early at the server):
        // forget it and try once more with a new one, which says "sign in again" when
        // the consent is gone. Nothing is read before the sign-in.
        Err(Error::LoginRefused) => {
            if let Credentials::AccessToken { token, .. } = &credentials {
                crate::oauth::token_refused(&profile, token);
            }
            run(&oauth_credentials(&profile, oauth, trust).await?).await
        }
        other => other,
    }
}

async fn oauth_credentials(
    profile: &Profile,
    oauth: &crate::oauth::OAuthSettings,
    trust: &crate::trust::Trust,
) -> Result<Credentials, Error> {
    Ok(Credentials::AccessToken {
        user: profile.username.clone(),
        token: crate::oauth::access_token(oauth, profile, trust)
            .await
            .map_err(oauth_error)?,
    })
}

fn oauth_error(e: crate::oauth::Error) -> Error {
    Error::Refused(UserError::from(e))
}
