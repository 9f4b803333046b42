//! Second-operator approval: the campaign fingerprint, submitting (freezing) a campaign,
//! approving it with another operator's PIN, and [`require_approval`], the one gate every
//! sending path calls.
//!
//! Architecture invariant: this module does not read campaign files. The caller builds a
//! [`FingerprintInput`] from the files *as they are now* each time, so an edit on disk
//! after approval changes the fingerprint and the gate refuses.

use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, Reason, UserError};
use crate::operators::{self, Role, Session};
use crate::secrets::Secret;
use crate::store::{self, Store, Tx};

/// How long an approval stays valid unless an admin sets another value.
pub const DEFAULT_VALIDITY: Duration = Duration::hours(24);
const VALIDITY_KEY: &str = "approval_validity_secs";
/// The operator name the log shows for refusals at the sending gate (no person acts).
pub const SYSTEM_OPERATOR: &str = "system";

/// The sender identity as it will appear in every message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderInput {
    pub name: String,
    pub address: String,
    pub reply_to: Option<String>,
}

/// One recipient: the address and the merge values in the recipient file's header order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientInput {
    pub address: String,
    /// (column name, value) in header order.
    pub fields: Vec<(String, String)>,
}

/// One attachment: its file name and the SHA-256 (hex) of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInput {
    pub name: String,
    pub sha256: String,
}

/// One recipient's own attachment (a campaign with `attachment_column`): the approval
/// binds this file's bytes to this person, so at sending time a swapped, edited or
/// different file for them stops the send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientAttachmentInput {
    /// The recipient's normalised address ([`crate::recipients::address_key`]).
    pub address: String,
    /// The file as the attachment column names it, relative to the attachment folder.
    pub path: String,
    /// SHA-256 (hex) of the bytes their message carries.
    pub sha256: String,
}

/// The relay profile the campaign is sent through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelayInput {
    pub host: String,
    pub port: u16,
    /// `starttls` or `tls`.
    pub security: String,
    pub username: String,
    /// SHA-256 (hex) of the extra CA file the send will trust: the `--ca` override when
    /// one is given, else `[relay] ca`. Another CA at sending time is another fingerprint.
    pub ca_sha256: Option<String>,
}

/// The DKIM signing configuration: a different key signs different bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimInput {
    pub domain: String,
    pub selector: String,
    /// SHA-256 (hex) of the private key file's bytes (the key itself never leaves it).
    pub key_sha256: String,
}

/// The unsubscribe addresses every message carries (List-Unsubscribe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsubscribeInput {
    pub mailto: Option<String>,
    /// The one-click URL template, `{token}` unexpanded.
    pub url: Option<String>,
}

/// One pre-flight result: the check id and `pass`, `warning`, `skipped` or `fail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckInput {
    pub id: String,
    pub status: String,
}

/// Everything that decides what is sent. Two inputs with the same fingerprint send the
/// same messages; any difference gives another fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FingerprintInput {
    pub sender: SenderInput,
    pub subject_template: String,
    pub text_template: String,
    pub html_template: Option<String>,
    /// Any order; [`fingerprint`] normalises (lower-cased addresses, sorted).
    pub recipients: Vec<RecipientInput>,
    /// SHA-256 (hex) of the recipient file's bytes: an edit on disk voids the approval
    /// even where it changes no accepted recipient (a new rejected row, a comment).
    pub recipient_file_sha256: Option<String>,
    /// The attachments every message carries, in sending order.
    pub attachments: Vec<AttachmentInput>,
    /// Each recipient's own attachment, bound to that recipient (any order).
    pub recipient_attachments: Vec<RecipientAttachmentInput>,
    pub relay: Option<RelayInput>,
    /// The Outbox folder messages are written to instead of a relay.
    pub outbox: Option<String>,
    pub dkim: Option<DkimInput>,
    pub unsubscribe: Option<UnsubscribeInput>,
    /// SHA-256 (hex) of the campaign file's bytes: any edit to it after approval (a
    /// campaign id, an unsubscribe address, a rate) voids the approval.
    pub campaign_file_sha256: Option<String>,
    /// Any order; sorted by id when hashed.
    pub checklist: Vec<CheckInput>,
}

