//! The suppression list: addresses that must not be mailed again, because the person
//! unsubscribed, the relay said the mailbox does not exist, or an operator said so.
//!
//! The list lives in the store and feeds every import of a campaign's recipients
//! ([`crate::preflight::campaign::CheckOptions::suppressed`]): a row with a listed address
//! is rejected as `suppressed`, so it is neither previewed, nor approved, nor sent. As
//! the approval fingerprint covers the recipients, adding an address after approval
//! changes the fingerprint and the send refuses until the campaign is approved again.
//!
//! Who may change it: any active sender or admin adds (an unsubscribe request must not
//! wait for an admin); only an admin removes, since removing one re-opens mail to a
//! person who asked for none. Every change is logged with its count and reason; the
//! addresses themselves stay out of the log.

use std::collections::HashSet;
use std::str::FromStr;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{self, Kind};
use crate::error::{ErrorCode, UserError};
use crate::operators::{self, Role, Session};
use crate::recipients::address_key;
use crate::store::Store;

/// Why an address is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The person asked not to be mailed (a List-Unsubscribe mail or click, a phone call).
    Unsubscribed,
    /// The relay refused the mailbox as nonexistent (5.1.x), recorded by a send.
    Bounced,
    /// An operator's decision.
    Manual,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "unsubscribed",
            Reason::Bounced => "bounced",
            Reason::Manual => "manual",
        }
    }
}

impl FromStr for Reason {
    type Err = String;
    fn from_str(s: &str) -> Result<Reason, String> {
        match s {
            "unsubscribed" => Ok(Reason::Unsubscribed),
            "bounced" => Ok(Reason::Bounced),
            "manual" => Ok(Reason::Manual),
            other => Err(format!(
                "unknown reason \"{other}\": use unsubscribed, bounced or manual"
            )),
        }
    }
}

/// One suppressed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub address: String,
    pub reason: String,
    pub added_at: String,
    pub added_by: String,
    pub campaign: Option<String>,
}

/// Who records a bounce: not an operator, the relay's own answer.
pub const RELAY: &str = "relay";

fn db_error(e: impl std::fmt::Display) -> UserError {
    UserError::new(
        ErrorCode::Database,
        format!("the suppression list could not be read or written: {e}"),
    )
}

fn log_error(e: audit::Error) -> UserError {
    UserError::new(
        e.code(),
        format!("the suppression list was not changed: {e}"),
    )
}

/// The refusal of [`operators::authorize_in`] in this module's words.
fn refusal(by: &Session, what: &str, e: operators::Error) -> UserError {
    match e {
        operators::Error::MissingRole { .. } | operators::Error::Disabled(_) => UserError::new(
            ErrorCode::Forbidden,
            format!("{} cannot {what}", by.operator()),
        ),
        other => UserError::new(other.code(), other.to_string()),
    }
}

/// Why a change of the list failed inside its transaction.
enum ChangeError {
    Access(operators::Error),
    Log(audit::Error),
}

impl From<rusqlite::Error> for ChangeError {
    fn from(e: rusqlite::Error) -> Self {
        ChangeError::Log(audit::Error::Sql(e))
    }
}

impl From<audit::Error> for ChangeError {
    fn from(e: audit::Error) -> Self {
        ChangeError::Log(e)
    }
}

