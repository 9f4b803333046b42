//! The campaign's path from files to sent mail: prepare (checklist + fingerprint),
//! submit, approve, send, report. The desktop shell and the command line both go through
//! here, so there is one place that puts [`approval::require_approval`] in front of
//! [`send::send_campaign`].
//!
//! Architecture invariant: every function acts on the campaign FILE as it is on disk at
//! the time of the call. [`send`] re-runs [`prepare`] itself and refuses unless the
//! fingerprint it computes now has a valid approval, then re-checks before every batch
//! that the files it was built from are unchanged and the approval still stands.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::approval::{
    self, Approval, AttachmentInput, CheckInput, DkimInput, FingerprintInput, RecipientInput,
    RelayInput, SenderInput, Submission, UnsubscribeInput,
};
use crate::audit::{self, Kind};
use crate::campaign::{self, Campaign};
use crate::compose::{BuiltMessage, Composer, Draft};
use crate::error::{ErrorCode, UserError};
use crate::operators::{self, Role, Session};
use crate::preflight::campaign::{check_campaign_detailed, stored_relay_password, CheckOptions};
use crate::preflight::{dkim, Report};
use crate::recipients::RecipientList;
use crate::secrets::Secret;
use crate::send::{
    self, state, ApprovalGate, Control, Delivery, OpenError, OutboxFolder, Outgoing, Progress,
    Relay, ReportRow, SendJob, SendOptions, SmtpRelay, SmtpSettings, Summary, SystemClock,
};
use crate::store::Store;
use crate::suppression;

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
    /// Hashes of the files the campaign is built from, for the between-batch check.
    files: Vec<(PathBuf, String)>,
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

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, UserError> {
    std::fs::read(path).map_err(|e| {
        UserError::new(
            ErrorCode::Io,
            format!("cannot read the {what} {}: {e}", path.display()),
        )
    })
}

