//! The send's gate: before the first batch, before every later batch and after any
//! message that could not be built, sending goes on only while the approval stands and
//! nothing the campaign was approved from differs from what was approved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::approval::{self, FingerprintInput, SYSTEM_OPERATOR};
use crate::campaign::Snapshot;
use crate::compose::BuiltMessage;
use crate::recipients::{address_key, Recipient, RecipientList};
use crate::send::ApprovalGate;
use crate::store::Store;

/// How often, after the first batch, the gate re-hashes the campaign's files on disk.
/// What is sent comes from the snapshot read before the approval check, never from
/// disk; the re-hash only stops (and voids) a run whose files were edited meanwhile.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Refuses the next batch when the approval was revoked or expired, when a message
/// differed from the approved one, or when a source file changed on disk since the
/// snapshot was read. A difference voids the approval ([`approval::void`]).
pub(super) struct Gate<'a> {
    pub store: &'a Store,
    pub campaign_id: &'a str,
    pub fingerprint: &'a str,
    pub snapshot: &'a Snapshot,
    /// `None` until the first check, which always re-hashes.
    pub last_file_check: Mutex<Option<Instant>>,
    /// Set by [`Approved::verify`] when a message differs from the approved one.
    pub differed: Arc<Mutex<Option<String>>>,
    /// Why the approval must be voided, once the send engine has stopped: the gate is
    /// asked inside the engine's write transaction on its own connection, so a write
    /// to the approvals table from here would wait for that transaction and fail.
    pub pending_void: Mutex<Option<String>>,
}

impl Gate<'_> {
    /// Marks the approval to be voided when the engine stops ([`Gate::void_pending`])
    /// and says why, in words for the operator.
    fn void(&self, why: String) -> String {
        if let Ok(mut pending) = self.pending_void.lock() {
            pending.get_or_insert_with(|| why.clone());
        }
        format!(
            "{why} after the approval; the approval is void. Nothing more is sent: check \
             the campaign again and ask for a new approval"
        )
    }

    /// Voids the approval (logged) if the gate refused a difference. Called by the send
    /// after the engine has returned, so nothing else holds the database's write lock.
    pub fn void_pending(&self) -> Result<(), approval::Error> {
        let why = self.pending_void.lock().ok().and_then(|mut p| p.take());
        match why {
            Some(why) => approval::void(
                self.store,
                self.campaign_id,
                SYSTEM_OPERATOR,
                &why,
                OffsetDateTime::now_utc(),
            )
            .map(drop),
            None => Ok(()),
        }
    }

    fn files_due(&self) -> bool {
        let mut last = self
            .last_file_check
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= FILE_CHECK_INTERVAL);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

impl ApprovalGate for Gate<'_> {
    fn check(&self) -> Result<(), String> {
        if let Some(why) = self.differed.lock().ok().and_then(|g| g.clone()) {
            return Err(self.void(why));
        }
        if self.files_due() {
            if let Some(why) = self.snapshot.changed_on_disk() {
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

/// What each built message must carry to be the approved one.
pub(super) struct Approved {
    /// SHA-256 of each shared attachment, in order.
    shared: Vec<String>,
    /// Per recipient (normalised address): the attachment cell and the file's SHA-256.
    own: Option<HashMap<String, (String, String)>>,
    column: Option<String>,
    differed: Arc<Mutex<Option<String>>>,
}

impl Approved {
    pub fn new(
        input: &FingerprintInput,
        column: Option<&str>,
        differed: Arc<Mutex<Option<String>>>,
    ) -> Approved {
        Approved {
            shared: input.attachments.iter().map(|a| a.sha256.clone()).collect(),
            own: column.map(|_| {
                input
                    .recipient_attachments
                    .iter()
                    .map(|a| (a.address.clone(), (a.path.clone(), a.sha256.clone())))
                    .collect()
            }),
            column: column.map(str::to_owned),
            differed,
        }
    }

    /// Refuses (and flags for the gate) a message whose attachments are not exactly the
    /// approved ones: the shared files, then THIS recipient's own file, read once when
    /// the message was built and compared by hash with what was approved for them.
    pub fn verify(
        &self,
        list: &RecipientList,
        recipient: &Recipient,
        built: &BuiltMessage,
    ) -> Result<(), String> {
        let row = recipient.row;
        let why = match self.difference(list, recipient, built) {
            None => return Ok(()),
            Some(why) => why,
        };
        let why = format!("row {row} ({}): {why}", recipient.email());
        if let Ok(mut f) = self.differed.lock() {
            f.get_or_insert_with(|| why.clone());
        }
        Err(format!("not sent: {why} after the approval"))
    }

    fn difference(
        &self,
        list: &RecipientList,
        recipient: &Recipient,
        built: &BuiltMessage,
    ) -> Option<String> {
        let expected = self.shared.len() + usize::from(self.own.is_some());
        if built.attachments.len() != expected {
            return Some(format!(
                "the message carries {} attachment(s), {expected} were approved",
                built.attachments.len()
            ));
        }
        for (a, approved) in built.attachments.iter().zip(&self.shared) {
            if a.sha256 != *approved {
                return Some(format!("the attachment {} differs", a.file_name));
            }
        }
        let (Some(own), Some(column)) = (&self.own, &self.column) else {
            return None;
        };
        let a = built.attachments.last()?;
        let cell = list.value(recipient, column).unwrap_or_default().trim();
        match own.get(&address_key(recipient.email())) {
            None => Some("no attachment was approved for this recipient".into()),
            Some((path, _)) if path != cell => Some(format!(
                "the attachment cell names {cell}, {path} was approved"
            )),
            Some((path, hash)) if *hash != a.sha256 => Some(format!(
                "the attachment {path} is not the file approved for this recipient"
            )),
            Some(_) => None,
        }
    }
}
