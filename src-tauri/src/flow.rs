//! Checklist, approval and sending: plain functions over [`AppState`] around
//! `mergeguard::workflow`. Architecture invariant: nothing here sends; the only path to
//! the relay or the Outbox folder is `workflow::send`, which refuses without a valid
//! approval for the campaign files as they are on disk at that moment.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::watch;

use mergeguard::approval;
use mergeguard::error::ErrorCode;
use mergeguard::operators::Role;
use mergeguard::preflight::campaign::{options_for, relay_profile, CheckOptions};
use mergeguard::preflight::{Check, Status};
use mergeguard::secrets::{self, Secret};
use mergeguard::send::{self, Control, Progress, RatePreset, ReportRow, SendOptions, Summary};
use mergeguard::workflow::{self, Prepared, SendRequest};

use crate::error::{CommandError, CommandResult, ShellCode};
use crate::state::{lock, AppState, SendRun};

/// The relay a campaign sends through, in parts, so the window words it in the person's
/// language (`destination` keeps the CLI's English sentence).
#[derive(Debug, Serialize)]
pub struct RelayView {
    pub host: String,
    pub port: u16,
    /// `starttls` or `tls`.
    pub security: &'static str,
    pub username: String,
}

fn relay_view(p: &workflow::Prepared) -> Option<RelayView> {
    p.campaign.relay.as_ref().map(|r| RelayView {
        host: r.host.clone(),
        port: r.port,
        security: match r.security {
            mergeguard::campaign::Security::Starttls => "starttls",
            mergeguard::campaign::Security::Tls => "tls",
        },
        username: r.username.clone(),
    })
}

/// The checklist screen's view of one run.
#[derive(Debug, Serialize)]
pub struct ChecklistView {
    pub campaign_id: String,
    pub short: String,
    pub recipient_count: usize,
    /// Rows left out because the address is on the Do not mail list.
    pub suppressed: usize,
    pub destination: String,
    pub relay: Option<RelayView>,
    /// True for an Outbox-folder campaign: nothing is sent.
    pub outbox: bool,
    /// The Outbox folder's full path, for an Outbox campaign.
    pub outbox_folder: Option<String>,
    pub passed: bool,
    /// Failures first, then warnings, then passes (the core's order).
    pub checks: Vec<Check>,
}

fn campaign_path(state: &AppState) -> CommandResult<PathBuf> {
    lock(&state.campaign)?.path.clone().ok_or_else(|| {
        CommandError::not_ready(
            "no_campaign",
            "Open or create a campaign on the Campaigns screen first.",
        )
    })
}

/// One "[TEST]" copy of row `row`'s message to the operator's own mailbox (at the
/// sender's domain) through the campaign's relay; the core checks the address, the
/// role and logs it. Needs the checklist to have run (it supplies the recipients).
pub async fn test_send(
    state: &AppState,
    now: OffsetDateTime,
    row: u64,
    to: String,
) -> CommandResult<workflow::TestSent> {
    let who = state.signed_in_with(now, Role::Sender)?;
    let prepared = state.prepared()?;
    let store = state.store()?;
    // SMTP is blocking network I/O: off the async runtime's threads.
    tauri::async_runtime::spawn_blocking(move || {
        workflow::test_send(&store, &prepared, &who, row, &to, None)
    })
    .await
    .map_err(|e| CommandError::internal(format!("The test send stopped: {e}")))?
    .map_err(CommandError::from)
}

/// The checklist's settings: the system resolver, the relay password from the keychain
/// when there is one (without it `tls.login` says so in plain words) and the store's
/// suppression list.
fn check_options(state: &AppState, path: &Path) -> CommandResult<CheckOptions> {
    Ok(options_for(&*state.store()?, path, state.resolver(), None)?)
}

fn outbox_folder(p: &Prepared) -> Option<String> {
    match (&p.campaign.relay, &p.campaign.outbox) {
        (None, Some(o)) => Some(p.campaign.resolve(&o.folder).display().to_string()),
        _ => None,
    }
}

fn checklist_view(p: &Prepared) -> ChecklistView {
    ChecklistView {
        campaign_id: p.campaign_id.clone(),
        short: p.short(),
        recipient_count: p.recipients.recipients.len(),
        suppressed: p
            .recipients
            .rejected
            .iter()
            .filter(|r| r.reason == mergeguard::recipients::RejectReason::Suppressed)
            .count(),
        destination: p.destination(),
        relay: relay_view(p),
        outbox: p.campaign.relay.is_none() && p.campaign.outbox.is_some(),
        outbox_folder: outbox_folder(p),
        passed: p.report.passed(),
        checks: p.report.checks.clone(),
    }
}

