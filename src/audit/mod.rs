//! The operation log (SPEC §7): append-only, hash-chained entries, a verifier that finds
//! any edit, deletion, insertion or reordering, filters for the viewer, CSV/JSON export.
//!
//! The only way to write is [`append`]. Each entry's hash is HMAC-SHA256 under the
//! per-install key (kept in the OS keychain, see `store::integrity`) over a length-prefixed
//! encoding of (prev_hash, id, at, operator, kind, campaign, details); the first entry's
//! prev_hash is [`GENESIS`]. Entries written before a data folder was keyed keep their
//! plain SHA-256 hashes ([`entry_hash`]); the first keyed entry chains onto the last of
//! them, so rewriting that older part breaks the keyed link. Ids are sequential from 1
//! with no gaps. The newest (id, hash) is kept in `audit_head` and, MAC'd with the key, in
//! the head file outside the database, so cutting entries off the end is noticed even
//! when the database's own head row is cut with them.
//! Architecture invariant: details never hold a secret; [`append`] refuses keys that name one.

use std::io::Write;

use rusqlite::OptionalExtension;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::ErrorCode;
use crate::store::folder::{read_head, Head};
use crate::store::{InstallKey, RowBreak, Store, Tx};

/// The prev_hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Keys [`append`] refuses in details, at any depth: a secret must never reach the log.
const SECRET_KEYS: &[&str] = &["pin", "password", "passphrase", "secret", "token_secret"];

macro_rules! kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// What happened. A closed set: the viewer filters on it and exports spell it
        /// in `snake_case`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind { $($variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<Kind> {
                match s { $($name => Some(Kind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    Login => "login",
    LoginFailed => "login_failed",
    Lockout => "lockout",
    Import => "import",
    Edit => "edit",
    CheckRun => "check_run",
    ApprovalRequested => "approval_requested",
    ApprovalGranted => "approval_granted",
    ApprovalRefused => "approval_refused",
    ApprovalVoided => "approval_voided",
    SendStart => "send_start",
    SendPause => "send_pause",
    SendResume => "send_resume",
    SendCancel => "send_cancel",
    SendFinish => "send_finish",
    UnknownRequeued => "unknown_requeued",
    MessageOutcome => "message_outcome",
    SettingsChanged => "settings_changed",
    OperatorAdded => "operator_added",
    OperatorDisabled => "operator_disabled",
    CredentialStored => "credential_stored",
    CredentialRemoved => "credential_removed",
    RelayProfileSaved => "relay_profile_saved",
    RelayProfileRemoved => "relay_profile_removed",
    SuppressionAdded => "suppression_added",
    SuppressionRemoved => "suppression_removed",
    TestSend => "test_send",
    LogKeyed => "log_keyed",
    DataFolder => "data_folder",
    IntegrityFailure => "integrity_failure",
    PinChanged => "pin_changed",
    PinReset => "pin_reset",
    RolesChanged => "roles_changed",
    OperatorEnabled => "operator_enabled",
    UnsubscribeReceived => "unsubscribe_received",
    UnsubscribeRefused => "unsubscribe_refused",
    BounceReceived => "bounce_received",
    DmarcReportImported => "dmarc_report_imported",
    MailboxSynced => "mailbox_synced",
    OauthSignedIn => "oauth_signed_in",
    OauthSignedOut => "oauth_signed_out",
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log entry as stored. `kind` stays text so a tampered, unknown kind is still shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: i64,
    /// UTC, RFC 3339 with microseconds, fixed width (so text order is time order).
    pub at: String,
    pub operator: String,
    pub kind: String,
    pub campaign: Option<String>,
    /// Canonical JSON text (sorted keys, no spaces); hashed exactly as stored.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The log failed or refused an entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the operation log refused details holding a secret (key {0:?})")]
    SecretInDetails(String),
    #[error("the time {0} cannot be written in the log")]
    BadTime(String),
    #[error("operation log database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("operation log export failed: {0}")]
    Export(String),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Sql(_) => ErrorCode::Database,
            Error::Export(_) => ErrorCode::Io,
            Error::SecretInDetails(_) | Error::BadTime(_) => ErrorCode::Internal,
            Error::Store(e) => e.code(),
        }
    }
}

/// Formats a time as the log stores it: UTC, fixed width.
pub fn format_time(t: OffsetDateTime) -> Result<String, Error> {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .map_err(|e| Error::BadTime(e.to_string()))
}