/// SHA-256 (hex) of a file, read in 64 KiB pieces: a large recipient file is hashed
/// without being held in memory (the send gate re-hashes it every few seconds).
fn hash_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) => return Ok(hex::encode(hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn read_hash(what: &str, path: &Path) -> Result<String, UserError> {
    hash_file(path).map_err(|e| {
        UserError::new(
            ErrorCode::Io,
            format!("cannot read the {what} {}: {e}", path.display()),
        )
    })
}

/// The files whose bytes decide what is sent, with their hashes now. Per-recipient
/// attachments are not listed: [`send`] compares each one's hash with the approved set
/// when it builds that recipient's message.
fn source_files(path: &Path, campaign: &Campaign) -> Result<Vec<(PathBuf, String)>, UserError> {
    let mut files = vec![
        ("campaign file", path.to_owned()),
        (
            "recipient file",
            campaign.resolve(&campaign.recipients.file),
        ),
        ("text template", campaign.resolve(&campaign.message.text)),
    ];
    if let Some(h) = &campaign.message.html {
        files.push(("HTML template", campaign.resolve(h)));
    }
    for a in &campaign.message.attachments {
        files.push(("attachment", campaign.resolve(a)));
    }
    if let Some(ca) = campaign.relay.as_ref().and_then(|r| r.ca.as_ref()) {
        files.push(("relay CA file", campaign.resolve(ca)));
    }
    if let Some(p) = campaign.dkim.as_ref().and_then(|d| d.private_key.as_ref()) {
        files.push(("DKIM private key", campaign.resolve(p)));
    }
    files
        .into_iter()
        .map(|(what, p)| Ok((p.clone(), read_hash(what, &p)?)))
        .collect()
}

fn fingerprint_input(
    path: &Path,
    campaign: &Campaign,
    draft: &Draft,
    recipients: &RecipientList,
    attachments: Vec<AttachmentInput>,
    report: &Report,
    files: &[(PathBuf, String)],
) -> FingerprintInput {
    let hash_of = |p: &Path| files.iter().find(|(f, _)| f == p).map(|(_, h)| h.clone());
    FingerprintInput {
        sender: SenderInput {
            name: campaign.sender.name.clone(),
            address: campaign.sender.address.clone(),
            reply_to: campaign.sender.reply_to.clone(),
        },
        subject_template: draft.subject.clone(),
        text_template: draft.text.clone(),
        html_template: draft.html.clone(),
        recipients: RecipientInput::from_list(recipients),
        recipient_file_sha256: hash_of(&campaign.resolve(&campaign.recipients.file)),
        attachments,
        relay: campaign.relay.as_ref().map(|r| RelayInput {
            ca_sha256: r.ca.as_ref().and_then(|ca| hash_of(&campaign.resolve(ca))),
            ..RelayInput::from(r)
        }),
        outbox: campaign
            .outbox
            .as_ref()
            .map(|o| campaign.resolve(&o.folder).display().to_string()),
        dkim: campaign.dkim.as_ref().map(|d| DkimInput {
            domain: campaign.dkim_domain().unwrap_or_default(),
            selector: d.selector.clone(),
            // A key in the keychain is hashed as read now; an unreadable key already
            // fails the checklist, so an empty hash never reaches an approval.
            key_sha256: match &d.private_key {
                Some(p) => hash_of(&campaign.resolve(p)).unwrap_or_default(),
                None => campaign
                    .dkim_key_bytes()
                    .and_then(Result::ok)
                    .map(|b| sha256_hex(&b))
                    .unwrap_or_default(),
            },
        }),
        unsubscribe: campaign.unsubscribe.as_ref().map(|u| UnsubscribeInput {
            mailto: u.mailto.clone(),
            url: u.url.clone(),
        }),
        campaign_file_sha256: hash_of(path),
        checklist: report.checks.iter().map(CheckInput::from).collect(),
    }
}

/// Loads the campaign file, imports its recipients, runs the whole checklist
/// (`progress(done, total)` while messages are checked) and computes the fingerprint.
pub async fn prepare(
    path: &Path,
    options: &CheckOptions,
    now: SystemTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Prepared, UserError> {
    let campaign = Campaign::load(path).map_err(|e| UserError::new(e.code(), e.to_string()))?;
    // Hash the files before reading them for the checklist: an edit racing with this
    // call then shows up as a change at the next check rather than slipping through.
    let files = source_files(path, &campaign)?;
    let checked = check_campaign_detailed(&campaign, options, now, progress).await?;
    let draft = Draft::from_campaign(&campaign).map_err(|e| UserError::new(e.code, e.message))?;
    let attachments = checked
        .attachments
        .iter()
        .map(|a| AttachmentInput {
            name: a.file_name.clone(),
            sha256: a.sha256.clone(),
        })
        .collect();
    let input = fingerprint_input(
        path,
        &campaign,
        &draft,
        &checked.recipients,
        attachments,
        &checked.report,
        &files,
    );
    Ok(Prepared {
        path: path.to_owned(),
        campaign_id: draft.campaign_id.clone(),
        campaign,
        recipients: checked.recipients,
        report: checked.report,
        fingerprint: approval::fingerprint(&input),
        input,
        samples: checked.samples,
        options: options.clone(),
        files,
    })
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
    UserError::new(e.code(), e.to_string())
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

/// One send run's settings.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The signed-in operator who starts the send (for the log).
    pub operator: String,
    /// The relay password; `None` reads it from the OS keychain for the relay profile.
    pub password: Option<Secret>,
    pub options: SendOptions,
}

/// How often the between-batch check re-hashes the campaign's files.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Outcomes are written to the operation log in groups of this many (and at the end).
const LOG_BATCH: usize = 64;

/// Refuses the next batch when the approval was revoked or expired, or when a file the
/// campaign is built from changed on disk since [`send`] started.
struct Gate<'a> {
    store: &'a Store,
    campaign_id: &'a str,
    fingerprint: &'a str,
    files: &'a [(PathBuf, String)],
    last_file_check: Mutex<Instant>,
    /// Set by the render closure when a per-recipient attachment differs from the
    /// approved one.
    attachment_changed: Arc<Mutex<Option<String>>>,
}

impl Gate<'_> {
    fn changed_file(&self) -> Option<String> {
        self.files.iter().find_map(|(p, h)| match hash_file(p) {
            Ok(now) if now == *h => None,
            Ok(_) => Some(format!("{} changed on disk", p.display())),
            Err(e) => Some(format!("{} can no longer be read ({e})", p.display())),
        })
    }

    /// Voids the approval (logged by the core gate) and says why.
    fn void(&self, why: String) -> String {
        // A value that is never a SHA-256 hex string: the gate sees a different
        // fingerprint, voids the approval for good and logs it.
        let _ = approval::require_approval(
            self.store,
            self.campaign_id,
            "changed-on-disk",
            OffsetDateTime::now_utc(),
        );
        format!("{why} after the approval; the approval is void. Check the campaign again and ask for a new approval")
    }
}

impl ApprovalGate for Gate<'_> {
    fn check(&self) -> Result<(), String> {
        if let Some(why) = self.attachment_changed.lock().ok().and_then(|g| g.clone()) {
            return Err(self.void(why));
        }
        let due = {
            let mut last = self
                .last_file_check
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = last.elapsed() >= FILE_CHECK_INTERVAL;
            if due {
                *last = Instant::now();
            }
            due
        };
        if due {
            if let Some(why) = self.changed_file() {
                return Err(self.void(why));
            }
        }
        approval::require_approval(
            self.store,
            self.campaign_id,
            self.fingerprint,
            OffsetDateTime::now_utc(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// One relay outcome waiting to be written to the operation log.
struct Outcome {
    row: u64,
    email: String,
    message_id: String,
    delivery: Delivery,
}

/// Wraps a relay so every outcome reaches the operation log.
struct Logged<R> {
    inner: R,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
}

impl<R: Relay> Relay for Logged<R> {
    type Session = R::Session;

    fn quota_key(&self) -> String {
        self.inner.quota_key()
    }

    async fn open(&self) -> Result<Self::Session, OpenError> {
        self.inner.open().await
    }

    async fn deliver<'a>(&'a self, session: &'a mut Self::Session, msg: &'a Outgoing) -> Delivery {
        let delivery = self.inner.deliver(session, msg).await;
        if let Ok(mut v) = self.outcomes.lock() {
            v.push(Outcome {
                row: msg.row,
                email: msg.envelope_to.first().cloned().unwrap_or_default(),
                message_id: msg.message_id.clone(),
                delivery: delivery.clone(),
            });
        }
        delivery
    }

    fn usable(session: &Self::Session) -> bool {
        R::usable(session)
    }

    async fn close(session: Self::Session) {
        R::close(session).await
    }
}

fn outcome_details(o: &Outcome) -> serde_json::Value {
    let (state, code, text, queue_id) = match &o.delivery {
        Delivery::Accepted {
            code,
            text,
            queue_id,
        } => ("sent", Some(*code), text.as_str(), queue_id.clone()),
        Delivery::Transient { code, text } => ("deferred", Some(*code), text.as_str(), None),
        Delivery::Permanent { code, text } => ("failed", *code, text.as_str(), None),
        Delivery::Unknown { text } => ("unknown", None, text.as_str(), None),
    };
    json!({"row": o.row, "email": o.email, "message_id": o.message_id, "state": state,
           "reply_code": code, "reply_text": text, "queue_id": queue_id})
}

/// Writes the waiting outcomes to the operation log in one transaction.
fn log_outcomes(store: &Store, operator: &str, campaign_id: &str, outcomes: &Mutex<Vec<Outcome>>) {
    let batch: Vec<Outcome> = match outcomes.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(_) => return,
    };
    if batch.is_empty() {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let r = store.transaction(|tx| {
        for o in &batch {
            audit::append_in(
                tx,
                now,
                operator,
                Kind::MessageOutcome,
                Some(campaign_id),
                &outcome_details(o),
            )?;
        }
        Ok::<_, audit::Error>(())
    });
    if let Err(e) = r {
        // The delivery state in the database is still complete; the report shows it.
        tracing::error!(campaign_id, error = %e, "could not log message outcomes");
    }
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

/// The campaign's DKIM signer, if it names a key. With `approved = Some(hash)` the key's
/// bytes must hash to it (a send signs only with the approved key).
fn dkim_signer(
    campaign: &Campaign,
    approved: Option<Option<&str>>,
) -> Result<Option<Arc<send::DkimSign>>, UserError> {
    let (Some(d), Some(bytes)) = (&campaign.dkim, campaign.dkim_key_bytes()) else {
        return Ok(None);
    };
    let bytes = bytes.map_err(|e| UserError::new(ErrorCode::InvalidCampaign, e))?;
    if approved.is_some_and(|hash| hash != Some(sha256_hex(&bytes).as_str())) {
        return Err(UserError::new(
            ErrorCode::NotApproved,
            "the DKIM private key changed after the checklist ran; check and approve again",
        ));
    }
    let key =
        dkim::parse_dkim_key(&bytes).map_err(|e| UserError::new(ErrorCode::InvalidCampaign, e))?;
    let domain = campaign.dkim_domain().unwrap_or_default();
    let selector = d.selector.clone();
    let sign: Arc<send::DkimSign> = Arc::new(move |raw: &[u8]| {
        key.sign(raw, &domain, &selector, SystemTime::now())
            .map_err(|e| e.to_string())
    });
    Ok(Some(sign))
}

/// What a test send did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestSent {
    /// The recipient row whose message was copied.
    pub row: u64,
    pub to: String,
    pub message_id: String,
    /// The relay's reply to the message.
    pub reply: String,
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

/// Sends one copy of row `row`'s personalised message to `to` through the campaign's real
/// relay (SPEC §3), with "[TEST] " before the subject, signed with the campaign's DKIM key
/// if it has one. No approval is needed because the copy can only go to the sender's own
/// domain: `to` must be at the domain of `[sender] address`, the operator's own mailbox,
/// never a customer's. The copy is addressed to `to` alone (the customer's address is
/// replaced in the merge fields too) and is logged.
pub fn test_send(
    store: &Store,
    prepared: &Prepared,
    session: &Session,
    row: u64,
    to: &str,
    password: Option<Secret>,
) -> Result<TestSent, UserError> {
    match operators::find(store, session.operator())
        .map_err(|e| UserError::new(e.code(), e.to_string()))?
    {
        Some(op) if !op.disabled && op.has_role(Role::Sender) => {}
        _ => {
            return Err(UserError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} cannot send a test: it needs the sender role",
                    session.operator()
                ),
            ))
        }
    }
    let campaign = &prepared.campaign;
    let to = to.trim();
    let address: lettre::Address = to.parse().map_err(|_| {
        UserError::new(
            ErrorCode::InvalidInput,
            format!("\"{to}\" is not an e-mail address"),
        )
    })?;
    let own_domain = campaign
        .sender
        .address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_lowercase())
        .unwrap_or_default();
    if address.domain().to_lowercase() != own_domain {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            format!(
                "a test copy goes only to your own mailbox at {own_domain} (the sender's domain), \
                 never to a customer; {to} is not at {own_domain}"
            ),
        ));
    }
    if campaign.relay.is_none() {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            "this campaign writes to an Outbox folder and has no relay to test; \
             every message is already in the preview",
        ));
    }
    let list = &prepared.recipients;
    let original = list
        .recipients
        .iter()
        .find(|r| r.row == row)
        .ok_or_else(|| {
            UserError::new(
                ErrorCode::InvalidInput,
                format!("row {row} is not one of the campaign's recipients"),
            )
        })?;
    // The customer's row with the test address in place of theirs, in the address
    // column too, so no customer address reaches the copy.
    let column = list.fields.iter().position(|f| *f == list.email_column);
    let values: Vec<&str> = original
        .values()
        .enumerate()
        .map(|(i, v)| if Some(i) == column { to } else { v })
        .collect();
    let copy = crate::recipients::Recipient::new(row, to, values);
    let mut draft =
        Draft::from_campaign(campaign).map_err(|e| UserError::new(e.code, e.message))?;
    draft.subject = format!("[TEST] {}", draft.subject);
    let now = SystemTime::now();
    let built = Composer::new(draft)
        .map_err(|e| UserError::new(e.code, e.message))?
        .with_date(now)
        .render(list, &copy)
        .map_err(|e| UserError::new(e.code, e.message))?;
    if built.envelope_to != [to] {
        return Err(UserError::new(
            ErrorCode::InvalidMessage,
            "internal: the test copy is not addressed to the test address alone",
        ));
    }
    let signer = dkim_signer(campaign, None)?;
    let raw = send::prepend_signature(signer.as_deref(), built.raw).map_err(|e| {
        UserError::new(
            ErrorCode::InvalidCampaign,
            format!("DKIM signing failed: {e}"),
        )
    })?;
    let outgoing = send::Outgoing {
        row,
        message_id: built.message_id.clone(),
        envelope_from: built.envelope_from,
        envelope_to: built.envelope_to,
        raw,
    };
    let relay = smtp_relay(
        campaign,
        &prepared.options,
        relay_password(campaign, password)?,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            UserError::new(ErrorCode::Internal, format!("cannot start the sender: {e}"))
        })?;
    let delivery = runtime.block_on(async {
        let mut session = relay
            .open()
            .await
            .map_err(|e| UserError::new(e.code(), e.to_string()))?;
        let delivery = relay.deliver(&mut session, &outgoing).await;
        SmtpRelay::close(session).await;
        Ok::<_, UserError>(delivery)
    })?;
    let (accepted, reply) = match &delivery {
        send::Delivery::Accepted { code, text, .. } => (true, format!("{code} {text}")),
        send::Delivery::Transient { code, text } => (false, format!("{code} {text}")),
        send::Delivery::Permanent { code, text } => (
            false,
            format!("{} {text}", code.map(|c| c.to_string()).unwrap_or_default()),
        ),
        send::Delivery::Unknown { text } => (false, text.clone()),
    };
    log(
        store,
        session.operator(),
        Kind::TestSend,
        &prepared.campaign_id,
        json!({"row": row, "to": to, "accepted": accepted, "reply": reply}),
    )?;
    if !accepted {
        return Err(UserError::new(
            ErrorCode::CheckFailed,
            format!("the relay did not take the test copy: {reply}"),
        ));
    }
    Ok(TestSent {
        row,
        to: to.to_owned(),
        message_id: built.message_id,
        reply,
    })
}