/// Runs the whole checklist over the campaign file as it is on disk and keeps the result
/// for the approval and send screens. `progress(done, total)` while messages are checked.
pub async fn run_checklist(
    state: &AppState,
    now: OffsetDateTime,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> CommandResult<ChecklistView> {
    let who = state.signed_in(now)?;
    let path = campaign_path(state)?;
    let options = check_options(state, &path)?;
    // The last run's result goes first: a run replaces it, and two 100,000-recipient
    // results side by side were the window's peak.
    lock(&state.campaign)?.prepared = None;
    let prepared = workflow::prepare(&path, &options, SystemTime::from(now), progress).await?;
    let view = checklist_view(&prepared);
    workflow::log_check_run(&*state.store()?, who.operator(), &prepared, now)?;
    let mut campaign = lock(&state.campaign)?;
    if campaign.path.as_ref() == Some(&path) {
        campaign.prepared = Some(Arc::new(prepared));
    }
    Ok(view)
}

#[derive(Debug, Serialize)]
pub struct SampleView {
    pub row: u64,
    pub to: String,
    pub subject: String,
}

/// Everything both people look at on the approval screen.
#[derive(Debug, Serialize)]
pub struct ReviewView {
    pub campaign_id: String,
    pub short: String,
    pub recipient_count: usize,
    pub destination: String,
    pub relay: Option<RelayView>,
    pub outbox: bool,
    pub outbox_folder: Option<String>,
    pub samples: Vec<SampleView>,
    /// Each warning the approver must acknowledge, with what the check saw.
    pub warnings: Vec<Check>,
    pub failures: Vec<Check>,
    /// Who submitted this exact fingerprint, if anyone has.
    pub submitted_by: Option<String>,
    /// A valid approval of this exact fingerprint (e.g. given before a restart).
    pub approved: Option<approval::Approval>,
}

pub fn review(state: &AppState, now: OffsetDateTime) -> CommandResult<ReviewView> {
    state.signed_in(now)?;
    let p = state.prepared()?;
    let store = state.store()?;
    let submitted_by = approval::submission(&store, &p.campaign_id)
        .map_err(|e| CommandError::new(e.code(), e.to_string()))?
        .filter(|s| s.fingerprint == p.fingerprint)
        .map(|s| s.preparer);
    let approved = approval::current(&store, &p.campaign_id, &p.fingerprint, now)
        .map_err(|e| CommandError::new(e.code(), e.to_string()))?;
    let with = |status: Status| {
        p.report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .cloned()
            .collect()
    };
    Ok(ReviewView {
        campaign_id: p.campaign_id.clone(),
        short: p.short(),
        recipient_count: p.recipients.recipients.len(),
        destination: p.destination(),
        relay: relay_view(&p),
        outbox: p.campaign.relay.is_none() && p.campaign.outbox.is_some(),
        outbox_folder: outbox_folder(&p),
        samples: p
            .sample_messages(3)
            .into_iter()
            .map(|m| SampleView {
                row: m.row,
                to: m.to,
                subject: m.subject,
            })
            .collect(),
        // Skipped authentication checks are acknowledged like warnings (core rule).
        warnings: p
            .report
            .checks
            .iter()
            .filter(|c| c.needs_acknowledgement())
            .cloned()
            .collect(),
        failures: with(Status::Fail),
        submitted_by,
        approved,
    })
}

/// The signed-in preparer freezes the checked campaign for approval.
pub fn submit_for_approval(
    state: &AppState,
    now: OffsetDateTime,
) -> CommandResult<approval::Submission> {
    let who = state.signed_in(now)?;
    let p = state.prepared()?;
    Ok(workflow::submit(&*state.store()?, &p, &who, now)?)
}

/// The second operator approves on the same screen with their own name and PIN.
pub fn approve(
    state: &AppState,
    now: OffsetDateTime,
    approver: String,
    pin: String,
    acknowledged: Vec<String>,
) -> CommandResult<approval::Approval> {
    state.signed_in(now)?;
    let p = state.prepared()?;
    Ok(workflow::approve(
        &*state.store()?,
        &p,
        approver.trim(),
        &Secret::new(pin),
        &acknowledged,
        now,
    )?)
}

/// What the send worker streams to the window.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SendEvent {
    Progress(Progress),
    Finished { summary: Summary },
    Stopped { error: CommandError },
}