impl FingerprintInput {
    /// Ids the approver must acknowledge: every check whose status is `warning`, and
    /// every skipped authentication check (see [`crate::preflight::is_authentication`]).
    pub fn warnings(&self) -> Vec<String> {
        let mut ids = self.checks_with("warning");
        ids.extend(
            self.checks_with("skipped")
                .into_iter()
                .filter(|id| crate::preflight::is_authentication(id)),
        );
        ids.sort();
        ids.dedup();
        ids
    }

    /// Ids of checks whose status is `fail`: a failing campaign cannot be submitted.
    pub fn failures(&self) -> Vec<String> {
        self.checks_with("fail")
    }

    fn checks_with(&self, status: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .checklist
            .iter()
            .filter(|c| c.status.eq_ignore_ascii_case(status))
            .map(|c| c.id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl RecipientInput {
    /// Every accepted recipient of an imported list, with its values in header order.
    pub fn from_list(list: &crate::recipients::RecipientList) -> Vec<RecipientInput> {
        list.recipients
            .iter()
            .map(|r| RecipientInput {
                address: r.email().to_string(),
                fields: list
                    .fields
                    .iter()
                    .cloned()
                    .zip(r.values().map(str::to_owned))
                    .collect(),
            })
            .collect()
    }
}

impl AttachmentInput {
    /// An attachment from its name and bytes.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> AttachmentInput {
        AttachmentInput {
            name: name.to_owned(),
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

impl From<&crate::preflight::Check> for CheckInput {
    fn from(c: &crate::preflight::Check) -> CheckInput {
        CheckInput {
            id: c.id.clone(),
            status: c.status.as_str().to_owned(),
        }
    }
}

impl From<&crate::campaign::Relay> for RelayInput {
    /// The relay profile without the CA hash; set `ca_sha256` from the CA file's bytes.
    fn from(r: &crate::campaign::Relay) -> RelayInput {
        let security = match r.security {
            crate::campaign::Security::Starttls => "starttls",
            crate::campaign::Security::Tls => "tls",
        };
        RelayInput {
            host: r.host.clone(),
            port: r.port,
            security: security.to_owned(),
            username: r.username.clone(),
            ca_sha256: None,
        }
    }
}

/// Feeds length-prefixed fields into the hash so that no two different inputs can
/// produce the same byte stream (no separator or escaping ambiguity).
struct Canon(Sha256);

impl Canon {
    fn str(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.0.update([1]);
                self.str(s);
            }
            None => self.0.update([0]),
        }
    }
    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_be_bytes());
    }
}

/// SHA-256 (hex) over the canonical encoding of `input`.
pub fn fingerprint(input: &FingerprintInput) -> String {
    let mut c = Canon(Sha256::new());
    c.str("mergeguard-fingerprint-v4");
    c.str(&input.sender.name);
    c.str(&input.sender.address.trim().to_lowercase());
    c.opt(
        input
            .sender
            .reply_to
            .as_deref()
            .map(|r| r.trim().to_lowercase())
            .as_deref(),
    );
    c.str(&input.subject_template);
    c.str(&input.text_template);
    c.opt(input.html_template.as_deref());

    let mut recipients: Vec<(String, &Vec<(String, String)>)> = input
        .recipients
        .iter()
        .map(|r| (r.address.trim().to_lowercase(), &r.fields))
        .collect();
    recipients.sort();
    c.count(recipients.len());
    for (address, fields) in recipients {
        c.str(&address);
        c.count(fields.len());
        for (k, v) in fields {
            c.str(k);
            c.str(v);
        }
    }

    c.opt(input.recipient_file_sha256.as_deref());
    c.count(input.attachments.len());
    for a in &input.attachments {
        c.str(&a.name);
        c.str(&a.sha256.to_lowercase());
    }
    let mut own: Vec<(String, &str, String)> = input
        .recipient_attachments
        .iter()
        .map(|a| {
            (
                a.address.trim().to_lowercase(),
                a.path.as_str(),
                a.sha256.to_lowercase(),
            )
        })
        .collect();
    own.sort();
    c.count(own.len());
    for (address, path, sha256) in own {
        c.str(&address);
        c.str(path);
        c.str(&sha256);
    }

    match &input.relay {
        Some(r) => {
            c.0.update([1]);
            c.str(&r.host.to_lowercase());
            c.str(&r.port.to_string());
            c.str(&r.security.to_lowercase());
            c.str(&r.username);
            c.opt(r.ca_sha256.as_ref().map(|h| h.to_lowercase()).as_deref());
        }
        None => c.0.update([0]),
    }
    c.opt(input.outbox.as_deref());
    match &input.dkim {
        Some(d) => {
            c.0.update([1]);
            c.str(&d.domain.to_lowercase());
            c.str(&d.selector);
            c.str(&d.key_sha256.to_lowercase());
        }
        None => c.0.update([0]),
    }
    match &input.unsubscribe {
        Some(u) => {
            c.0.update([1]);
            c.opt(u.mailto.as_deref());
            c.opt(u.url.as_deref());
        }
        None => c.0.update([0]),
    }
    c.opt(
        input
            .campaign_file_sha256
            .as_ref()
            .map(|h| h.to_lowercase())
            .as_deref(),
    );

    let mut checks: Vec<(&str, String)> = input
        .checklist
        .iter()
        .map(|k| (k.id.as_str(), k.status.to_lowercase()))
        .collect();
    checks.sort();
    c.count(checks.len());
    for (id, status) in checks {
        c.str(id);
        c.str(&status);
    }
    hex::encode(c.0.finalize())
}

/// The short form shown to both people: the first 12 hex digits in groups of four.
pub fn short(fingerprint: &str) -> String {
    let head: Vec<char> = fingerprint.chars().take(12).collect();
    head.chunks(4)
        .map(|g| g.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A campaign frozen for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submission {
    pub campaign_id: String,
    pub fingerprint: String,
    pub short: String,
    pub preparer: String,
    /// Checklist ids with a warning the approver must acknowledge.
    pub warnings: Vec<String>,
}

/// A granted approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub campaign_id: String,
    pub fingerprint: String,
    pub preparer: String,
    pub approver: String,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Approval refused, or sending refused for want of a valid approval.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the campaign {0} was not submitted for approval")]
    NotSubmitted(String),
    #[error("the pre-flight checklist has failures ({0}); fix them before asking for approval")]
    ChecklistFailed(String),
    #[error("the campaign changed since it was shown for approval (fingerprint {shown} shown, {frozen} frozen)")]
    FingerprintMismatch { shown: String, frozen: String },
    #[error("the approver must be a different person from the one who prepared the campaign")]
    SamePerson,
    #[error("{0} does not hold the approver role")]
    NotApprover(String),
    #[error("{0} does not hold the sender role")]
    NotSender(String),
    #[error("these warnings were not acknowledged: {0}")]
    Unacknowledged(String),
    #[error("the campaign {0} has no approval")]
    NotApproved(String),
    #[error(
        "the campaign changed after it was approved; the approval is void and a new one is needed"
    )]
    Changed,
    #[error("the approval expired at {0}; ask for a new one")]
    Expired(String),
    #[error("the approval was revoked ({0}); ask for a new one")]
    Revoked(String),
    #[error("only an admin may change the approval validity")]
    NotAdmin,
    #[error("the approval validity must be between one minute and 30 days")]
    BadValidity,
    #[error("the approval record of campaign {0} was changed outside MergeGuard (its seal or its log entries do not match); nothing is sent on it. Run `mergeguard audit verify` and ask an admin")]
    Tampered(String),
    #[error(transparent)]
    Operator(#[from] operators::Error),
    #[error(transparent)]
    Audit(#[from] audit::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("approval database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SamePerson | Error::NotApprover(_) | Error::NotSender(_) | Error::NotAdmin => {
                ErrorCode::Forbidden
            }
            Error::Operator(e) => e.code(),
            Error::Audit(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::Tampered(_) => ErrorCode::Tampered,
            Error::Sql(_) => ErrorCode::Database,
            Error::BadValidity => ErrorCode::InvalidInput,
            _ => ErrorCode::NotApproved,
        }
    }

