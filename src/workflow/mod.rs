//! The campaign's path from files to sent mail, shared by the app and the CLI:
//! [`prepare`] (the files read once, checked and fingerprinted), [`submit`],
//! [`approve`], [`send`] (behind the gate in `gate.rs`), [`test_send`], [`report`].
//!
//! Architecture invariants:
//! - this is the one caller of [`send::send_campaign`] outside tests and benches, and
//!   [`approval::require_approval`] stands in front of it;
//! - every byte that is checked, fingerprinted and sent comes from one
//!   [`crate::campaign::Snapshot`] per [`prepare`]: [`send`] re-runs [`prepare`] on the
//!   files as they are now, needs an approval of that fingerprint, and builds from that
//!   snapshot; nothing is read from disk after the approval check except each
//!   recipient's own attachment, which must hash to the file approved for THAT
//!   recipient. A difference stops the send and voids the approval
//!   ([`approval::void`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use time::OffsetDateTime;

use crate::approval::{self, Approval, FingerprintInput, Submission};
use crate::audit::{self, Kind};
use crate::campaign::{self, Campaign, Snapshot};
use crate::compose::BuiltMessage;
use crate::error::{ErrorCode, Reason, UserError};
use crate::operators::{self, Role, Session};
use crate::preflight::campaign::{stored_relay_password, CheckOptions};
use crate::preflight::{dkim, Report};
use crate::recipients::RecipientList;
use crate::secrets::Secret;
use crate::send::{self, state, ReportRow, SmtpRelay, SmtpSettings, TokenSource};
use crate::store::Store;

mod gate;
mod prepare;
mod sending;
mod test_send;

pub use prepare::prepare;
#[doc(hidden)]
pub use sending::send_with_hook;
pub use sending::{send, SendRequest};
pub use test_send::{
    set_operator_email, set_test_domains, test_domains, test_send, TestSent, TEST_DOMAINS_KEY,
};

/// A campaign file checked and fingerprinted, ready to submit, approve or send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The campaign file.
    pub path: PathBuf,
    pub campaign: Campaign,
    pub campaign_id: String,
    pub recipients: RecipientList,
    /// The whole checklist run, failures first.
    pub report: Report,
    pub input: FingerprintInput,
    /// SHA-256 (hex) of [`Prepared::input`].
    pub fingerprint: String,
    /// The first built messages, for the approver.
    pub samples: Vec<BuiltMessage>,
    /// The options the checklist ran with; [`send`] re-runs it with the same ones.
    pub options: CheckOptions,
    /// The bytes everything above was computed from (read once).
    snapshot: Snapshot,
}

impl Prepared {
    /// The short fingerprint both people see.
    pub fn short(&self) -> String {
        approval::short(&self.fingerprint)
    }

    /// Check ids the approver must acknowledge.
    pub fn warnings(&self) -> Vec<String> {
        self.input.warnings()
    }

    /// Check ids that block submission.
    pub fn failures(&self) -> Vec<String> {
        self.input.failures()
    }

    /// Where the messages go, in words.
    pub fn destination(&self) -> String {
        destination_of(&self.campaign)
    }

    /// The first `n` built messages (at most [`crate::preflight::campaign::SAMPLE_MESSAGES`]).
    pub fn sample_messages(&self, n: usize) -> Vec<BuiltMessage> {
        self.samples.iter().take(n).cloned().collect()
    }

    /// The bytes this campaign was checked and fingerprinted from.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
}

fn destination_of(campaign: &Campaign) -> String {
    match (&campaign.relay, &campaign.outbox) {
        (Some(r), _) => {
            let security = match r.security {
                campaign::Security::Starttls => "STARTTLS",
                campaign::Security::Tls => "implicit TLS",
            };
            format!("relay {}:{} ({security}) as {}", r.host, r.port, r.username)
        }
        (None, Some(o)) => format!(
            "Outbox folder {} (nothing is sent)",
            campaign.resolve(&o.folder).display()
        ),
        (None, None) => "no relay configured".into(),
    }
}

