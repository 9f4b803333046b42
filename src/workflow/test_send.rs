//! `test_send`: the one path to a relay without an approval. One "[TEST]" copy, and
//! only to the signed-in operator's own mailbox (kept on the operator record by an
//! admin) or to a domain on the admin's internal list. Nothing in the campaign file
//! widens this: its sender domain is written by whoever prepares the campaign.

use std::time::SystemTime;

use serde_json::json;
use time::OffsetDateTime;

use super::{dkim_signer, log, smtp_relay, Prepared, RelayLogin, UserError};
use crate::audit::{self, Kind};
use crate::compose::Composer;
use crate::error::ErrorCode;
use crate::operators::{self, Role, Session};
use crate::preflight::campaign::snapshot_draft;
use crate::recipients::address_key;
use crate::secrets::Secret;
use crate::send::{self, Relay, SmtpRelay};
use crate::store::Store;

/// The settings key of the admin's internal domains (comma-separated, lower case).
pub const TEST_DOMAINS_KEY: &str = "test_send_domains";

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

fn db(e: impl std::fmt::Display) -> UserError {
    UserError::new(
        ErrorCode::Database,
        format!("the local database failed: {e}"),
    )
}

/// The internal domains an admin allows test copies to (empty: only each operator's
/// own address).
pub fn test_domains(store: &Store) -> Result<Vec<String>, UserError> {
    Ok(store
        .setting(TEST_DOMAINS_KEY)
        .map_err(|e| UserError::new(e.code(), e.to_string()))?
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

fn normalise_domain(d: &str) -> Result<String, UserError> {
    let d = d
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(UserError::new(
            ErrorCode::InvalidInput,
            format!("\"{d}\" is not a domain name (for example example.co.jp)"),
        ));
    }
    Ok(d)
}

/// An admin sets the internal domains test copies may go to (replacing the list; an
/// empty list allows only each operator's own address). Logged.
pub fn set_test_domains(
    store: &Store,
    by: &Session,
    domains: &[String],
    now: OffsetDateTime,
) -> Result<Vec<String>, UserError> {
    let mut list = domains
        .iter()
        .map(|d| normalise_domain(d))
        .collect::<Result<Vec<_>, _>>()?;
    list.sort();
    list.dedup();
    let value = list.join(",");
    let refused = |e: operators::Error| match e {
        operators::Error::MissingRole { .. } | operators::Error::Disabled(_) => UserError::new(
            ErrorCode::Forbidden,
            "only an admin may change where test copies may go",
        ),
        e => UserError::new(e.code(), e.to_string()),
    };
    operators::authorize(store, by, Role::Admin, now).map_err(refused)?;
    store.transaction(|tx| {
        operators::authorize_in(tx, by, &[Role::Admin]).map_err(refused)?;
        crate::store::put_setting(tx, TEST_DOMAINS_KEY, &value).map_err(db)?;
        audit::append_in(
            tx,
            now,
            by.operator(),
            Kind::SettingsChanged,
            None,
            &json!({"setting": TEST_DOMAINS_KEY, "value": list}),
        )
        .map_err(|e| UserError::new(e.code(), e.to_string()))?;
        Ok::<_, UserError>(())
    })?;
    Ok(list)
}

/// An admin records an operator's own mailbox (`None` clears it): the address their
/// test copies may go to.
pub fn set_operator_email(
    store: &Store,
    by: &Session,
    name: &str,
    address: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), UserError> {
    if let Some(a) = address {
        a.trim().parse::<lettre::Address>().map_err(|_| {
            UserError::new(
                ErrorCode::InvalidInput,
                format!("\"{}\" is not an e-mail address", a.trim()),
            )
        })?;
    }
    operators::set_email(store, by, name, address.map(str::trim), now)
        .map_err(|e| UserError::new(e.code(), e.to_string()))
}

/// Whether `session`'s operator may send a test copy to `to`: their own recorded
/// address, or an address at one of the admin's internal domains.
fn allowed_test_address(
    store: &Store,
    session: &Session,
    to: &lettre::Address,
) -> Result<(), UserError> {
    let own = operators::email(store, session.operator())
        .map_err(|e| UserError::new(e.code(), e.to_string()))?;
    if own.as_deref() == Some(address_key(to.as_ref()).as_str()) {
        return Ok(());
    }
    let domain = to.domain().trim_end_matches('.').to_lowercase();
    if test_domains(store)?.contains(&domain) {
        return Ok(());
    }
    let own = match own {
        Some(a) => format!("your own address {a}"),
        None => "your own address (an admin has not recorded one for you yet: \
                 mergeguard operator set-email)"
            .to_owned(),
    };
    Err(UserError::new(
        ErrorCode::Forbidden,
        format!(
            "a test copy goes only to {own} or to an internal domain an admin allowed \
             (mergeguard settings set --test-domains), never to a customer; {to} is neither"
        ),
    ))
}

/// Sends one copy of row `row`'s personalised message to `to` through the campaign's real
/// relay (SPEC §3), with "[TEST] " before the subject, signed with the campaign's DKIM key
/// if it has one. No approval is needed because the copy can only go to the signed-in
/// operator's own recorded address or an admin's internal domain (never derived from the
/// campaign file). The copy is built from the checked bytes, addressed to `to` alone (the
/// customer's address is replaced in the merge fields too) and is logged.
pub fn test_send(
    store: &Store,
    prepared: &Prepared,
    session: &Session,
    row: u64,
    to: &str,
    password: Option<Secret>,
) -> Result<TestSent, UserError> {
    match operators::authorize(store, session, Role::Sender, OffsetDateTime::now_utc()) {
        Ok(_) => {}
        Err(operators::Error::MissingRole { .. } | operators::Error::Disabled(_)) => {
            return Err(UserError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} cannot send a test: it needs the sender role",
                    session.operator()
                ),
            ))
        }
        Err(e) => return Err(UserError::new(e.code(), e.to_string())),
    }
    let campaign = &prepared.campaign;
    let to = to.trim();
    let address: lettre::Address = to.parse().map_err(|_| {
        UserError::new(
            ErrorCode::InvalidInput,
            format!("\"{to}\" is not an e-mail address"),
        )
    })?;
    allowed_test_address(store, session, &address)?;
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
    let mut draft = snapshot_draft(&prepared.snapshot)?;
    draft.subject = format!("[TEST] {}", draft.subject);
    draft.unsubscribe_key = Some(crate::unsubscribe::UnsubscribeKey::of(store));
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
    let signer = dkim_signer(campaign, &prepared.snapshot)?;
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            UserError::new(ErrorCode::Internal, format!("cannot start the sender: {e}"))
        })?;
    let tokens = runtime.block_on(super::oauth_relay_tokens(store, campaign))?;
    let login = RelayLogin::of(tokens, campaign, password)?;
    let relay = smtp_relay(campaign, &prepared.snapshot, login)?;
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