    /// What the window needs to say this in the person's language.
    pub fn reason(&self) -> Option<Reason> {
        Some(match self {
            Error::NotSubmitted(_) => Reason::new("not_submitted"),
            Error::ChecklistFailed(ids) => {
                Reason::new("checklist_failed").with("checks", ids.as_str())
            }
            Error::FingerprintMismatch { .. } | Error::Changed => Reason::new("approval_changed"),
            Error::SamePerson => Reason::new("same_person"),
            Error::NotApprover(name) => Reason::new("not_approver").with("name", name.as_str()),
            Error::NotSender(name) => Reason::new("not_sender").with("name", name.as_str()),
            Error::Unacknowledged(ids) => {
                Reason::new("unacknowledged").with("checks", ids.as_str())
            }
            Error::NotApproved(_) => Reason::new("no_approval"),
            Error::Expired(at) => Reason::new("approval_expired").with("at", at.as_str()),
            Error::Revoked(why) => Reason::new("approval_revoked").with("why", why.as_str()),
            Error::NotAdmin => Reason::new("admin_only"),
            Error::Operator(e) => return e.reason(),
            _ => return None,
        })
    }

    /// The error as the window and `--json` output get it.
    pub fn to_user(&self) -> UserError {
        UserError::new(self.code(), self.to_string()).with_reason(self.reason())
    }
}