/// The hash of entries written before a data folder was keyed (and all an attacker
/// without the key can compute): SHA-256 over each field as an 8-byte big-endian length then its bytes,
/// so no two different field tuples encode the same (no separator ambiguity).
pub fn entry_hash(
    prev_hash: &str,
    id: i64,
    at: &str,
    operator: &str,
    kind: &str,
    campaign: Option<&str>,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"mergeguard-audit-v1");
    let id = id.to_string();
    let campaign_field = match campaign {
        Some(c) => format!("1{c}"),
        None => "0".to_owned(),
    };
    for field in [prev_hash, &id, at, operator, kind, &campaign_field, details] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The hash of a keyed entry: HMAC-SHA256 under the install key over the same fields
/// (the same seven as [`entry_hash`], plus the key).
#[allow(clippy::too_many_arguments)]
pub(crate) fn keyed_entry_hash(
    key: &InstallKey,
    prev_hash: &str,
    id: i64,
    at: &str,
    operator: &str,
    kind: &str,
    campaign: Option<&str>,
    details: &str,
) -> String {
    let id = id.to_string();
    let campaign_field = match campaign {
        Some(c) => format!("1{c}"),
        None => "0".to_owned(),
    };
    key.mac(
        "mergeguard-audit-v2",
        &[
            prev_hash.as_bytes(),
            id.as_bytes(),
            at.as_bytes(),
            operator.as_bytes(),
            kind.as_bytes(),
            campaign_field.as_bytes(),
            details.as_bytes(),
        ],
    )
}

/// Appends one entry; the only way to write to the log.
pub fn append(
    store: &Store,
    now: OffsetDateTime,
    operator: &str,
    kind: Kind,
    campaign: Option<&str>,
    details: serde_json::Value,
) -> Result<Entry, Error> {
    store.transaction(|tx| append_in(tx, now, operator, kind, campaign, &details))
}

/// [`append`] inside a caller's transaction, so a state change and its log entry commit
/// together or not at all.
pub(crate) fn append_in(
    tx: &Tx<'_>,
    now: OffsetDateTime,
    operator: &str,
    kind: Kind,
    campaign: Option<&str>,
    details: &serde_json::Value,
) -> Result<Entry, Error> {
    if let Some(key) = secret_key(details) {
        return Err(Error::SecretInDetails(key));
    }
    let at = format_time(now)?;
    // serde_json's map is ordered by key (no preserve_order feature), so this is the
    // canonical text.
    let details = serde_json::to_string(details).map_err(|e| Error::Export(e.to_string()))?;
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, prev_hash) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let hash = keyed_entry_hash(
        tx.key(),
        &prev_hash,
        id,
        &at,
        operator,
        kind.as_str(),
        campaign,
        &details,
    );
    tx.execute(
        "INSERT INTO audit_log (id, at, operator, kind, campaign, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            id,
            at,
            operator,
            kind.as_str(),
            campaign,
            details,
            prev_hash,
            hash
        ],
    )?;
    tx.execute(
        "INSERT INTO audit_head (one, id, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
        rusqlite::params![id, hash],
    )?;
    tx.set_head(id, &hash);
    Ok(Entry {
        id,
        at,
        operator: operator.to_owned(),
        kind: kind.as_str().to_owned(),
        campaign: campaign.map(str::to_owned),
        details,
        prev_hash,
        hash,
    })
}

fn secret_key(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                Some(k.clone())
            } else {
                secret_key(v)
            }
        }),
        serde_json::Value::Array(items) => items.iter().find_map(secret_key),
        _ => None,
    }
}

/// Why an entry fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum BreakReason {
    /// The stored hash does not match the entry's content: it was edited (or its id was).
    Edited,
    /// The id is not the next in sequence: entries before it were removed or reordered.
    Gap { expected: i64 },
    /// prev_hash is not the previous entry's hash: an entry was inserted, removed or moved.
    LinkBroken,
    /// The kept chain head does not match the last entry: entries were cut off the end
    /// or added after it.
    HeadMismatch { head_id: Option<i64> },
    /// The head file outside the database names an entry that is not in the log as
    /// recorded: entries were cut off the end (with the database's own head row).
    TailCut { head_file_id: i64 },
    /// The head file is missing although the log has keyed entries.
    HeadFileMissing,
    /// The head file does not verify under the install key: it was written by something
    /// other than MergeGuard.
    HeadFileForged,
}

/// One problem found, at the entry with this id (for `HeadMismatch`: the last entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub id: i64,
    #[serde(flatten)]
    pub reason: BreakReason,
}