/// Writes a `check_run` entry for a checklist run by `operator`: the fingerprint and
/// which checks failed or warned (the app and the CLI both call this after `prepare`).
pub fn log_check_run(
    store: &Store,
    operator: &str,
    prepared: &Prepared,
    now: OffsetDateTime,
) -> Result<(), UserError> {
    let ids = |status: crate::preflight::Status| -> Vec<&str> {
        prepared
            .report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.id.as_str())
            .collect()
    };
    audit::append(
        store,
        now,
        operator,
        Kind::CheckRun,
        Some(&prepared.campaign_id),
        json!({
            "fingerprint": prepared.fingerprint,
            "passed": prepared.report.passed(),
            "failures": ids(crate::preflight::Status::Fail),
            "warnings": ids(crate::preflight::Status::Warning),
            "passes": ids(crate::preflight::Status::Pass).len(),
        }),
    )
    .map(drop)
    .map_err(|e| UserError::new(e.code(), e.to_string()))
}

fn approval_error(e: approval::Error) -> UserError {
    e.to_user()
}

/// Freezes the campaign for approval: the preparer needs the sender role, and a
/// campaign with a failing check cannot be submitted.
pub fn submit(
    store: &Store,
    prepared: &Prepared,
    preparer: &Session,
    now: OffsetDateTime,
) -> Result<Submission, UserError> {
    approval::submit_as(store, &prepared.campaign_id, &prepared.input, preparer, now)
        .map_err(approval_error)
}

/// The second operator approves exactly `prepared` with their own PIN.
pub fn approve(
    store: &Store,
    prepared: &Prepared,
    approver: &str,
    pin: &Secret,
    acknowledged: &[String],
    now: OffsetDateTime,
) -> Result<Approval, UserError> {
    approval::approve(
        store,
        &prepared.campaign_id,
        &prepared.fingerprint,
        approver,
        pin,
        acknowledged,
        now,
    )
    .map_err(approval_error)
}

fn log(
    store: &Store,
    operator: &str,
    kind: Kind,
    campaign_id: &str,
    details: serde_json::Value,
) -> Result<(), UserError> {
    audit::append(
        store,
        OffsetDateTime::now_utc(),
        operator,
        kind,
        Some(campaign_id),
        details,
    )
    .map(|_| ())
    .map_err(|e| UserError::new(e.code(), e.to_string()))
}

/// The campaign's DKIM signer, from the key bytes in the snapshot (the key that was
/// checked and fingerprinted signs; it is not read again).
fn dkim_signer(
    campaign: &Campaign,
    snapshot: &Snapshot,
) -> Result<Option<Arc<send::DkimSign>>, UserError> {
    let (Some(d), Some(key)) = (&campaign.dkim, snapshot.dkim_key()) else {
        return Ok(None);
    };
    let key = key.map_err(|e| UserError::new(ErrorCode::InvalidCampaign, e))?;
    let key = dkim::parse_dkim_key(key.bytes())
        .map_err(|e| UserError::new(ErrorCode::InvalidCampaign, e))?;
    let domain = campaign.dkim_domain().unwrap_or_default();
    let selector = d.selector.clone();
    let sign: Arc<send::DkimSign> = Arc::new(move |raw: &[u8]| {
        key.sign(raw, &domain, &selector, SystemTime::now())
            .map_err(|e| e.to_string())
    });
    Ok(Some(sign))
}

/// The relay password: the one given, else the keychain's for the campaign's profile.
fn relay_password(campaign: &Campaign, given: Option<Secret>) -> Result<Secret, UserError> {
    if let Some(p) = given {
        return Ok(p);
    }
    match stored_relay_password(campaign) {
        Some(stored) => stored.map_err(|e| UserError::new(e.code(), e.to_string())),
        None => Err(UserError::new(
            ErrorCode::InvalidCampaign,
            "the campaign names no relay",
        )),
    }
}

/// For a campaign whose relay profile signs in with OAuth2: the profile's tokens as the
/// relay's per-connection [`TokenSource`], after a valid access token was got (refreshed
/// if need be) before anything is sent, so an expired or withdrawn sign-in stops the
/// send before its first message with code `sign_in_required`. Every later connection
/// asks again, so a send longer than a token's life gets a fresh one. `None` for a
/// password relay.
pub(crate) async fn oauth_relay_tokens(
    store: &Store,
    campaign: &Campaign,
) -> Result<Option<Arc<dyn TokenSource>>, UserError> {
    let Some(name) = &campaign.relay_profile else {
        return Ok(None);
    };
    let profile =
        crate::profiles::get(store, name).map_err(|e| UserError::new(e.code(), e.to_string()))?;
    if profile.auth != crate::profiles::AuthMethod::OAuth2 {
        return Ok(None);
    }
    let settings = crate::oauth::settings(store, &profile.name)?.ok_or_else(|| {
        UserError::new(
            ErrorCode::SignInRequired,
            format!("the relay profile \"{name}\" has no sign-in settings"),
        )
    })?;
    let trust = crate::oauth::trust_for(&profile)?;
    crate::oauth::access_token(&settings, &profile, &trust).await?;
    Ok(Some(Arc::new(crate::oauth::ProfileTokens::new(
        settings, profile, trust,
    ))))
}