/// Starts `workflow::send` on a worker thread for the checked campaign, as the signed-in
/// operator. The core re-reads the files and refuses without a valid approval; that
/// refusal arrives as a `Stopped` event and as the thread's result.
pub fn start_send(
    state: &AppState,
    now: OffsetDateTime,
    rate: &str,
    events: impl Fn(SendEvent) + Send + Sync + 'static,
) -> CommandResult<JoinHandle<CommandResult<Summary>>> {
    let who = state.signed_in_with(now, Role::Sender)?;
    // The relay's published limits (Microsoft 365: 30 a minute): sending faster gets the
    // account throttled or blocked half-way through a campaign.
    let rate: RatePreset = rate
        .parse()
        .map_err(|e: String| CommandError::shell(ShellCode::InvalidInput, e))?;
    let prepared = state.prepared()?;
    let store = state.store()?;
    let mut run = lock(&state.send)?;
    if run.as_ref().is_some_and(SendRun::is_running) {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "A send is already running; pause or cancel it first.",
        ));
    }
    let (control, control_rx) = watch::channel(Control::Run);
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&done);
    let operator = who.operator().to_owned();
    let handle = std::thread::Builder::new()
        .name("mergeguard-send".into())
        .spawn(move || {
            let request = SendRequest {
                operator,
                password: None,
                options: SendOptions {
                    rate: rate.limit(),
                    ..SendOptions::default()
                },
            };
            let result = workflow::send(&store, &prepared, request, control_rx, &|p| {
                events(SendEvent::Progress(p))
            })
            .map_err(CommandError::from);
            finished.store(true, Ordering::SeqCst);
            match &result {
                Ok(summary) => events(SendEvent::Finished { summary: *summary }),
                Err(error) => events(SendEvent::Stopped {
                    error: error.clone(),
                }),
            }
            result
        })
        .map_err(|e| CommandError::internal(format!("The sender could not start: {e}")))?;
    *run = Some(SendRun { control, done });
    Ok(handle)
}

/// Pause, resume or cancel the running send.
pub fn control_send(state: &AppState, now: OffsetDateTime, action: &str) -> CommandResult<()> {
    state.signed_in(now)?;
    let control = match action {
        "pause" => Control::Pause,
        "resume" => Control::Run,
        "cancel" => Control::Cancel,
        other => {
            return Err(CommandError::internal(format!(
                "unknown send action {other:?}"
            )))
        }
    };
    let run = lock(&state.send)?;
    match run.as_ref().filter(|r| r.is_running()) {
        Some(r) => r
            .control
            .send(control)
            .map_err(|_| CommandError::new(ErrorCode::Send, "The send has already ended.")),
        None => Err(CommandError::new(ErrorCode::Send, "No send is running.")),
    }
}

/// Puts the `unknown` rows back in the queue: the operator's decision, after being told
/// that a message may then arrive twice. Returns how many rows were re-queued.
pub fn requeue_unknown(state: &AppState, now: OffsetDateTime) -> CommandResult<usize> {
    let who = state.signed_in_with(now, Role::Sender)?;
    let p = state.prepared()?;
    let store = state.store()?;
    let rows: Vec<u64> = workflow::report(&store, &p.campaign_id)?
        .into_iter()
        .filter(|r| r.state == send::State::Unknown)
        .map(|r| r.row)
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(workflow::requeue_unknown(
        &store,
        &p.campaign_id,
        &rows,
        who.operator(),
    )?)
}

/// Stores the relay password of the checked campaign's relay in the OS keychain (never
/// in the database, a file or a response). Settings are an admin's business.
pub fn save_relay_password(
    state: &AppState,
    now: OffsetDateTime,
    password: String,
) -> CommandResult<()> {
    let who = state.signed_in_with(now, Role::Admin)?;
    let p = state.prepared()?;
    let (Some(relay), Some(profile)) = (&p.campaign.relay, relay_profile(&p.campaign)) else {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "This campaign writes to an Outbox folder; it has no relay password.",
        ));
    };
    if password.is_empty() {
        return Err(CommandError::shell(
            ShellCode::InvalidInput,
            "Type the relay password.",
        ));
    }
    secrets::save_relay_password(
        &*state.store()?,
        &who,
        &profile,
        &relay.username,
        &Secret::new(password),
        now,
    )
    .map_err(|e| CommandError::new(e.code(), e.to_string()))
}

/// The per-recipient report of the checked campaign.
pub fn send_report(state: &AppState, now: OffsetDateTime) -> CommandResult<Vec<ReportRow>> {
    state.signed_in(now)?;
    let p = state.prepared()?;
    Ok(workflow::report(&*state.store()?, &p.campaign_id)?)
}

/// Writes the report as CSV (cells escaped against formula injection by the core).
pub fn export_send_report(
    state: &AppState,
    now: OffsetDateTime,
    path: String,
) -> CommandResult<usize> {
    let rows = send_report(state, now)?;
    let path = PathBuf::from(path.trim());
    let file = std::fs::File::create(&path).map_err(|e| {
        CommandError::new(
            ErrorCode::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    send::write_report_csv(&rows, std::io::BufWriter::new(file)).map_err(|e| {
        CommandError::new(
            ErrorCode::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    Ok(rows.len())
}