/// The verifier's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: u64,
    /// Problems in the operation log.
    pub breaks: Vec<Break>,
    /// Security rows (operators, settings, submissions, approvals, the install record)
    /// whose seal does not verify.
    pub rows: Vec<RowBreak>,
}

impl Verification {
    /// True when the log and every sealed row verify.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty() && self.rows.is_empty()
    }

    /// The ids of the broken entries, in order, each once.
    pub fn broken_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.breaks.iter().map(|b| b.id).collect();
        ids.dedup();
        ids
    }
}

/// Walks the whole chain and reports every entry that does not verify, checks the head
/// file, and checks the seal of every security row. Continues past a break (using the
/// stored hash) so one tampered row is reported once, not as the start of an endless run
/// of failures.
pub fn verify(store: &Store) -> Result<Verification, Error> {
    let rows_broken = store.check_rows()?;
    let conn = store.read();
    // Sealed (Store::open checked it, and check_rows above reports it if not since);
    // entries from this id on are keyed.
    let keyed_from: i64 = conn
        .query_row(
            "SELECT COALESCE(keyed_from, 1) FROM install WHERE one = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(1);
    let mut stmt = conn.prepare(
        "SELECT id, at, operator, kind, campaign, details, prev_hash, hash
         FROM audit_log ORDER BY id",
    )?;
    let rows = stmt.query_map([], row_to_entry)?;
    let mut breaks = Vec::new();
    let mut expected_id = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut entries = 0u64;
    let mut last: Option<(i64, String)> = None;
    let mut hashes_by_id = std::collections::HashMap::new();
    let head_file = read_head(store);
    let head_file_id = match &head_file {
        Head::At { id, .. } => Some(*id),
        _ => None,
    };
    for row in rows {
        let e = row?;
        entries += 1;
        if e.id != expected_id {
            breaks.push(Break {
                id: e.id,
                reason: BreakReason::Gap {
                    expected: expected_id,
                },
            });
        }
        if e.prev_hash != prev {
            breaks.push(Break {
                id: e.id,
                reason: BreakReason::LinkBroken,
            });
        }
        let computed = if e.id >= keyed_from {
            keyed_entry_hash(
                store.key(),
                &e.prev_hash,
                e.id,
                &e.at,
                &e.operator,
                &e.kind,
                e.campaign.as_deref(),
                &e.details,
            )
        } else {
            entry_hash(
                &e.prev_hash,
                e.id,
                &e.at,
                &e.operator,
                &e.kind,
                e.campaign.as_deref(),
                &e.details,
            )
        };
        if computed != e.hash {
            breaks.push(Break {
                id: e.id,
                reason: BreakReason::Edited,
            });
        }
        if Some(e.id) == head_file_id {
            hashes_by_id.insert(e.id, e.hash.clone());
        }
        expected_id = e.id + 1;
        prev = e.hash.clone();
        last = Some((e.id, e.hash));
    }
    let last_id = last.as_ref().map(|l| l.0).unwrap_or(0);
    let head: Option<(i64, String)> = conn
        .query_row("SELECT id, hash FROM audit_head WHERE one = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if head != last {
        breaks.push(Break {
            id: last_id,
            reason: BreakReason::HeadMismatch {
                head_id: head.map(|h| h.0),
            },
        });
    }
    // The head file may lag behind the log (written after the commit; a crash between
    // leaves it one step behind), but never ahead of it or off it: the entries after it
    // are keyed, so only the key holder can have written them.
    match head_file {
        Head::Missing if last_id >= keyed_from => breaks.push(Break {
            id: last_id,
            reason: BreakReason::HeadFileMissing,
        }),
        Head::Missing => {}
        Head::Forged => breaks.push(Break {
            id: last_id,
            reason: BreakReason::HeadFileForged,
        }),
        Head::At { id, hash } => {
            if hashes_by_id.get(&id) != Some(&hash) {
                breaks.push(Break {
                    id: last_id,
                    reason: BreakReason::TailCut { head_file_id: id },
                });
            }
        }
    }
    Ok(Verification {
        entries,
        breaks,
        rows: rows_broken,
    })
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        at: r.get(1)?,
        operator: r.get(2)?,
        kind: r.get(3)?,
        campaign: r.get(4)?,
        details: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// The viewer's filters; every field left empty matches all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub operator: Option<String>,
    pub campaign: Option<String>,
    pub kinds: Vec<Kind>,
    /// Inclusive lower bound.
    pub from: Option<OffsetDateTime>,
    /// Exclusive upper bound.
    pub until: Option<OffsetDateTime>,
}

/// The entries matching `filter`, oldest first, read through the read-only connection.
pub fn entries(store: &Store, filter: &Filter) -> Result<Vec<Entry>, Error> {
    let mut sql = String::from(
        "SELECT id, at, operator, kind, campaign, details, prev_hash, hash FROM audit_log WHERE 1=1",
    );
    let mut params: Vec<String> = Vec::new();
    if let Some(op) = &filter.operator {
        params.push(op.clone());
        sql.push_str(&format!(" AND operator = ?{}", params.len()));
    }
    if let Some(c) = &filter.campaign {
        params.push(c.clone());
        sql.push_str(&format!(" AND campaign = ?{}", params.len()));
    }
    if !filter.kinds.is_empty() {
        let mut marks = Vec::new();
        for k in &filter.kinds {
            params.push(k.as_str().to_owned());
            marks.push(format!("?{}", params.len()));
        }
        sql.push_str(&format!(" AND kind IN ({})", marks.join(",")));
    }
    if let Some(from) = filter.from {
        params.push(format_time(from)?);
        sql.push_str(&format!(" AND at >= ?{}", params.len()));
    }
    if let Some(until) = filter.until {
        params.push(format_time(until)?);
        sql.push_str(&format!(" AND at < ?{}", params.len()));
    }
    sql.push_str(" ORDER BY id");
    let conn = store.read();
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), row_to_entry)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