/// The keys of `addresses`, refusing anything that is not one address.
fn keys_of(addresses: &[String]) -> Result<Vec<String>, UserError> {
    let mut keys = Vec::with_capacity(addresses.len());
    for a in addresses {
        let key = address_key(a);
        let ok = key.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !key.contains(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>'))
        });
        if !ok {
            return Err(UserError::new(
                ErrorCode::InvalidInput,
                format!("\"{a}\" is not one e-mail address; nothing was added"),
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Adds `addresses` (already listed ones keep their first reason). Returns how many were
/// new. All or nothing: one bad address adds none.
pub fn add(
    store: &Store,
    by: &Session,
    addresses: &[String],
    reason: Reason,
    now: OffsetDateTime,
) -> Result<usize, UserError> {
    let keys = keys_of(addresses)?;
    let who = (by, &[Role::Sender, Role::Admin][..]);
    insert(store, &keys, reason, by.operator(), None, Some(who), now)
}

/// Inserts `keys`; with `who`, first re-checks in the same transaction that the operator
/// still holds one of the roles ([`operators::authorize_in`]).
fn insert(
    store: &Store,
    keys: &[String],
    reason: Reason,
    added_by: &str,
    campaign: Option<&str>,
    who: Option<(&Session, &[Role])>,
    now: OffsetDateTime,
) -> Result<usize, UserError> {
    let at = audit::format_time(now).map_err(log_error)?;
    store
        .transaction(|tx| {
            if let Some((by, roles)) = who {
                operators::authorize_in(tx, by, roles).map_err(ChangeError::Access)?;
            }
            Ok::<_, ChangeError>(insert_in(tx, keys, reason, added_by, campaign, &at, now)?)
        })
        .map_err(|e| match (e, who) {
            (ChangeError::Access(e), Some((by, _))) => {
                refusal(by, "change the suppression list", e)
            }
            (ChangeError::Access(e), None) => UserError::new(e.code(), e.to_string()),
            (ChangeError::Log(e), _) => log_error(e),
        })
}

/// Inserts `keys` inside the caller's transaction and logs the count (never the
/// addresses). No role check: the callers are the relay's and the mailbox's own answers.
pub(crate) fn insert_in(
    tx: &crate::store::Tx<'_>,
    keys: &[String],
    reason: Reason,
    added_by: &str,
    campaign: Option<&str>,
    at: &str,
    now: OffsetDateTime,
) -> Result<usize, audit::Error> {
    let mut added = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO suppressions (address, reason, added_at, added_by, campaign)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for key in keys {
            added += stmt.execute(params![key, reason.as_str(), at, added_by, campaign])?;
        }
    }
    if added > 0 {
        audit::append_in(
            tx,
            now,
            added_by,
            Kind::SuppressionAdded,
            campaign,
            &json!({"reason": reason.as_str(), "count": added}),
        )?;
    }
    Ok(added)
}

/// Removes `addresses` from the list (admin only). Returns how many were listed.
pub fn remove(
    store: &Store,
    by: &Session,
    addresses: &[String],
    now: OffsetDateTime,
) -> Result<usize, UserError> {
    let keys = keys_of(addresses)?;
    store
        .transaction(|tx| {
            operators::authorize_in(tx, by, &[Role::Admin]).map_err(ChangeError::Access)?;
            let mut removed = 0;
            for key in &keys {
                removed += tx.execute("DELETE FROM suppressions WHERE address = ?1", [key])?;
            }
            if removed > 0 {
                audit::append_in(
                    tx,
                    now,
                    by.operator(),
                    Kind::SuppressionRemoved,
                    None,
                    &json!({"count": removed}),
                )?;
            }
            Ok::<_, ChangeError>(removed)
        })
        .map_err(|e| match e {
            ChangeError::Access(e) => refusal(
                by,
                "remove addresses from the suppression list (admin only)",
                e,
            ),
            ChangeError::Log(e) => log_error(e),
        })
}

/// Every listed address, oldest first.
pub fn list(store: &Store) -> Result<Vec<Entry>, UserError> {
    let conn = store.read();
    let mut stmt = conn
        .prepare("SELECT address, reason, added_at, added_by, campaign FROM suppressions ORDER BY added_at, address")
        .map_err(db_error)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Entry {
                address: r.get(0)?,
                reason: r.get(1)?,
                added_at: r.get(2)?,
                added_by: r.get(3)?,
                campaign: r.get(4)?,
            })
        })
        .map_err(db_error)?;
    rows.collect::<Result<_, _>>().map_err(db_error)
}

/// The listed addresses as the importer compares them.
pub fn keys(store: &Store) -> Result<HashSet<String>, UserError> {
    let conn = store.read();
    let mut stmt = conn
        .prepare("SELECT address FROM suppressions")
        .map_err(db_error)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    // Entries stored before the key folded IDN domains to their A-label are re-keyed
    // as they are read (an ASCII key is returned as it is).
    rows.map(|r| r.map(|a| address_key(&a)))
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

/// Whether `address` is listed.
pub fn contains(store: &Store, address: &str) -> Result<bool, UserError> {
    store
        .read()
        .query_row(
            "SELECT 1 FROM suppressions WHERE address = ?1",
            [address_key(address)],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(db_error)
}

/// Whether a relay's refusal says the mailbox does not exist: a 5xx reply with an
/// enhanced status 5.1.x (bad destination mailbox or domain). Refusals for policy or
/// content (5.7.x, 554 spam) are about the message, not the person, and do not suppress.
pub fn is_hard_bounce(code: Option<u16>, text: &str) -> bool {
    code.is_some_and(|c| (500..600).contains(&c))
        && text
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .any(|w| {
                w.starts_with("5.1.") && w[4..].chars().all(|c| c.is_ascii_digit()) && w.len() > 4
            })
}

/// Records the hard bounces of a campaign's send (rows `failed` with a 5.1.x reply) as
/// `bounced`, so the next import rejects them. Returns how many were new.
pub fn record_bounces(
    store: &Store,
    campaign_id: &str,
    now: OffsetDateTime,
) -> Result<usize, UserError> {
    let failed: Vec<(String, Option<u16>, String)> = {
        let conn = store.read();
        let mut stmt = conn
            .prepare(
                "SELECT email, reply_code, COALESCE(reply_text, '') FROM deliveries
                 WHERE campaign_id = ?1 AND state = 'failed'",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map([campaign_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)?
    };
    let keys: Vec<String> = failed
        .iter()
        .filter(|(_, code, text)| is_hard_bounce(*code, text))
        .map(|(email, _, _)| address_key(email))
        .collect();
    if keys.is_empty() {
        return Ok(0);
    }
    insert(
        store,
        &keys,
        Reason::Bounced,
        RELAY,
        Some(campaign_id),
        None,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_bounces_are_mailbox_errors_only() {
        assert!(is_hard_bounce(
            Some(550),
            "550 5.1.1 <a@x.test>: Recipient address rejected: User unknown"
        ));
        assert!(is_hard_bounce(
            Some(550),
            "5.1.10 RESOLVER.ADR.RecipientNotFound"
        ));
        assert!(!is_hard_bounce(
            Some(554),
            "554 5.7.1 Message rejected as spam"
        ));
        assert!(!is_hard_bounce(Some(451), "451 4.1.1 try later"));
        assert!(!is_hard_bounce(None, "5.1.1 but no code"));
        assert!(!is_hard_bounce(Some(550), "550 mailbox 5.1.x unknown"));
    }

    #[test]
    fn reasons_round_trip() {
        for r in [Reason::Unsubscribed, Reason::Bounced, Reason::Manual] {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
        }
        assert!("spam".parse::<Reason>().is_err());
    }
}