fn smtp_relay(
    campaign: &Campaign,
    prepared_options: &CheckOptions,
    password: Secret,
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
    settings.password = Some(password);
    settings.timeout = Duration::from_secs(30);
    let ca = prepared_options
        .ca
        .clone()
        .or_else(|| relay.ca.as_ref().map(|p| campaign.resolve(p)));
    if let Some(ca) = ca {
        settings.extra_ca_pem = Some(read_file("relay CA file", &ca)?);
    }
    SmtpRelay::new(settings).map_err(|e| UserError::new(e.code(), e.to_string()))
}

/// Sends the campaign at `prepared.path` (BLOCKING: runs its own runtime; call it from a
/// worker thread). Re-runs the checklist on the files as they are now and refuses unless
/// that fingerprint has a valid approval; between batches it refuses to go on when a
/// file changed, the approval was revoked or it expired. Every outcome is logged.
pub fn send(
    store: &Store,
    prepared: &Prepared,
    request: SendRequest,
    control: watch::Receiver<Control>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, UserError> {
    match operators::find(store, &request.operator)
        .map_err(|e| UserError::new(e.code(), e.to_string()))?
    {
        Some(op) if !op.disabled && op.has_role(Role::Sender) => {}
        _ => {
            return Err(UserError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} cannot send: only an active operator with the sender role can start a send",
                    request.operator
                ),
            ))
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            UserError::new(ErrorCode::Internal, format!("cannot start the sender: {e}"))
        })?;
    let now = SystemTime::now();
    // The suppression list as it is now: someone who unsubscribed since the approval
    // drops out of the recipients, the fingerprint changes, and the send refuses. This
    // includes the campaign's own hard bounces, so resuming a campaign after one needs
    // a new approval (the checklist, the approval and the send all read the same list;
    // exempting the bounces at send time alone would make a fresh approval unusable).
    let mut options = prepared.options.clone();
    options.suppressed = Some(Arc::new(suppression::keys(store)?));
    let current = runtime.block_on(prepare(&prepared.path, &options, now, &|_, _| {}))?;
    approval::require_approval(
        store,
        &current.campaign_id,
        &current.fingerprint,
        OffsetDateTime::now_utc(),
    )
    .map_err(approval_error)?;

    let campaign = &current.campaign;
    let draft = Draft::from_campaign(campaign).map_err(|e| UserError::new(e.code, e.message))?;
    let composer = Composer::new(draft)
        .map_err(|e| UserError::new(e.code, e.message))?
        .with_date(now);
    // The key that signs is the key that was approved, byte for byte.
    let approved_key = current.input.dkim.as_ref().map(|k| k.key_sha256.as_str());
    let dkim_signer = dkim_signer(campaign, Some(approved_key))?;

    let approved: std::collections::HashSet<(String, String)> = current
        .input
        .attachments
        .iter()
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    let attachment_changed = Arc::new(Mutex::new(None::<String>));
    let by_row: HashMap<u64, usize> = current
        .recipients
        .recipients
        .iter()
        .enumerate()
        .map(|(i, r)| (r.row, i))
        .collect();
    let list = &current.recipients;
    let flag = Arc::clone(&attachment_changed);
    let render = move |row: u64| -> Result<BuiltMessage, String> {
        let i = *by_row
            .get(&row)
            .ok_or_else(|| format!("row {row} is not in the approved recipient list"))?;
        let built = composer
            .render(list, &list.recipients[i])
            .map_err(|e| e.message)?;
        if let Some(a) = built
            .attachments
            .iter()
            .find(|a| !approved.contains(&(a.file_name.clone(), a.sha256.clone())))
        {
            let why = format!(
                "the attachment {} of row {row} changed on disk",
                a.file_name
            );
            if let Ok(mut f) = flag.lock() {
                *f = Some(why.clone());
            }
            return Err(format!("not sent: {why} after the approval"));
        }
        Ok(built)
    };
    let job = SendJob {
        campaign_id: current.campaign_id.clone(),
        recipients: list
            .recipients
            .iter()
            .map(|r| (r.row, r.email().to_string()))
            .collect(),
        render,
        dkim: dkim_signer,
        options: request.options.clone(),
    };
    let gate = Gate {
        store,
        campaign_id: &current.campaign_id,
        fingerprint: &current.fingerprint,
        files: &current.files,
        last_file_check: Mutex::new(Instant::now()),
        attachment_changed,
    };

    let conn = rusqlite::Connection::open(store.path())
        .and_then(|c| state::migrate(&c).map(|_| c))
        .map_err(|e| {
            UserError::new(
                ErrorCode::Database,
                format!("the local database failed: {e}"),
            )
        })?;
    let operator = request.operator.as_str();
    let cid = current.campaign_id.as_str();
    log(
        store,
        operator,
        Kind::SendStart,
        cid,
        json!({
            "fingerprint": current.fingerprint, "recipients": list.recipients.len(),
            "destination": destination_of(campaign), "parallel": request.options.parallel,
        }),
    )?;

    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let last_log = Mutex::new(Instant::now());
    let on_progress = |p: Progress| {
        let waiting = outcomes.lock().map(|v| v.len()).unwrap_or(0);
        let mut last = last_log.lock().unwrap_or_else(|e| e.into_inner());
        if waiting >= LOG_BATCH || (waiting > 0 && last.elapsed() >= Duration::from_secs(1)) {
            log_outcomes(store, operator, cid, &outcomes);
            *last = Instant::now();
        }
        progress(p);
    };
    let clock = SystemClock;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let watched = control.clone();
    let result = std::thread::scope(|scope| {
        // Pause, resume and cancel are the operator's decisions: log each as it happens.
        scope.spawn(|| runtime.block_on(log_controls(store, operator, cid, watched, done_rx)));
        let result = match (&campaign.relay, &campaign.outbox) {
            (Some(_), _) => {
                let password = relay_password(campaign, request.password.clone());
                match password.and_then(|p| smtp_relay(campaign, &current.options, p)) {
                    Ok(inner) => {
                        let relay = Arc::new(Logged {
                            inner,
                            outcomes: Arc::clone(&outcomes),
                        });
                        runtime
                            .block_on(send::send_campaign(
                                job,
                                relay,
                                &conn,
                                &clock,
                                control,
                                &gate,
                                &on_progress,
                            ))
                            .map_err(|e| UserError::new(e.code(), e.to_string()))
                    }
                    Err(e) => Err(e),
                }
            }
            (None, Some(outbox)) => {
                let relay = Arc::new(Logged {
                    inner: OutboxFolder {
                        dir: campaign.resolve(&outbox.folder),
                    },
                    outcomes: Arc::clone(&outcomes),
                });
                runtime
                    .block_on(send::send_campaign(
                        job,
                        relay,
                        &conn,
                        &clock,
                        control,
                        &gate,
                        &on_progress,
                    ))
                    .map_err(|e| UserError::new(e.code(), e.to_string()))
            }
            (None, None) => Err(UserError::new(
                ErrorCode::InvalidCampaign,
                "the campaign names no relay",
            )),
        };
        let _ = done_tx.send(());
        result
    });
    log_outcomes(store, operator, cid, &outcomes);
    // Mailboxes the relay called nonexistent are not mailed again (logged on their own).
    let bounced = suppression::record_bounces(store, cid, OffsetDateTime::now_utc());
    match result {
        Ok(summary) => {
            let bounced = bounced?;
            let finish = match summary.finish {
                send::Finish::Done => "done",
                send::Finish::Cancelled => "cancelled",
            };
            log(
                store,
                operator,
                Kind::SendFinish,
                cid,
                json!({"finish": finish,
                    "sent": summary.counts.sent, "failed": summary.counts.failed,
                    "deferred": summary.counts.deferred, "unknown": summary.counts.unknown,
                    "queued": summary.counts.queued, "recovered_unknown": summary.recovered_unknown,
                    "bounces_suppressed": bounced,
                }),
            )?;
            Ok(summary)
        }
        Err(e) => {
            let _ = log(
                store,
                operator,
                Kind::SendFinish,
                cid,
                json!({"stopped": e.message}),
            );
            Err(e)
        }
    }
}

/// Logs each change of the operator's control until `done` fires.
async fn log_controls(
    store: &Store,
    operator: &str,
    campaign_id: &str,
    mut control: watch::Receiver<Control>,
    mut done: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut done => return,
            changed = control.changed() => {
                if changed.is_err() {
                    return;
                }
                let kind = match *control.borrow_and_update() {
                    Control::Pause => Kind::SendPause,
                    Control::Run => Kind::SendResume,
                    Control::Cancel => Kind::SendCancel,
                };
                let _ = log(store, operator, kind, campaign_id, json!({"by": "operator"}));
            }
        }
    }
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

/// The per-recipient report of a campaign, in row order.
pub fn report(store: &Store, campaign_id: &str) -> Result<Vec<ReportRow>, UserError> {
    let conn = rusqlite::Connection::open(store.path())
        .and_then(|c| state::migrate(&c).map(|_| c))
        .and_then(|c| state::report(&c, campaign_id))
        .map_err(|e| {
            UserError::new(
                ErrorCode::Database,
                format!("the local database failed: {e}"),
            )
        })?;
    Ok(conn)
}