const CSV_HEADER: [&str; 8] = [
    "id",
    "at",
    "operator",
    "kind",
    "campaign",
    "details",
    "prev_hash",
    "hash",
];

/// Writes the matching entries as CSV; every cell goes through
/// [`crate::export::escape_formula`] so a spreadsheet never runs a logged value.
pub fn export_csv(store: &Store, filter: &Filter, out: impl Write) -> Result<u64, Error> {
    let mut w = csv::Writer::from_writer(out);
    let ex = |e: csv::Error| Error::Export(e.to_string());
    w.write_record(CSV_HEADER).map_err(ex)?;
    let mut n = 0;
    for e in entries(store, filter)? {
        let id = e.id.to_string();
        let cells = [
            id.as_str(),
            &e.at,
            &e.operator,
            &e.kind,
            e.campaign.as_deref().unwrap_or(""),
            &e.details,
            &e.prev_hash,
            &e.hash,
        ];
        w.write_record(
            cells
                .iter()
                .map(|c| crate::export::escape_formula(c).into_owned()),
        )
        .map_err(ex)?;
        n += 1;
    }
    w.flush().map_err(|e| Error::Export(e.to_string()))?;
    Ok(n)
}

/// Writes the matching entries as a JSON array; `details` is embedded as JSON.
pub fn export_json(store: &Store, filter: &Filter, mut out: impl Write) -> Result<u64, Error> {
    let list = entries(store, filter)?;
    let values: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "at": e.at,
                "operator": e.operator,
                "kind": e.kind,
                "campaign": e.campaign,
                "details": serde_json::from_str::<serde_json::Value>(&e.details)
                    .unwrap_or_else(|_| serde_json::Value::String(e.details.clone())),
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut out, &values).map_err(|e| Error::Export(e.to_string()))?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|e| Error::Export(e.to_string()))?;
    Ok(list.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::install::MemoryKeys;
    use serde_json::json;

    #[test]
    fn details_with_a_secret_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), &MemoryKeys::new()).unwrap();
        let now = OffsetDateTime::UNIX_EPOCH;
        let before = verify(&store).unwrap().entries;
        let err = append(
            &store,
            now,
            "a",
            Kind::Login,
            None,
            json!({"x": {"PIN": "1234"}}),
        );
        assert!(matches!(err, Err(Error::SecretInDetails(k)) if k == "PIN"));
        assert_eq!(verify(&store).unwrap().entries, before);
    }

    #[test]
    fn hash_fields_cannot_be_shifted() {
        let a = entry_hash(GENESIS, 1, "t", "ab", "c", None, "{}");
        let b = entry_hash(GENESIS, 1, "t", "a", "bc", None, "{}");
        assert_ne!(a, b);
        assert_ne!(
            entry_hash(GENESIS, 1, "t", "a", "k", None, "{}"),
            entry_hash(GENESIS, 1, "t", "a", "k", Some(""), "{}")
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(Kind::ALL.len(), 41);
    }
}
