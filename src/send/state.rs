//! Per-recipient delivery state and the relay quota ledger, kept in SQLite (WAL).
//!
//! The state machine (one row per campaign recipient):
//!
//! ```text
//! queued ──claim──▶ sending ──250──▶ sent (reply, queue id)
//!   ▲                  │──4xx──▶ deferred (next_attempt_at, back-off) ──due──▶ sending
//!   │                  │──5xx──▶ failed (reply text)
//!   │                  │──lost after the message was handed over──▶ unknown
//!   │                  └──not handed over (connection/TLS failed before DATA)──▶ queued
//!   └──────── requeue_unknown (explicit operator decision, duplicate risk) ◀── unknown
//! ```
//!
//! Identity: one entry per person, keyed by the normalised address
//! ([`crate::recipients::address_key`]); the row number is only where that person is in
//! the file the campaign was last enqueued from (see [`enqueue`]). A resume after the
//! file was re-exported in another order, or had rows inserted or deleted, therefore
//! sends each person at most once, and a person already sent is never queued again.
//!
//! Crash rule: `sending` is committed to disk *before* the message is given to the
//! relay, and the outcome is committed after the relay answers. So after a crash
//! (kill -9, power loss) a row still in `sending` is exactly a message whose fate we
//! cannot know: the process may have died before the first byte, or after the relay
//! received the final dot and queued it but before we stored the 250. Sending it again
//! risks a duplicate; dropping it risks a loss. [`recover_interrupted`] therefore moves
//! every `sending` row to `unknown`, and only an operator can requeue it. Every other
//! row is either finished (`sent`/`failed`) or provably not yet handed over
//! (`queued`/`deferred`). Result: each recipient is delivered exactly once or marked
//! unknown; none twice, none missing.
//!
//! Throughput without breaking the rule: the engine claims rows in batches (one
//! transaction marks many rows `sending`) into short per-connection queues, and writes
//! outcomes in group commits together with the next claim. A crash can therefore leave
//! at most the engine's in-flight window (`send::in_flight_window`: connections × queue
//! depth, capped by the batch size) as `unknown`, some of which were never handed over;
//! that is the price of one disk sync per batch instead of two per message. Rows taken
//! back from a queue on pause/cancel/stop are recorded as never handed over (`queued`).
//!
//! Architecture invariant: this module knows nothing of SMTP or the store type; it only
//! needs a `rusqlite::Connection`. Time comes in as `now` (Unix milliseconds).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// The schema of this module: the store's migration 0002 (`src/store/migrations/0002_send.sql`),
/// applied by `Store::open`. Kept here so readers of the engine find it next to the code.
pub const MIGRATION: &str = include_str!("../store/migrations/0002_send.sql");

/// Prepares a bare connection (tests, benches, a separate state file): the durability
/// settings the crash rule depends on, then the store's own migrations up to its current
/// version (so the file is exactly what `Store::open` makes, and either can open it
/// later). Idempotent: applied migrations are recorded and skipped.
///
/// `synchronous = FULL` makes each commit reach the disk before we talk to the relay,
/// so a power loss cannot forget a `sending` mark (NORMAL would survive a process
/// crash but not a power loss).
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    match crate::store::migrate_connection(conn) {
        Ok(_) => Ok(()),
        Err(crate::store::Error::Sql(e)) | Err(crate::store::Error::Migrate { source: e, .. }) => {
            Err(e)
        }
        Err(other) => Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        )),
    }
}

/// One recipient's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Sending,
    Sent,
    Deferred,
    Failed,
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Deferred => "deferred",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "queued" => State::Queued,
            "sending" => State::Sending,
            "sent" => State::Sent,
            "deferred" => State::Deferred,
            "failed" => State::Failed,
            "unknown" => State::Unknown,
            _ => return None,
        })
    }
}

