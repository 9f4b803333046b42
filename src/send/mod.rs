//! Sending: drives an approved campaign through a relay, one recipient per message,
//! crash-safe (see [`state`] for the exactly-once-or-unknown rule), rate-limited,
//! pausable, with progress and a final report.
//!
//! Seams (each replaceable without touching the engine):
//! - messages come from a `render(row)` closure, so 100,000 messages are never in
//!   memory at once (the lead wires `Composer::render` into it);
//! - [`relay::Relay`]: the SMTP relay or the Outbox folder;
//! - [`ApprovalGate`]: checked at start and before every batch, so revoking the
//!   approval (or editing the campaign) mid-run stops sending;
//! - [`rate::Clock`]: the time, pinned in tests;
//! - [`DkimSign`]: an optional signer returning a `DKIM-Signature` header.
//!
//! Architecture invariant: the engine writes every state change through [`state`]
//! before acting on it; it knows nothing of windows, the store type or the audit log.

pub mod rate;
pub mod relay;
pub mod state;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::compose::BuiltMessage;
use crate::error::ErrorCode;
pub use rate::{Clock, PinnedClock, RateLimit, RatePreset, SystemClock};
pub use relay::{
    Delivery, OpenError, OutboxFolder, Outgoing, Relay, Security, SmtpRelay, SmtpSettings,
    TokenError, TokenFuture, TokenSource,
};
pub use state::{report, requeue_unknown, write_report_csv, Counts, ReportRow, State};

/// Signs finished bytes; returns the complete `DKIM-Signature: ...\r\n` header to prepend.
pub type DkimSign = dyn Fn(&[u8]) -> Result<String, String> + Send + Sync;

/// Asked at start, before each batch and after any message that could not be built
/// whether sending may go on (approval still valid for the campaign's current
/// fingerprint). `Err` text is shown to the operator; after a refusal the run stops
/// before handing over anything more, and the refused row stays queued.
pub trait ApprovalGate {
    fn check(&self) -> Result<(), String>;
}

/// The operator's controls, sent through a `tokio::sync::watch` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    Run,
    Pause,
    /// Stop after the messages already handed to the relay; the rest stay queued.
    Cancel,
}

/// Tuning of one run.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Parallel relay connections, each reused for many messages.
    pub parallel: usize,
    pub rate: RateLimit,
    /// Attempts per recipient before a 4xx becomes `failed`.
    pub max_attempts: u32,
    /// First back-off after a 4xx; doubled on each further attempt.
    pub backoff_ms: u64,
    /// Wait (with the clock) for deferred rows to come due before returning.
    pub wait_for_deferred: bool,
    /// Rows claimed per batch; the approval gate is checked before each batch.
    pub batch: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            parallel: 2,
            rate: RateLimit::default(),
            max_attempts: 5,
            backoff_ms: 60_000,
            wait_for_deferred: true,
            batch: 100,
        }
    }
}

/// One campaign run. `render` builds a row's message on demand; it must return the same
/// Message-ID for a row every time (compose derives it from campaign id and row).
pub struct SendJob<F> {
    pub campaign_id: String,
    /// `(row, email)` of every recipient; added as `queued` if new, untouched if known.
    pub recipients: Vec<(u64, String)>,
    pub render: F,
    pub dkim: Option<Arc<DkimSign>>,
    pub options: SendOptions,
}

/// Streamed to the UI after every outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Progress {
    pub sent: u64,
    pub failed: u64,
    pub deferred: u64,
    pub unknown: u64,
    /// Queued plus deferred plus in flight.
    pub remaining: u64,
    pub rate_per_sec: f64,
    pub eta_secs: Option<u64>,
}

/// How a run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// Nothing left to send now (deferred rows may remain if not waiting for them).
    Done,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub finish: Finish,
    pub counts: Counts,
    /// Rows found in `sending` at start (a previous crash) and moved to `unknown`.
    pub recovered_unknown: u64,
}