/// How the relay signs in: a password, or an OAuth2 access token per connection.
pub(crate) enum RelayLogin {
    Password(Secret),
    Tokens(Arc<dyn TokenSource>),
}

impl RelayLogin {
    /// The profile's tokens when it signs in with OAuth2, else the password given or
    /// stored.
    fn of(
        tokens: Option<Arc<dyn TokenSource>>,
        campaign: &Campaign,
        given: Option<Secret>,
    ) -> Result<RelayLogin, UserError> {
        match tokens {
            Some(tokens) => Ok(RelayLogin::Tokens(tokens)),
            None => relay_password(campaign, given).map(RelayLogin::Password),
        }
    }
}

/// The campaign's relay, trusting the system roots plus the CA bytes in the snapshot
/// (the `--ca` override or `[relay] ca`, as fingerprinted; never read again). With
/// OAuth2 tokens, each connection asks for its own and the only mechanism is XOAUTH2.
fn smtp_relay(
    campaign: &Campaign,
    snapshot: &Snapshot,
    login: RelayLogin,
) -> Result<SmtpRelay, UserError> {
    let relay = campaign
        .relay
        .as_ref()
        .ok_or_else(|| UserError::new(ErrorCode::InvalidCampaign, "the campaign names no relay"))?;
    let security = match relay.security {
        campaign::Security::Starttls => send::Security::StartTls,
        campaign::Security::Tls => send::Security::ImplicitTls,
    };
    let mut settings = SmtpSettings::new(relay.host.clone(), relay.port, security);
    settings.username = Some(relay.username.clone());
    match login {
        RelayLogin::Password(password) => settings.password = Some(password),
        RelayLogin::Tokens(tokens) => {
            settings.token_source = Some(tokens);
            settings.mechanisms = vec![lettre::transport::smtp::authentication::Mechanism::Xoauth2];
        }
    }
    settings.timeout = Duration::from_secs(30);
    settings.extra_ca_pem = snapshot.ca().map(|f| f.bytes().to_vec());
    SmtpRelay::new(settings).map_err(|e| UserError::new(e.code(), e.to_string()))
}

/// Puts `unknown` rows back in the queue: the operator's explicit decision that the
/// duplicate risk is acceptable, logged with the rows.
pub fn requeue_unknown(
    store: &Store,
    campaign_id: &str,
    rows: &[u64],
    operator: &str,
) -> Result<usize, UserError> {
    let db = |e: rusqlite::Error| {
        UserError::new(
            ErrorCode::Database,
            format!("the local database failed: {e}"),
        )
    };
    // The operator as stored now, not as the caller remembers them: sealed, enabled and
    // a sender (the same check as starting a send).
    match operators::authorize_name(store, operator, &[Role::Sender], OffsetDateTime::now_utc()) {
        Ok(_) => {}
        Err(e @ operators::Error::Tampered(_)) => {
            return Err(UserError::new(e.code(), e.to_string()))
        }
        Err(_) => {
            return Err(UserError::new(
                ErrorCode::Forbidden,
                format!(
                    "{operator} cannot requeue: it needs an active operator with the sender role"
                ),
            )
            .with_reason(Some(
                Reason::new("missing_role")
                    .with("name", operator)
                    .with("role", "sender"),
            )))
        }
    }
    let conn = rusqlite::Connection::open(store.path()).map_err(db)?;
    state::migrate(&conn).map_err(db)?;
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let n = state::requeue_unknown(&conn, campaign_id, rows, now_ms).map_err(db)?;
    log(
        store,
        operator,
        Kind::UnknownRequeued,
        campaign_id,
        json!({"rows": rows, "requeued": n}),
    )?;
    Ok(n)
}

/// The per-recipient report of a campaign: one line per person, in row order of the
/// recipient file last sent from (people no longer in it last, row 0).
pub fn report(store: &Store, campaign_id: &str) -> Result<Vec<ReportRow>, UserError> {
    rusqlite::Connection::open(store.path())
        .and_then(|c| state::migrate(&c).map(|_| c))
        .and_then(|c| state::report(&c, campaign_id))
        .map_err(|e| {
            UserError::new(
                ErrorCode::Database,
                format!("the local database failed: {e}"),
            )
        })
}