/// Makes `rows` (row number, address as written) the campaign's current recipient list.
///
/// Delivery state is keyed by the person's normalised address
/// ([`crate::recipients::address_key`]), not by row: a person already known keeps their
/// state (a sent, failed or unknown person is never queued again, whatever their row is
/// now) and only their current row and spelling are updated; a new person is added as
/// `queued`. People no longer in `rows` keep their state for the report but lose their
/// row, so they are never due. Returns how many people were added.
pub fn enqueue(
    conn: &Connection,
    campaign_id: &str,
    rows: &[(u64, String)],
    now: i64,
) -> rusqlite::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    let mut added = 0;
    {
        // Rows first forgotten, then given again: a row number passes from one person to
        // another in a re-exported file without ever naming two people at once.
        tx.execute(
            "UPDATE deliveries SET row = NULL WHERE campaign_id = ?1 AND row IS NOT NULL",
            params![campaign_id],
        )?;
        let mut known = tx.prepare_cached(
            "UPDATE deliveries SET row = ?3, email = ?4 WHERE campaign_id = ?1 AND address = ?2",
        )?;
        let mut add = tx.prepare_cached(
            "INSERT INTO deliveries (campaign_id, address, row, email, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
        )?;
        for (row, email) in rows {
            let key = crate::recipients::address_key(email);
            if known.execute(params![campaign_id, key, *row as i64, email])? == 0 {
                added += add.execute(params![campaign_id, key, *row as i64, email, now])?;
            }
        }
    }
    tx.commit()?;
    Ok(added)
}

/// Keeps each recipient's consent basis with the campaign's delivery records
/// (`consent_records`, keyed by campaign and normalised address like `deliveries`): the
/// record 特定電子メール法 法第3条第2項 asks for, kept until at least one month after the
/// last mail (施行規則第4条第2項). A basis already recorded keeps its first time; a new
/// basis for the same person adds a row. Returns how many rows were added.
pub fn record_consent(
    conn: &Connection,
    campaign_id: &str,
    bases: &[(String, &str)],
    now: i64,
) -> rusqlite::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    let mut added = 0;
    {
        let mut add = tx.prepare_cached(
            "INSERT INTO consent_records (campaign_id, address, basis, recorded_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?;
        for (address, basis) in bases {
            added += add.execute(params![
                campaign_id,
                crate::recipients::address_key(address),
                basis,
                now
            ])?;
        }
    }
    tx.commit()?;
    Ok(added)
}

/// The consent bases recorded for `campaign_id`, as `(address, basis)` by address.
pub fn consent_records(
    conn: &Connection,
    campaign_id: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, basis FROM consent_records WHERE campaign_id = ?1 ORDER BY address, basis",
    )?;
    let rows = stmt.query_map(params![campaign_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Moves every row left in `sending` by a crash to `unknown` (see the module docs for
/// why not `queued`). Returns how many rows were moved.
pub fn recover_interrupted(
    conn: &Connection,
    campaign_id: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE deliveries SET state = 'unknown', updated_at = ?2,
             reply_text = 'interrupted while handing the message to the relay; it may or may not have been delivered'
         WHERE campaign_id = ?1 AND state = 'sending'",
        params![campaign_id, now],
    )
}

/// The operator's explicit decision to send `unknown` rows again. Each requeued
/// recipient MAY receive the message twice (the relay may already have queued it).
/// Returns the number of rows requeued; rows not in `unknown` are left alone.
pub fn requeue_unknown(
    conn: &Connection,
    campaign_id: &str,
    rows: &[u64],
    now: i64,
) -> rusqlite::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE deliveries SET state = 'queued', next_attempt_at = NULL, updated_at = ?3
             WHERE campaign_id = ?1 AND row = ?2 AND state = 'unknown'",
        )?;
        for row in rows {
            n += stmt.execute(params![campaign_id, *row as i64, now])?;
        }
    }
    tx.commit()?;
    if n > 0 {
        tracing::warn!(
            campaign_id,
            requeued = n,
            "unknown rows requeued by the operator: these recipients may receive the message twice"
        );
    }
    Ok(n)
}

/// A row that may be sent now.
#[derive(Debug, Clone)]
pub struct Due {
    pub row: u64,
    pub email: String,
    pub attempts: u32,
    /// The row is `deferred` (a retry), not `queued`.
    pub deferred: bool,
}