fn fmt(t: OffsetDateTime) -> Result<String, Error> {
    Ok(audit::format_time(t)?)
}

fn parse(s: &str) -> OffsetDateTime {
    // Stored by this module in a fixed format; an unparseable value (a tampered file)
    // reads as the epoch, which makes any approval expired rather than valid.
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Marks the campaign's unrevoked approvals (or only the one with `only_id`) revoked and
/// re-seals each. Returns how many were revoked.
fn revoke_rows(
    tx: &Tx<'_>,
    campaign_id: &str,
    only_id: Option<i64>,
    at: &str,
    why: &str,
) -> Result<usize, Error> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "UPDATE approvals SET revoked_at = ?2, revoked_why = ?3
             WHERE campaign_id = ?1 AND revoked_at IS NULL AND (?4 IS NULL OR id = ?4)
             RETURNING id",
        )?;
        let rows = stmt.query_map(rusqlite::params![campaign_id, at, why, only_id], |r| {
            r.get(0)
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        tx.seal("approvals", *id)?;
    }
    Ok(ids.len())
}

/// Logs that a security row was refused for its seal (best effort: the refusal stands).
fn log_tampered(store: &Store, now: OffsetDateTime, campaign_id: &str, table: &str) {
    let _ = audit::append(
        store,
        now,
        SYSTEM_OPERATOR,
        Kind::IntegrityFailure,
        Some(campaign_id),
        json!({"table": table, "row": campaign_id}),
    );
}

/// Submits a campaign under a new id: freezes its fingerprint and logs the request.
pub fn submit(
    store: &Store,
    input: &FingerprintInput,
    preparer: &Session,
    now: OffsetDateTime,
) -> Result<Submission, Error> {
    submit_as(
        store,
        &uuid::Uuid::new_v4().to_string(),
        input,
        preparer,
        now,
    )
}

/// Submits (or re-submits after a change) the campaign `campaign_id`. A re-submission
/// replaces the frozen fingerprint and voids every earlier approval of it.
pub fn submit_as(
    store: &Store,
    campaign_id: &str,
    input: &FingerprintInput,
    preparer: &Session,
    now: OffsetDateTime,
) -> Result<Submission, Error> {
    let failures = input.failures();
    if !failures.is_empty() {
        return Err(Error::ChecklistFailed(failures.join(", ")));
    }
    let fp = fingerprint(input);
    let warnings = input.warnings();
    let at = fmt(now)?;
    let r = store.transaction(|tx| {
        // The preparer's sealed record, re-read with the submission it authorises.
        match operators::authorize_in(tx, preparer, &[Role::Sender]) {
            Ok(_) => {}
            Err(e @ (operators::Error::Tampered(_) | operators::Error::Sql(_))) => {
                return Err(Error::Operator(e))
            }
            Err(_) => return Err(Error::NotSender(preparer.operator().to_owned())),
        }
        let voided = revoke_rows(tx, campaign_id, None, &at, "resubmitted")?;
        if voided > 0 {
            audit::append_in(
                tx,
                now,
                preparer.operator(),
                Kind::ApprovalVoided,
                Some(campaign_id),
                &json!({"reason": "resubmitted"}),
            )?;
        }
        let rowid: i64 = tx.query_row(
            "INSERT INTO submissions (campaign_id, fingerprint, preparer, submitted_at, warnings)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(campaign_id) DO UPDATE SET fingerprint = excluded.fingerprint,
               preparer = excluded.preparer, submitted_at = excluded.submitted_at,
               warnings = excluded.warnings
             RETURNING rowid",
            rusqlite::params![
                campaign_id,
                fp,
                preparer.operator(),
                at,
                serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into())
            ],
            |r| r.get(0),
        )?;
        tx.seal("submissions", rowid)?;
        audit::append_in(
            tx,
            now,
            preparer.operator(),
            Kind::ApprovalRequested,
            Some(campaign_id),
            &json!({"fingerprint": fp, "recipients": input.recipients.len(),
                    "attachments": input.attachments.len(), "warnings": warnings}),
        )?;
        Ok::<_, Error>(())
    });
    if let Err(Error::Operator(e)) = &r {
        if matches!(e, operators::Error::Tampered(_)) {
            log_tampered(store, now, campaign_id, "operators");
        }
    }
    r?;
    Ok(Submission {
        campaign_id: campaign_id.to_owned(),
        short: short(&fp),
        fingerprint: fp,
        preparer: preparer.operator().to_owned(),
        warnings,
    })
}

