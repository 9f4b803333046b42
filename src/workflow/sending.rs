//! `send`: the one caller of [`send::send_campaign`]. Builds every message from the
//! bytes that were checked and fingerprinted, behind [`approval::require_approval`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::gate::{Approved, Gate};
use super::{
    approval_error, destination_of, dkim_signer, log, prepare, smtp_relay, Prepared, RelayLogin,
    UserError,
};
use crate::approval;
use crate::audit::{self, Kind};
use crate::compose::{BuiltMessage, Composer};
use crate::error::{ErrorCode, Reason};
use crate::operators::{self, Role};
use crate::preflight::campaign::snapshot_draft;
use crate::secrets::Secret;
use crate::send::{
    self, state, Control, Delivery, OpenError, OutboxFolder, Outgoing, Progress, Relay, SendJob,
    SendOptions, Summary, SystemClock,
};
use crate::store::Store;
use crate::suppression;

/// One send run's settings.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The signed-in operator who starts the send (for the log).
    pub operator: String,
    /// The relay password; `None` reads it from the OS keychain for the relay profile.
    pub password: Option<Secret>,
    pub options: SendOptions,
}

/// Outcomes are written to the operation log in groups of this many (and at the end).
const LOG_BATCH: usize = 64;

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

/// Sends the campaign at `prepared.path` (BLOCKING: runs its own runtime; call it from a
/// worker thread). Reads the campaign's files once more, checks them, and refuses unless
/// that fingerprint has a valid approval; then builds every message from exactly those
/// bytes (nothing is read from disk again except each recipient's own attachment, which
/// must hash to the file approved for that recipient). Between batches it stops when a
/// file changed on disk, the approval was revoked or it expired; a difference voids the
/// approval. Every outcome is logged.
pub fn send(
    store: &Store,
    prepared: &Prepared,
    request: SendRequest,
    control: watch::Receiver<Control>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, UserError> {
    send_with_hook(store, prepared, request, control, progress, &|| {})
}

/// [`send`] with `after_gate` called once the approval was checked and before any
/// message is built: the tests' deterministic point to change files "between check and
/// build". Not for other use.
#[doc(hidden)]
pub fn send_with_hook(
    store: &Store,
    prepared: &Prepared,
    request: SendRequest,
    control: watch::Receiver<Control>,
    progress: &(dyn Fn(Progress) + Sync),
    after_gate: &(dyn Fn() + Sync),
) -> Result<Summary, UserError> {
    match operators::authorize_name(
        store,
        &request.operator,
        &[Role::Sender],
        OffsetDateTime::now_utc(),
    ) {
        Ok(_) => {}
        Err(e @ operators::Error::Tampered(_)) => {
            return Err(UserError::new(e.code(), e.to_string()))
        }
        Err(_) => {
            return Err(UserError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} cannot send: only an active operator with the sender role can start a send",
                    request.operator
                ),
            )
            .with_reason(Some(
                Reason::new("missing_role")
                    .with("name", request.operator.as_str())
                    .with("role", "sender"),
            )))
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
    after_gate();

    // From here on every byte comes from `current.snapshot`, the bytes just checked
    // and fingerprinted; nothing is read from disk but the per-recipient attachments.
    let campaign = &current.campaign;
    let snapshot = &current.snapshot;
    let mut draft = snapshot_draft(snapshot)?;
    // Real tokens only here (and in a test copy): keyed with this install's key.
    draft.unsubscribe_key = Some(crate::unsubscribe::UnsubscribeKey::of(store));
    let composer = Composer::new(draft)
        .map_err(|e| UserError::new(e.code, e.message))?
        .with_date(now);
    let dkim_signer = dkim_signer(campaign, snapshot)?;

    let differed = Arc::new(Mutex::new(None::<String>));
    let approved = Approved::new(
        &current.input,
        campaign.message.attachment_column.as_deref(),
        Arc::clone(&differed),
    );
    let by_row: HashMap<u64, usize> = current
        .recipients
        .recipients
        .iter()
        .enumerate()
        .map(|(i, r)| (r.row, i))
        .collect();
    let list = &current.recipients;
    let render = move |row: u64| -> Result<BuiltMessage, String> {
        let i = *by_row
            .get(&row)
            .ok_or_else(|| format!("row {row} is not in the approved recipient list"))?;
        let recipient = &list.recipients[i];
        let built = composer.render(list, recipient).map_err(|e| e.message)?;
        approved.verify(list, recipient, &built)?;
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
        snapshot,
        last_file_check: Mutex::new(None),
        differed,
        pending_void: Mutex::new(None),
    };

    // An OAuth2 relay: the sign-in is checked (and the token refreshed) before the
    // send starts; an expired or withdrawn consent stops here, nothing sent. Each
    // connection then asks for its own token.
    let oauth_tokens = if campaign.relay.is_some() {
        runtime.block_on(super::oauth_relay_tokens(store, campaign))?
    } else {
        None
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
    // 特定電子メール法: each recipient's basis is kept with the delivery record before
    // anything is sent (法第3条第2項).
    let bases: Vec<(String, &str)> = crate::preflight::jp_law::consent_bases(campaign, list)
        .into_iter()
        .map(|(address, basis)| (address, basis.as_str()))
        .collect();
    if !bases.is_empty() {
        state::record_consent(
            &conn,
            cid,
            &bases,
            now.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        )
        .map_err(|e| {
            UserError::new(
                ErrorCode::Database,
                format!("the consent records could not be written: {e}"),
            )
        })?;
    }
    log(
        store,
        operator,
        Kind::SendStart,
        cid,
        json!({
            "fingerprint": current.fingerprint, "recipients": list.recipients.len(),
            "destination": destination_of(campaign), "parallel": request.options.parallel,
            // Where this run's List-Unsubscribe asks people to mail ({token} unexpanded):
            // a request mailed anywhere else is refused by the mailbox sync.
            crate::unsubscribe::SEND_START_KEY: campaign
                .unsubscribe
                .as_ref()
                .and_then(|u| u.mailto.as_deref())
                .map(crate::unsubscribe::mailto_address),
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
                let login = RelayLogin::of(oauth_tokens, campaign, request.password.clone());
                match login.and_then(|login| smtp_relay(campaign, snapshot, login)) {
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
    // A difference the gate found voids the approval, now that the engine has let go
    // of the database.
    if let Err(e) = gate.void_pending() {
        tracing::error!(campaign_id = cid, error = %e, "could not void the approval");
    }
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