/// Up to `limit` rows that may be sent at `now`: queued ones, and deferred ones whose
/// back-off has passed, in row order.
pub fn due_rows(
    conn: &Connection,
    campaign_id: &str,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT row, email, attempts, state = 'deferred' FROM deliveries
         WHERE campaign_id = ?1 AND row IS NOT NULL
           AND (state = 'queued' OR (state = 'deferred' AND next_attempt_at <= ?2))
         ORDER BY row LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![campaign_id, now, limit as i64], |r| {
        Ok(Due {
            row: r.get::<_, i64>(0)? as u64,
            email: r.get(1)?,
            attempts: r.get::<_, i64>(2)? as u32,
            deferred: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// The earliest time a deferred row becomes due, if any is waiting.
pub fn next_deferred_at(conn: &Connection, campaign_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MIN(next_attempt_at) FROM deliveries
         WHERE campaign_id = ?1 AND state = 'deferred' AND row IS NOT NULL",
        params![campaign_id],
        |r| r.get(0),
    )
}

/// What the relay said about one message, as it is written to the row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        code: u16,
        text: String,
        queue_id: Option<String>,
    },
    /// 4xx: retry at `next_attempt_at`, or give up (→ failed) if `give_up`.
    Deferred {
        code: u16,
        text: String,
        next_attempt_at: i64,
        give_up: bool,
    },
    Failed {
        code: Option<u16>,
        text: String,
    },
    Unknown {
        text: String,
    },
    /// Not handed over to the relay at all (connection/TLS/auth failed first).
    NotSent {
        text: String,
    },
}

impl Outcome {
    /// The state [`record`] puts the row in.
    pub fn state(&self) -> State {
        match self {
            Outcome::Sent { .. } => State::Sent,
            Outcome::Deferred { give_up: true, .. } => State::Failed,
            Outcome::Deferred { .. } => State::Deferred,
            Outcome::Failed { .. } => State::Failed,
            Outcome::Unknown { .. } => State::Unknown,
            Outcome::NotSent { .. } => State::Queued,
        }
    }
}

/// Writes one outcome for a row that is `sending`.
pub fn record(
    tx: &Connection,
    campaign_id: &str,
    row: u64,
    outcome: &Outcome,
    now: i64,
) -> rusqlite::Result<()> {
    let state = outcome.state().as_str();
    let (code, text, queue_id, next): (Option<u16>, &str, Option<&str>, Option<i64>) = match outcome
    {
        Outcome::Sent {
            code,
            text,
            queue_id,
        } => (Some(*code), text, queue_id.as_deref(), None),
        Outcome::Deferred {
            code,
            text,
            give_up: true,
            ..
        } => (Some(*code), text, None, None),
        Outcome::Deferred {
            code,
            text,
            next_attempt_at,
            ..
        } => (Some(*code), text, None, Some(*next_attempt_at)),
        Outcome::Failed { code, text } => (*code, text, None, None),
        Outcome::Unknown { text } => (None, text, None, None),
        Outcome::NotSent { text } => (None, text, None, None),
    };
    // A row that was never handed over does not count as an attempt.
    let undo_attempt = i64::from(matches!(outcome, Outcome::NotSent { .. }));
    tx.prepare_cached(
        "UPDATE deliveries SET state = ?3, reply_code = ?4, reply_text = ?5, queue_id = ?6,
             next_attempt_at = ?7, attempts = attempts - ?8, updated_at = ?9
         WHERE campaign_id = ?1 AND row = ?2 AND state = 'sending'",
    )?
    .execute(params![
        campaign_id,
        row as i64,
        state,
        code,
        text,
        queue_id,
        next,
        undo_attempt,
        now
    ])?;
    Ok(())
}

/// Marks a row `sending` (one more attempt) with the Message-ID about to be sent.
pub fn mark_sending(
    tx: &Connection,
    campaign_id: &str,
    row: u64,
    message_id: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE deliveries SET state = 'sending', message_id = ?3, attempts = attempts + 1, updated_at = ?4
             WHERE campaign_id = ?1 AND row = ?2 AND state IN ('queued','deferred')",
        )?
        .execute(params![campaign_id, row as i64, message_id, now])?;
    Ok(n == 1)
}

/// Marks a row failed before sending because its message could not be built; `false`
/// if the row was no longer queued or deferred.
pub fn mark_unbuildable(
    tx: &Connection,
    campaign_id: &str,
    row: u64,
    why: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE deliveries SET state = 'failed', reply_code = NULL, reply_text = ?3, updated_at = ?4
             WHERE campaign_id = ?1 AND row = ?2 AND state IN ('queued','deferred')",
        )?
        .execute(params![campaign_id, row as i64, why, now])?;
    Ok(n == 1)
}