/// Why a run stopped early. Rows not handed over stay queued; resume later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    #[error("the local database failed: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("sending stopped: {0}")]
    NotApproved(String),
    #[error("{0}")]
    Relay(#[from] OpenError),
}

impl SendError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SendError::Database(_) => ErrorCode::Database,
            SendError::NotApproved(_) => ErrorCode::NotApproved,
            SendError::Relay(e) => e.code(),
        }
    }
}

/// Messages queued per connection ahead of the one being sent, so a connection never
/// waits for the coordinator's next database commit. Together with `parallel` this
/// bounds the rows that are `sending` on disk at any moment, which is also the most a
/// crash can leave `unknown` (see [`state`]).
pub const QUEUE_DEPTH: usize = 8;

/// The most rows `sending` at once for these options: `parallel` connections with
/// [`QUEUE_DEPTH`] messages each, no more than one batch (but at least one message per
/// connection).
pub fn in_flight_window(options: &SendOptions) -> usize {
    let parallel = options.parallel.max(1);
    (parallel * QUEUE_DEPTH).min(options.batch.max(parallel))
}

enum WorkerReport {
    Delivered(usize, Outgoing, Delivery),
    OpenFailed(usize, Outgoing, OpenError),
    /// Given back before any byte of it went to the relay (paused, cancelled, stopped,
    /// or this connection could not be opened): the row goes back to `queued`.
    Returned(usize, Outgoing, String),
}

async fn run_worker<R: Relay>(
    id: usize,
    relay: Arc<R>,
    mut jobs: mpsc::Receiver<Outgoing>,
    out: mpsc::UnboundedSender<WorkerReport>,
    hold: Arc<AtomicBool>,
    dkim: Option<Arc<DkimSign>>,
) {
    let mut session: Option<R::Session> = None;
    let mut open_failed: Option<String> = None;
    while let Some(msg) = jobs.recv().await {
        // Queued messages are `sending` on disk but not yet handed over: on pause,
        // cancel or stop they go back rather than out.
        if hold.load(Ordering::SeqCst) {
            let _ = out.send(WorkerReport::Returned(
                id,
                msg,
                "taken back before sending (paused, cancelled or stopped)".into(),
            ));
            continue;
        }
        if let Some(why) = &open_failed {
            let _ = out.send(WorkerReport::Returned(id, msg, why.clone()));
            continue;
        }
        if session.as_ref().is_some_and(|s| !R::usable(s)) {
            session = None;
        }
        if session.is_none() {
            match relay.open().await {
                Ok(s) => session = Some(s),
                Err(e) => {
                    // Do not hammer a relay that refused us: the run stops on this
                    // error, so the rest of this queue goes back unsent.
                    open_failed = Some(e.message.clone());
                    let _ = out.send(WorkerReport::OpenFailed(id, msg, e));
                    continue;
                }
            }
        }
        // Signing here, not in the coordinator: an RSA signature costs about a
        // millisecond, and each connection signs its own messages in parallel.
        let mut msg = msg;
        if dkim.is_some() {
            match prepend_signature(dkim.as_deref(), std::mem::take(&mut msg.raw)) {
                Ok(raw) => msg.raw = raw,
                Err(why) => {
                    let d = Delivery::Permanent {
                        code: None,
                        text: format!("message could not be built: DKIM signing failed: {why}"),
                    };
                    let _ = out.send(WorkerReport::Delivered(id, msg, d));
                    continue;
                }
            }
        }
        let Some(s) = session.as_mut() else { continue };
        let d = relay.deliver(s, &msg).await;
        let _ = out.send(WorkerReport::Delivered(id, msg, d));
    }
    if let Some(s) = session {
        R::close(s).await;
    }
}