/// The frozen submission of a campaign; a row whose seal does not match is
/// [`Error::Tampered`].
pub fn submission(store: &Store, campaign_id: &str) -> Result<Option<Submission>, Error> {
    let conn = store.read();
    let row: Option<(i64, String, String, String)> = conn
        .query_row(
            "SELECT rowid, fingerprint, preparer, warnings FROM submissions WHERE campaign_id = ?1",
            [campaign_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((rowid, ..)) = &row {
        if !store::integrity::is_sealed(&conn, store.key(), "submissions", *rowid)? {
            return Err(Error::Tampered(campaign_id.to_owned()));
        }
    }
    Ok(row.map(|(_, fp, preparer, warnings)| Submission {
        campaign_id: campaign_id.to_owned(),
        short: short(&fp),
        fingerprint: fp,
        preparer,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
    }))
}

/// The latest submission frozen at this fingerprint (the CLI finds a campaign this way).
pub fn submission_for_fingerprint(
    store: &Store,
    fingerprint: &str,
) -> Result<Option<Submission>, Error> {
    let id: Option<String> = store
        .read()
        .query_row(
            "SELECT campaign_id FROM submissions WHERE fingerprint = ?1
             ORDER BY submitted_at DESC LIMIT 1",
            [fingerprint],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => submission(store, &id),
        None => Ok(None),
    }
}

fn refuse(
    store: &Store,
    now: OffsetDateTime,
    operator: &str,
    campaign_id: &str,
    err: Error,
) -> Error {
    let reason = match &err {
        Error::NotSubmitted(_) => "not_submitted",
        Error::FingerprintMismatch { .. } => "fingerprint_mismatch",
        Error::SamePerson => "same_person",
        Error::NotApprover(_) => "not_approver",
        Error::Unacknowledged(_) => "unacknowledged_warnings",
        Error::Operator(e) => match e.code() {
            ErrorCode::LockedOut => "locked_out",
            _ => "authentication_failed",
        },
        _ => "other",
    };
    // If the log itself fails, that error is the one to report.
    match audit::append(
        store,
        now,
        operator,
        Kind::ApprovalRefused,
        Some(campaign_id),
        json!({"reason": reason, "message": err.to_string()}),
    ) {
        Ok(_) => err,
        Err(e) => Error::Audit(e),
    }
}

/// The second operator approves, on the same screen, exactly the campaign frozen at
/// `fingerprint`: a different person from the preparer, with the approver role, their own
/// PIN (a wrong one counts toward their lockout), and every warning acknowledged.
pub fn approve(
    store: &Store,
    campaign_id: &str,
    fingerprint: &str,
    approver_name: &str,
    approver_pin: &Secret,
    acknowledged_warnings: &[String],
    now: OffsetDateTime,
) -> Result<Approval, Error> {
    let refused = |err| refuse(store, now, approver_name, campaign_id, err);
    let sub = match submission(store, campaign_id) {
        Ok(s) => s,
        Err(e @ Error::Tampered(_)) => {
            log_tampered(store, now, campaign_id, "submissions");
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let Some(sub) = sub else {
        return Err(refused(Error::NotSubmitted(campaign_id.to_owned())));
    };
    if sub.fingerprint != fingerprint {
        return Err(refused(Error::FingerprintMismatch {
            shown: short(fingerprint),
            frozen: sub.short.clone(),
        }));
    }
    // Compared before the PIN so a preparer cannot approve themselves by any route, and
    // case-insensitively because operator names are unique regardless of case.
    if approver_name.trim().to_lowercase() == sub.preparer.to_lowercase() {
        return Err(refused(Error::SamePerson));
    }
    let approver =
        match operators::authenticate(store, approver_name, approver_pin, now, "approval") {
            Ok(op) => op,
            Err(e) => return Err(refused(Error::Operator(e))),
        };
    if !approver.has_role(Role::Approver) {
        return Err(refused(Error::NotApprover(approver.name)));
    }
    let missing: Vec<&str> = sub
        .warnings
        .iter()
        .filter(|w| !acknowledged_warnings.iter().any(|a| a == *w))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(refused(Error::Unacknowledged(missing.join(", "))));
    }
    let expires_at = now + validity(store)?;
    let (granted, expires) = (fmt(now)?, fmt(expires_at)?);
    let r = store.transaction(|tx| {
        // The approver's sealed record again, with the grant it authorises.
        operators::check_in(tx, &approver.name, &[Role::Approver])?;
        revoke_rows(tx, campaign_id, None, &granted, "superseded")?;
        tx.execute(
            "INSERT INTO approvals (campaign_id, fingerprint, preparer, approver, granted_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![campaign_id, sub.fingerprint, sub.preparer, approver.name, granted, expires],
        )?;
        let id = tx.last_insert_rowid();
        tx.seal("approvals", id)?;
        audit::append_in(
            tx,
            now,
            &approver.name,
            Kind::ApprovalGranted,
            Some(campaign_id),
            &json!({"fingerprint": sub.fingerprint, "preparer": sub.preparer,
                    "acknowledged_warnings": sub.warnings, "expires_at": expires,
                    "approval_id": id}),
        )?;
        Ok::<_, Error>(())
    });
    if let Err(e) = r {
        return Err(refused(e));
    }
    Ok(Approval {
        campaign_id: campaign_id.to_owned(),
        fingerprint: sub.fingerprint,
        preparer: sub.preparer,
        approver: approver.name,
        granted_at: now,
        expires_at,
    })
}

/// (id, fingerprint, preparer, approver, granted_at, expires_at, revoked_why)
type ApprovalRow = (i64, String, String, String, String, String, Option<String>);

/// The newest approval row of a campaign, revoked or not, checked two ways: its seal, and,
/// for an unrevoked one, the operation log — the newest approval entry of the campaign
/// (requested, granted or voided) must be the grant of exactly this row. So neither a
/// forged row nor an older genuine copy of a row put back after a void is trusted.
fn latest_approval(store: &Store, campaign_id: &str) -> Result<Option<ApprovalRow>, Error> {
    let conn = store.read();
    let row: Option<ApprovalRow> = conn
        .query_row(
            "SELECT id, fingerprint, preparer, approver, granted_at, expires_at, revoked_why
             FROM approvals WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1",
            [campaign_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    if !store::integrity::is_sealed(&conn, store.key(), "approvals", row.0)? {
        return Err(Error::Tampered(campaign_id.to_owned()));
    }
    if row.6.is_none() {
        // (id, at, operator, kind, details, campaign, prev_hash)
        type LogRow = (i64, String, String, String, String, Option<String>, String);
        let last: Option<LogRow> = conn
            .query_row(
                "SELECT id, at, operator, kind, details, campaign, prev_hash FROM audit_log
                 WHERE campaign = ?1
                   AND kind IN ('approval_requested', 'approval_granted', 'approval_voided')
                 ORDER BY id DESC LIMIT 1",
                [campaign_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()?;
        let stored_hash = |id: i64| -> rusqlite::Result<String> {
            conn.query_row("SELECT hash FROM audit_log WHERE id = ?1", [id], |r| {
                r.get(0)
            })
        };
        let keyed_from: i64 = conn.query_row(
            "SELECT COALESCE(keyed_from, 1) FROM install WHERE one = 1",
            [],
            |r| r.get(0),
        )?;
        let matches = match last {
            Some((id, at, operator, kind, details, campaign, prev))
                if kind == "approval_granted" =>
            {
                let c = campaign.as_deref();
                let keyed = if id >= keyed_from {
                    audit::keyed_entry_hash(
                        store.key(),
                        &prev,
                        id,
                        &at,
                        &operator,
                        &kind,
                        c,
                        &details,
                    )
                } else {
                    audit::entry_hash(&prev, id, &at, &operator, &kind, c, &details)
                };
                let d: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
                keyed == stored_hash(id)?
                    && d["fingerprint"].as_str() == Some(row.1.as_str())
                    // Grants logged before approval ids were logged name none.
                    && d.get("approval_id").is_none_or(|v| v.as_i64() == Some(row.0))
            }
            _ => false,
        };
        if !matches {
            return Err(Error::Tampered(campaign_id.to_owned()));
        }
    }
    Ok(Some(row))
}

/// THE gate: every path that sends calls this with the fingerprint recomputed from the
/// campaign's current files. Refuses when there is no approval, when the campaign changed
/// (the approval is then void for good), when it expired, or when it was revoked. Every
/// refusal and void is logged.
pub fn require_approval(
    store: &Store,
    campaign_id: &str,
    current_fingerprint: &str,
    now: OffsetDateTime,
) -> Result<Approval, Error> {
    let latest = match latest_approval(store, campaign_id) {
        Ok(l) => l,
        Err(e @ Error::Tampered(_)) => {
            log_tampered(store, now, campaign_id, "approvals");
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let log_refusal = |reason: &str, err: Error| -> Error {
        match audit::append(
            store,
            now,
            SYSTEM_OPERATOR,
            Kind::ApprovalRefused,
            Some(campaign_id),
            json!({"stage": "send", "reason": reason, "fingerprint": current_fingerprint}),
        ) {
            Ok(_) => err,
            Err(e) => Error::Audit(e),
        }
    };
    let Some((id, fp, preparer, approver, granted, expires, revoked)) = latest else {
        return Err(log_refusal(
            "no_approval",
            Error::NotApproved(campaign_id.to_owned()),
        ));
    };
    if let Some(why) = revoked {
        return Err(log_refusal("revoked", Error::Revoked(why)));
    }
    let void = |why: &str, err: Error| -> Error {
        let r = store.transaction(|tx| {
            revoke_rows(tx, campaign_id, Some(id), &fmt(now)?, why)?;
            audit::append_in(
                tx,
                now,
                SYSTEM_OPERATOR,
                Kind::ApprovalVoided,
                Some(campaign_id),
                &json!({"reason": why, "approved_fingerprint": fp,
                        "current_fingerprint": current_fingerprint}),
            )?;
            Ok::<_, Error>(())
        });
        match r {
            Ok(()) => err,
            Err(e) => e,
        }
    };
    if fp != current_fingerprint {
        return Err(void("changed", Error::Changed));
    }
    let expires_at = parse(&expires);
    if now >= expires_at {
        return Err(void("expired", Error::Expired(expires)));
    }
    Ok(Approval {
        campaign_id: campaign_id.to_owned(),
        fingerprint: fp,
        preparer,
        approver,
        granted_at: parse(&granted),
        expires_at,
    })
}

/// The approval that would let `fingerprint` be sent at `now`, if there is one. Read-only
/// and logs nothing: for showing state. Sending still goes through [`require_approval`].
pub fn current(
    store: &Store,
    campaign_id: &str,
    fingerprint: &str,
    now: OffsetDateTime,
) -> Result<Option<Approval>, Error> {
    let latest = latest_approval(store, campaign_id)?;
    Ok(
        latest.and_then(|(_, fp, preparer, approver, granted, expires, revoked)| {
            let expires_at = parse(&expires);
            (revoked.is_none() && fp == fingerprint && now < expires_at).then(|| Approval {
                campaign_id: campaign_id.to_owned(),
                fingerprint: fp,
                preparer,
                approver,
                granted_at: parse(&granted),
                expires_at,
            })
        }),
    )
}

/// Revokes the current approval of a campaign (an operator changed their mind).
pub fn revoke(
    store: &Store,
    campaign_id: &str,
    by: &Session,
    reason: &str,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    let at = fmt(now)?;
    store.transaction(|tx| {
        match operators::authorize_in(tx, by, &[Role::Sender, Role::Approver, Role::Admin]) {
            Ok(_) => {}
            Err(e) => return Err(Error::Operator(e)),
        }
        let n = revoke_rows(tx, campaign_id, None, &at, reason)?;
        if n > 0 {
            audit::append_in(
                tx,
                now,
                by.operator(),
                Kind::ApprovalVoided,
                Some(campaign_id),
                &json!({"reason": "revoked", "note": reason}),
            )?;
        }
        Ok(n > 0)
    })
}

/// Voids the campaign's current approval because what would be sent is no longer what
/// was approved (`reason` says what, in words, for the log). Logged as
/// `approval_voided` by `by` (a person or [`SYSTEM_OPERATOR`]); returns whether there
/// was an approval to void. A new check and a new approval are then needed.
pub fn void(
    store: &Store,
    campaign_id: &str,
    by: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    let at = fmt(now)?;
    store.transaction(|tx| {
        let n = revoke_rows(tx, campaign_id, None, &at, "changed")?;
        audit::append_in(
            tx,
            now,
            by,
            Kind::ApprovalVoided,
            Some(campaign_id),
            &json!({"reason": "changed", "detail": reason, "voided": n}),
        )?;
        Ok(n > 0)
    })
}

/// How long approvals stay valid (default 24 h).
pub fn validity(store: &Store) -> Result<Duration, Error> {
    Ok(store.setting_duration(VALIDITY_KEY, DEFAULT_VALIDITY)?)
}

/// An admin sets how long approvals stay valid; applies to approvals granted afterwards.
pub fn set_validity(
    store: &Store,
    by: &Session,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<(), Error> {
    if validity < Duration::minutes(1) || validity > Duration::days(30) {
        return Err(Error::BadValidity);
    }
    match operators::change_duration_setting(store, by, VALIDITY_KEY, validity, now) {
        Err(operators::Error::NotAdmin) => Err(Error::NotAdmin),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> FingerprintInput {
        FingerprintInput {
            sender: SenderInput {
                name: "Shop".into(),
                address: "news@shop.test".into(),
                reply_to: None,
            },
            subject_template: "Hello {{ name }}".into(),
            text_template: "Hi".into(),
            html_template: None,
            recipients: vec![
                RecipientInput {
                    address: "B@x.test".into(),
                    fields: vec![("name".into(), "B".into())],
                },
                RecipientInput {
                    address: "a@x.test".into(),
                    fields: vec![("name".into(), "A".into())],
                },
            ],
            attachments: vec![],
            recipient_attachments: vec![],
            relay: None,
            recipient_file_sha256: None,
            outbox: None,
            dkim: None,
            unsubscribe: None,
            campaign_file_sha256: None,
            checklist: vec![],
        }
    }

    #[test]
    fn recipient_order_and_case_do_not_matter() {
        let a = input();
        let mut b = input();
        b.recipients.reverse();
        b.recipients[1].address = "b@X.TEST".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn unsubscribe_and_campaign_file_matter() {
        let base = input();
        let mut url = input();
        url.unsubscribe = Some(UnsubscribeInput {
            mailto: None,
            url: Some("https://shop.test/u/{token}".into()),
        });
        let mut other_url = url.clone();
        other_url.unsubscribe = Some(UnsubscribeInput {
            mailto: None,
            url: Some("https://evil.test/u/{token}".into()),
        });
        let mut mailto = input();
        mailto.unsubscribe = Some(UnsubscribeInput {
            mailto: Some("mailto:stop@shop.test".into()),
            url: None,
        });
        let mut file = input();
        file.campaign_file_sha256 = Some("ab".repeat(32));
        let all = [&base, &url, &other_url, &mailto, &file].map(fingerprint);
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn field_boundaries_matter() {
        let a = input();
        let mut b = input();
        b.subject_template = "Hello {{ name }}H".into();
        b.text_template = "i".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn recipients_keep_header_order() {
        let list = crate::recipients::RecipientList {
            encoding: "utf-8".into(),
            delimiter: ",".into(),
            email_column: "email".into(),
            fields: vec!["name".into(), "email".into()],
            recipients: vec![crate::recipients::Recipient::new(
                2,
                "a@x.test",
                ["A", "a@x.test"],
            )],
            rejected: vec![],
            source_sha256: String::new(),
        };
        let r = RecipientInput::from_list(&list);
        assert_eq!(r[0].fields[0], ("name".to_string(), "A".to_string()));
        assert_eq!(r[0].fields[1].0, "email");
        let a = AttachmentInput::from_bytes("x", b"");
        assert_eq!(
            a.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn short_form() {
        assert_eq!(short("0123456789abcdef"), "0123-4567-89ab");
    }

    #[test]
    fn skipped_authentication_checks_must_be_acknowledged_like_warnings() {
        let mut with_skips = input();
        with_skips.checklist = vec![
            CheckInput {
                id: "spf.relay".into(),
                status: "skipped".into(),
            },
            CheckInput {
                id: "dns.fcrdns".into(),
                status: "skipped".into(),
            },
            CheckInput {
                id: "dmarc.policy".into(),
                status: "warning".into(),
            },
            CheckInput {
                id: "dkim.record".into(),
                status: "pass".into(),
            },
        ];
        assert_eq!(with_skips.warnings(), ["dmarc.policy", "spf.relay"]);
        assert!(with_skips.failures().is_empty());
    }
}