/// Counts per state for one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
    pub unknown: u64,
}

impl Counts {
    fn slot(&mut self, state: State) -> &mut u64 {
        match state {
            State::Queued => &mut self.queued,
            State::Sending => &mut self.sending,
            State::Sent => &mut self.sent,
            State::Deferred => &mut self.deferred,
            State::Failed => &mut self.failed,
            State::Unknown => &mut self.unknown,
        }
    }

    /// One row moved from `from` to `to`: the engine keeps its counts this way instead
    /// of counting the campaign's rows in the database after every reply, which cost
    /// a scan of the whole campaign per reply (quadratic in its size).
    pub fn moved(&mut self, from: State, to: State) {
        let from = self.slot(from);
        *from = from.saturating_sub(1);
        *self.slot(to) += 1;
    }

    pub fn total(&self) -> u64 {
        self.queued + self.sending + self.sent + self.deferred + self.failed + self.unknown
    }
}

pub fn counts(conn: &Connection, campaign_id: &str) -> rusqlite::Result<Counts> {
    let mut c = Counts::default();
    let mut stmt = conn.prepare_cached(
        "SELECT state, COUNT(*) FROM deliveries WHERE campaign_id = ?1 GROUP BY state",
    )?;
    let mut rows = stmt.query(params![campaign_id])?;
    while let Some(r) = rows.next()? {
        let n = r.get::<_, i64>(1)? as u64;
        match State::parse(&r.get::<_, String>(0)?) {
            Some(State::Queued) => c.queued = n,
            Some(State::Sending) => c.sending = n,
            Some(State::Sent) => c.sent = n,
            Some(State::Deferred) => c.deferred = n,
            Some(State::Failed) => c.failed = n,
            Some(State::Unknown) => c.unknown = n,
            None => {}
        }
    }
    Ok(c)
}

/// One line of the final report: one person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// The person's row in the recipient file the campaign was last enqueued from; 0 when
    /// they are no longer in it (what they were sent stays on the report).
    pub row: u64,
    pub email: String,
    pub state: State,
    pub message_id: Option<String>,
    pub attempts: u32,
    pub reply_code: Option<u16>,
    pub reply_text: Option<String>,
    pub queue_id: Option<String>,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
    /// The 特定電子メール法 consent basis (or bases, space-separated) recorded for the
    /// person ([`record_consent`]); `None` for a campaign that is not advertising.
    pub consent_basis: Option<String>,
}