/// `raw` with the DKIM-Signature header `dkim` makes for it in front (unchanged without a
/// signer).
pub fn prepend_signature(dkim: Option<&DkimSign>, raw: Vec<u8>) -> Result<Vec<u8>, String> {
    let Some(sign) = dkim else { return Ok(raw) };
    let mut header = sign(&raw)?;
    if !header.ends_with("\r\n") {
        header.push_str("\r\n");
    }
    let mut out = header.into_bytes();
    out.extend_from_slice(&raw);
    Ok(out)
}

fn outcome_of(d: Delivery, attempts: u32, opts: &SendOptions, now: i64) -> state::Outcome {
    use state::Outcome;
    match d {
        Delivery::Accepted {
            code,
            text,
            queue_id,
        } => Outcome::Sent {
            code,
            text,
            queue_id,
        },
        Delivery::Transient { code, text } => {
            let backoff = opts
                .backoff_ms
                .saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
            Outcome::Deferred {
                code,
                text,
                next_attempt_at: now + backoff as i64,
                give_up: attempts >= opts.max_attempts,
            }
        }
        Delivery::Permanent { code, text } => Outcome::Failed { code, text },
        Delivery::Unknown { text } => Outcome::Unknown { text },
    }
}

/// Sends a campaign (new or interrupted) until nothing is due, it is cancelled, the
/// approval gate says no, or the relay cannot be opened.
///
/// The approval itself is the caller's job *before* this call (the gate re-checks it).
/// The returned future borrows the connection and is not `Send`; run it on a
/// current-thread runtime or inside `spawn_blocking` + `block_on`. Relay I/O runs on
/// spawned tasks, so `parallel` connections really work in parallel.
#[allow(clippy::too_many_arguments)]
pub async fn send_campaign<R, F>(
    job: SendJob<F>,
    relay: Arc<R>,
    conn: &Connection,
    clock: &dyn Clock,
    mut control: watch::Receiver<Control>,
    approval: &dyn ApprovalGate,
    progress: &dyn Fn(Progress),
) -> Result<Summary, SendError>
where
    R: Relay,
    F: FnMut(u64) -> Result<BuiltMessage, String>,
{
    let SendJob {
        campaign_id,
        recipients,
        mut render,
        dkim,
        options,
    } = job;
    let cid = campaign_id.as_str();
    let recovered = state::recover_interrupted(conn, cid, clock.now())? as u64;
    if recovered > 0 {
        tracing::warn!(
            campaign_id = cid,
            recovered,
            "rows interrupted by a crash marked unknown"
        );
    }
    state::enqueue(conn, cid, &recipients, clock.now())?;
    drop(recipients);
    state::prune_quota(conn, clock.now())?;
    approval.check().map_err(SendError::NotApproved)?;

    let quota_key = relay.quota_key();
    let parallel = options.parallel.max(1);
    let window = in_flight_window(&options);
    // Claim again once a quarter of the window is free: one commit per few messages
    // (group commit of outcomes and claims) while every connection still has work queued.
    let refill_at = (window / 4).max(1);
    let hold = Arc::new(AtomicBool::new(false));
    let (out_tx, mut out_rx) = mpsc::unbounded_channel();
    let mut senders = Vec::with_capacity(parallel);
    let mut handles = Vec::with_capacity(parallel);
    for id in 0..parallel {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        senders.push(tx);
        handles.push(tokio::spawn(run_worker(
            id,
            Arc::clone(&relay),
            rx,
            out_tx.clone(),
            Arc::clone(&hold),
            dkim.clone(),
        )));
    }
    drop(out_tx);

    // Messages queued or being sent, per connection.
    let mut outstanding: Vec<usize> = vec![0; parallel];
    let mut attempts_of = std::collections::HashMap::<u64, u32>::new();
    let mut buffer: VecDeque<state::Due> = VecDeque::new();
    let mut pending: Vec<(u64, state::Outcome)> = Vec::new();
    let mut stop: Option<SendError> = None;
    let mut finish = Finish::Done;
    let started = clock.now();
    // Kept in step with every change this loop makes (claims, outcomes), so progress
    // never has to count the campaign's rows again; checked against the database at
    // the end in debug builds.
    let mut counts = state::counts(conn, cid)?;
    let start_sent = counts.sent;
    let from = |due: &state::Due| {
        if due.deferred {
            State::Deferred
        } else {
            State::Queued
        }
    };

    let report_progress = |c: &Counts| {
        let elapsed = (clock.now() - started).max(1) as f64 / 1000.0;
        let rate = (c.sent.saturating_sub(start_sent)) as f64 / elapsed;
        let remaining = c.queued + c.sending + c.deferred;
        progress(Progress {
            sent: c.sent,
            failed: c.failed,
            deferred: c.deferred,
            unknown: c.unknown,
            remaining,
            rate_per_sec: rate,
            eta_secs: (rate > 0.0).then(|| (remaining as f64 / rate).ceil() as u64),
        });
    };

    loop {
        let ctl = *control.borrow();
        if ctl == Control::Cancel && stop.is_none() {
            finish = Finish::Cancelled;
        }
        let dispatching = stop.is_none() && finish != Finish::Cancelled && ctl == Control::Run;
        hold.store(!dispatching, Ordering::SeqCst);
        let in_flight: usize = outstanding.iter().sum();
        let free = window.saturating_sub(in_flight);

        // Claim a batch of rows (as `sending`, in one transaction) for the free queue
        // slots; outcomes received so far go in the same transaction: one disk sync per
        // batch, not two per message.
        let mut to_dispatch = Vec::new();
        let mut rate_wait = 0u64;
        if dispatching && free > 0 && (in_flight == 0 || free >= refill_at) {
            let tx = conn.unchecked_transaction()?;
            for (row, outcome) in pending.drain(..) {
                state::record(&tx, cid, row, &outcome, clock.now())?;
            }
            while to_dispatch.len() < free {
                if buffer.is_empty() {
                    if let Err(why) = approval.check() {
                        stop = Some(SendError::NotApproved(why));
                        break;
                    }
                    buffer.extend(state::due_rows(
                        &tx,
                        cid,
                        clock.now(),
                        options.batch.max(1),
                    )?);
                    if buffer.is_empty() {
                        break;
                    }
                }
                let wait = options.rate.wait_ms(&tx, &quota_key, clock.now())?;
                if wait > 0 {
                    if !to_dispatch.is_empty() || in_flight > 0 {
                        break; // send what we have; come back after the next result
                    }
                    rate_wait = wait;
                    break;
                }
                let Some(due) = buffer.pop_front() else { break };
                let built = render(due.row).and_then(|m| {
                    if m.row != due.row {
                        return Err(format!(
                            "internal: render returned row {} for row {}",
                            m.row, due.row
                        ));
                    }
                    Ok(Outgoing {
                        row: due.row,
                        message_id: m.message_id,
                        envelope_from: m.envelope_from,
                        envelope_to: m.envelope_to,
                        raw: m.raw,
                    })
                });
                let now = clock.now();
                match built {
                    // A message refused because what it would carry differs from what
                    // was approved makes the gate refuse too: stop at once, leaving the
                    // row queued (not failed: nothing about the person is wrong).
                    Err(why) => {
                        if let Err(refused) = approval.check() {
                            stop = Some(SendError::NotApproved(refused));
                            break;
                        }
                        let why = format!("message could not be built: {why}");
                        if state::mark_unbuildable(&tx, cid, due.row, &why, now)? {
                            counts.moved(from(&due), State::Failed);
                        }
                    }
                    Ok(msg) => {
                        if state::mark_sending(&tx, cid, due.row, &msg.message_id, now)? {
                            counts.moved(from(&due), State::Sending);
                            state::record_quota(&tx, &quota_key, now)?;
                            attempts_of.insert(due.row, due.attempts + 1);
                            to_dispatch.push(msg);
                        }
                    }
                }
            }
            // The `sending` marks reach the disk before any byte goes to the relay.
            tx.commit()?;
        }
        if rate_wait > 0 {
            // Nothing in flight and the window is full: wait for it to reopen.
            clock.sleep(rate_wait).await;
            continue;
        }
        let dispatched = !to_dispatch.is_empty();
        for msg in to_dispatch {
            // The shortest queue; it has room because the window is parallel × depth.
            let w = (0..parallel).min_by_key(|&w| outstanding[w]).unwrap_or(0);
            outstanding[w] += 1;
            if senders[w].send(msg).await.is_err() {
                return Err(SendError::NotApproved(
                    "internal: a relay task stopped unexpectedly".into(),
                ));
            }
        }
        let in_flight: usize = outstanding.iter().sum();

        if in_flight > 0 {
            // Wait for one result, then take any others that are ready.
            let first = out_rx.recv().await;
            let mut reports: Vec<WorkerReport> = first.into_iter().collect();
            while let Ok(r) = out_rx.try_recv() {
                reports.push(r);
            }
            for r in reports {
                let now = clock.now();
                let (row, outcome) = match r {
                    WorkerReport::Delivered(w, msg, d) => {
                        outstanding[w] -= 1;
                        let attempts = attempts_of.remove(&msg.row).unwrap_or(1);
                        (msg.row, outcome_of(d, attempts, &options, now))
                    }
                    WorkerReport::Returned(w, msg, text) => {
                        outstanding[w] -= 1;
                        attempts_of.remove(&msg.row);
                        (msg.row, state::Outcome::NotSent { text })
                    }
                    WorkerReport::OpenFailed(w, msg, e) => {
                        outstanding[w] -= 1;
                        attempts_of.remove(&msg.row);
                        let text = e.message.clone();
                        if stop.is_none() {
                            stop = Some(SendError::Relay(e));
                        }
                        (msg.row, state::Outcome::NotSent { text })
                    }
                };
                counts.moved(State::Sending, outcome.state());
                pending.push((row, outcome));
            }
            // Keep the UI's counts consistent with the database.
            if !pending.is_empty() && (!dispatching || stop.is_some()) {
                flush(conn, cid, &mut pending, clock.now())?;
            }
            report_progress(&counts);
            continue;
        }
        flush(conn, cid, &mut pending, clock.now())?;

        if stop.is_some() || finish == Finish::Cancelled {
            break;
        }
        if ctl == Control::Pause {
            report_progress(&counts);
            if control.changed().await.is_err() {
                break;
            }
            continue;
        }
        if dispatched {
            continue;
        }
        // Nothing in flight and nothing due right now.
        buffer.clear();
        if !state::due_rows(conn, cid, clock.now(), 1)?.is_empty() {
            continue; // rate-limit wait just ended
        }
        match state::next_deferred_at(conn, cid)? {
            Some(at) if options.wait_for_deferred => {
                let wait = (at - clock.now()).max(1) as u64;
                tokio::select! {
                    _ = clock.sleep(wait) => {}
                    _ = control.changed() => {}
                }
            }
            _ => break,
        }
    }

    drop(senders);
    for h in handles {
        let _ = h.await;
    }
    flush(conn, cid, &mut pending, clock.now())?;
    let kept = counts;
    let counts = state::counts(conn, cid)?;
    debug_assert_eq!(
        kept, counts,
        "the engine's counts drifted from the database"
    );
    report_progress(&counts);
    if let Some(e) = stop {
        return Err(e);
    }
    Ok(Summary {
        finish,
        counts,
        recovered_unknown: recovered,
    })
}

fn flush(
    conn: &Connection,
    cid: &str,
    pending: &mut Vec<(u64, state::Outcome)>,
    now: i64,
) -> rusqlite::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (row, outcome) in pending.drain(..) {
        state::record(&tx, cid, row, &outcome, now)?;
    }
    tx.commit()
}