/// The final report: every person of the campaign, those in the current recipient file
/// in row order, then those no longer in it (row 0) by address. Each line's address
/// and state belong to the same person, whatever order the file was exported in.
pub fn report(conn: &Connection, campaign_id: &str) -> rusqlite::Result<Vec<ReportRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT row, email, state, message_id, attempts, reply_code, reply_text, queue_id, updated_at,
                (SELECT group_concat(basis, ' ') FROM
                    (SELECT basis FROM consent_records c
                     WHERE c.campaign_id = d.campaign_id AND c.address = d.address
                     ORDER BY basis))
         FROM deliveries d WHERE campaign_id = ?1 ORDER BY row IS NULL, row, address",
    )?;
    let rows = stmt.query_map(params![campaign_id], |r| {
        let state: String = r.get(2)?;
        Ok(ReportRow {
            row: r.get::<_, Option<i64>>(0)?.unwrap_or(0) as u64,
            email: r.get(1)?,
            state: State::parse(&state).unwrap_or(State::Unknown),
            message_id: r.get(3)?,
            attempts: r.get::<_, i64>(4)? as u32,
            reply_code: r.get::<_, Option<i64>>(5)?.map(|c| c as u16),
            reply_text: r.get(6)?,
            queue_id: r.get(7)?,
            updated_at: r.get(8)?,
            consent_basis: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// Writes the report as CSV; every cell goes through [`crate::export::escape_formula`]
/// because reply texts come from a remote server and addresses from the user's file.
pub fn write_report_csv<W: std::io::Write>(rows: &[ReportRow], out: W) -> csv::Result<()> {
    use crate::export::escape_formula;
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "row",
        "email",
        "state",
        "message_id",
        "attempts",
        "reply_code",
        "reply_text",
        "queue_id",
        "updated_at",
        "consent_basis",
    ])?;
    for r in rows {
        let cells = [
            r.row.to_string(),
            r.email.clone(),
            r.state.as_str().to_string(),
            r.message_id.clone().unwrap_or_default(),
            r.attempts.to_string(),
            r.reply_code.map(|c| c.to_string()).unwrap_or_default(),
            r.reply_text.clone().unwrap_or_default(),
            r.queue_id.clone().unwrap_or_default(),
            // ISO 8601 with its offset (UTC), which a spreadsheet reads as a time.
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.updated_at) * 1_000_000)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| r.updated_at.to_string()),
            r.consent_basis.clone().unwrap_or_default(),
        ];
        w.write_record(cells.iter().map(|c| escape_formula(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

/// Records one send against a relay's quota (same transaction as `mark_sending`).
pub fn record_quota(tx: &Connection, relay_key: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO send_quota (relay_key, at) VALUES (?1, ?2)")?
        .execute(params![relay_key, now])?;
    Ok(())
}

/// How many sends the relay has seen in `[since, ∞)`, across all campaigns.
pub fn quota_used_since(conn: &Connection, relay_key: &str, since: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM send_quota WHERE relay_key = ?1 AND at >= ?2")?
        .query_row(params![relay_key, since], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// The time of the `nth` most recent send (1 = latest) at or after `since`.
pub fn quota_nth_latest(
    conn: &Connection,
    relay_key: &str,
    since: i64,
    nth: u64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT at FROM send_quota WHERE relay_key = ?1 AND at >= ?2 ORDER BY at DESC LIMIT 1 OFFSET ?3")?
        .query_row(params![relay_key, since, nth.saturating_sub(1) as i64], |r| r.get(0))
        .optional()
}

/// Forgets ledger entries older than a day and a bit; no window looks further back.
pub fn prune_quota(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM send_quota WHERE at < ?1",
        params![now - 2 * 86_400_000],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        migrate(&c).unwrap();
        c
    }

    #[test]
    fn consent_bases_are_kept_and_cannot_be_deleted() {
        let c = db();
        let bases = [
            ("A@x.test".to_owned(), "consent"),
            ("b@x.test".to_owned(), "transaction"),
        ];
        assert_eq!(record_consent(&c, "c1", &bases, 1).unwrap(), 2);
        assert_eq!(record_consent(&c, "c1", &bases, 2).unwrap(), 0, "kept once");
        record_consent(&c, "c1", &[("a@x.test".to_owned(), "business_card")], 3).unwrap();
        assert_eq!(
            consent_records(&c, "c1").unwrap(),
            [
                ("a@x.test".to_owned(), "business_card".to_owned()),
                ("a@x.test".to_owned(), "consent".to_owned()),
                ("b@x.test".to_owned(), "transaction".to_owned()),
            ]
        );
        enqueue(
            &c,
            "c1",
            &[(1, "a@x.test".into()), (2, "z@x.test".into())],
            0,
        )
        .unwrap();
        let lines = report(&c, "c1").unwrap();
        assert_eq!(
            lines[0].consent_basis.as_deref(),
            Some("business_card consent"),
            "the delivery record shows the basis"
        );
        assert_eq!(lines[1].consent_basis, None);
        let e = c.execute("DELETE FROM consent_records", []).unwrap_err();
        assert!(e.to_string().contains("kept"), "{e}");
        assert!(record_consent(&c, "c1", &[("c@x.test".to_owned(), "maybe")], 4).is_err());
    }

    #[test]
    fn enqueue_again_keeps_state() {
        let c = db();
        enqueue(
            &c,
            "c1",
            &[(1, "a@x.test".into()), (2, "b@x.test".into())],
            0,
        )
        .unwrap();
        assert!(mark_sending(&c, "c1", 1, "<m1@x>", 1).unwrap());
        record(
            &c,
            "c1",
            1,
            &Outcome::Sent {
                code: 250,
                text: "ok".into(),
                queue_id: Some("Q1".into()),
            },
            2,
        )
        .unwrap();
        assert_eq!(
            enqueue(
                &c,
                "c1",
                &[(1, "a@x.test".into()), (3, "c@x.test".into())],
                3
            )
            .unwrap(),
            1
        );
        let r = report(&c, "c1").unwrap();
        assert_eq!(
            r.iter().map(|r| r.state).collect::<Vec<_>>(),
            [State::Sent, State::Queued, State::Queued]
        );
        assert_eq!(r[0].queue_id.as_deref(), Some("Q1"));
    }

    #[test]
    fn crash_leftover_sending_becomes_unknown_and_only_operator_requeues() {
        let c = db();
        enqueue(
            &c,
            "c1",
            &[(1, "a@x.test".into()), (2, "b@x.test".into())],
            0,
        )
        .unwrap();
        mark_sending(&c, "c1", 1, "<m1@x>", 1).unwrap();
        assert_eq!(recover_interrupted(&c, "c1", 5).unwrap(), 1);
        assert_eq!(
            due_rows(&c, "c1", 10, 10)
                .unwrap()
                .iter()
                .map(|d| d.row)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(requeue_unknown(&c, "c1", &[1, 2], 6).unwrap(), 1);
        assert_eq!(due_rows(&c, "c1", 10, 10).unwrap().len(), 2);
    }

    #[test]
    fn deferred_waits_for_back_off_and_not_sent_is_not_an_attempt() {
        let c = db();
        enqueue(&c, "c1", &[(1, "a@x.test".into())], 0).unwrap();
        mark_sending(&c, "c1", 1, "<m1@x>", 1).unwrap();
        record(
            &c,
            "c1",
            1,
            &Outcome::Deferred {
                code: 451,
                text: "later".into(),
                next_attempt_at: 100,
                give_up: false,
            },
            2,
        )
        .unwrap();
        assert!(due_rows(&c, "c1", 99, 10).unwrap().is_empty());
        assert_eq!(next_deferred_at(&c, "c1").unwrap(), Some(100));
        let due = due_rows(&c, "c1", 100, 10).unwrap();
        assert_eq!(due[0].attempts, 1);
        mark_sending(&c, "c1", 1, "<m1@x>", 101).unwrap();
        record(
            &c,
            "c1",
            1,
            &Outcome::NotSent {
                text: "no connection".into(),
            },
            102,
        )
        .unwrap();
        assert_eq!(report(&c, "c1").unwrap()[0].attempts, 1);
        assert_eq!(report(&c, "c1").unwrap()[0].state, State::Queued);
    }

    #[test]
    fn report_csv_neutralises_formulas() {
        let c = db();
        enqueue(&c, "c1", &[(1, "=cmd@x.test".into())], 0).unwrap();
        mark_sending(&c, "c1", 1, "<m1@x>", 1).unwrap();
        record(
            &c,
            "c1",
            1,
            &Outcome::Failed {
                code: Some(550),
                text: "-bad user".into(),
            },
            2,
        )
        .unwrap();
        let mut out = Vec::new();
        write_report_csv(&report(&c, "c1").unwrap(), &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.contains("'=cmd@x.test") && s.contains("'-bad user"),
            "{s}"
        );
        // The time is ISO 8601 with its offset, not Unix milliseconds.
        assert!(s.contains("1970-01-01T00:00:00.002Z"), "{s}");
    }

    #[test]
    fn migrate_is_idempotent_and_matches_the_store_version() {
        let c = db();
        migrate(&c).unwrap();
        let versions: Vec<u32> = c
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions.last().copied(), Some(crate::store::SCHEMA_VERSION));
        assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8]);
        // A file prepared here is one the store opens without re-applying anything.
        let dir = tempfile::tempdir().unwrap();
        {
            let f = Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
            migrate(&f).unwrap();
            enqueue(&f, "c1", &[(1, "a@x.test".into())], 0).unwrap();
        }
        let store =
            crate::store::Store::open_with(dir.path(), &crate::secrets::install::MemoryKeys::new())
                .unwrap();
        assert_eq!(
            store.applied_migrations().unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn a_bare_legacy_state_file_upgrades() {
        // Files made before the schema joined the store: send tables, no ledger.
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATION).unwrap();
        c.execute(
            "INSERT INTO deliveries (campaign_id, row, email, state, updated_at)
             VALUES ('c1', 1, ' A@X.test', 'queued', 0)",
            [],
        )
        .unwrap();
        migrate(&c).unwrap();
        assert_eq!(counts(&c, "c1").unwrap().queued, 1);
        // The migrated entry is found by the person's key, not added a second time.
        assert_eq!(enqueue(&c, "c1", &[(7, "a@x.test".into())], 1).unwrap(), 0);
        assert_eq!(report(&c, "c1").unwrap()[0].row, 7);
    }

    #[test]
    fn migration_keeps_the_most_telling_entry_of_an_address_on_two_rows() {
        // A row-keyed resume after a reorder could leave one person on two rows: the
        // migrated state must say "sent", or they would be mailed a third time.
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATION).unwrap();
        c.execute_batch(
            "INSERT INTO deliveries (campaign_id, row, email, state, updated_at) VALUES
               ('c1', 2, 'a@x.test', 'queued', 0),
               ('c1', 5, 'A@x.test', 'sent', 0),
               ('c1', 3, 'b@x.test', 'unknown', 0)",
        )
        .unwrap();
        migrate(&c).unwrap();
        let r = report(&c, "c1").unwrap();
        assert_eq!(r.len(), 2);
        let a = r
            .iter()
            .find(|r| r.email.eq_ignore_ascii_case("a@x.test"))
            .unwrap();
        assert_eq!((a.row, a.state), (5, State::Sent));
    }

    #[test]
    fn a_reordered_file_with_an_inserted_row_keeps_each_person_state() {
        let c = db();
        let first: Vec<(u64, String)> = vec![
            (2, "a@x.test".into()),
            (3, "b@x.test".into()),
            (4, "c@x.test".into()),
        ];
        enqueue(&c, "c1", &first, 0).unwrap();
        for row in [2, 3] {
            mark_sending(&c, "c1", row, "<m@x>", 1).unwrap();
        }
        record(
            &c,
            "c1",
            2,
            &Outcome::Sent {
                code: 250,
                text: "ok".into(),
                queue_id: None,
            },
            2,
        )
        .unwrap();
        recover_interrupted(&c, "c1", 3).unwrap(); // b was in flight: unknown
                                                   // Re-exported: c first, a new person d, then B (another spelling), then a.
        let second: Vec<(u64, String)> = vec![
            (2, "c@x.test".into()),
            (3, "d@x.test".into()),
            (4, "B@X.test".into()),
            (5, "a@x.test".into()),
        ];
        assert_eq!(enqueue(&c, "c1", &second, 4).unwrap(), 1);
        let due: Vec<u64> = due_rows(&c, "c1", 10, 10)
            .unwrap()
            .iter()
            .map(|d| d.row)
            .collect();
        assert_eq!(due, [2, 3], "only c and d are due; a is sent, b unknown");
        let r = report(&c, "c1").unwrap();
        let line: Vec<(u64, &str, State)> = r
            .iter()
            .map(|r| (r.row, r.email.as_str(), r.state))
            .collect();
        assert_eq!(
            line,
            [
                (2, "c@x.test", State::Queued),
                (3, "d@x.test", State::Queued),
                (4, "B@X.test", State::Unknown),
                (5, "a@x.test", State::Sent),
            ]
        );
        // A person deleted from the file is never due, but stays on the report.
        enqueue(&c, "c1", &[(2, "d@x.test".into())], 5).unwrap();
        assert_eq!(due_rows(&c, "c1", 10, 10).unwrap().len(), 1);
        let r = report(&c, "c1").unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].row, r[0].email.as_str()), (2, "d@x.test"));
        assert!(r[1..].iter().all(|r| r.row == 0));
        // Requeueing by row reaches only current people.
        assert_eq!(requeue_unknown(&c, "c1", &[0, 4], 6).unwrap(), 0);
    }

    #[test]
    fn state_check_constraint_rejects_unknown_words() {
        let c = db();
        enqueue(&c, "c1", &[(1, "a@x.test".into())], 0).unwrap();
        assert!(c
            .execute("UPDATE deliveries SET state = 'delivered'", [])
            .is_err());
    }
}
