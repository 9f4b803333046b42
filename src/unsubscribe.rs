//! Unsubscribe tokens: the per-recipient value put in place of `{token}` in a campaign's
//! List-Unsubscribe address or URL, and the check of a token that comes back.
//!
//! A token is the first 128 bits (32 hex digits) of HMAC-SHA256 under a key derived from
//! the per-install key (OS keychain, see `store::integrity`) over (campaign id, the
//! recipient's address key). Only this install can make one, so a token proves that this
//! install mailed that person in that campaign; the person it names is the one taken off,
//! whoever sends the request.
//!
//! Before issue 15 tokens were an unkeyed SHA-256 of the same inputs, which anyone can
//! compute. Such *legacy* tokens are still honoured for people mailed before this build
//! first opened the data folder (the time migration 0008 was applied), and only for
//! [`LEGACY_GRACE`] after their message was sent; every use is logged as legacy.
//!
//! A request counts only when it was sent to the campaign's own unsubscribe address: the
//! mailto address its List-Unsubscribe carried, which every send records in its
//! `send_start` log entry (`unsubscribe_mailto`, [`SEND_START_KEY`]). A valid token mailed
//! anywhere else (a reply to the newsletter that quotes it, a forward) is refused. The
//! comparison ignores case and a `+detail` in the local part, so
//! `unsubscribe+TOKEN@Shop.Test` is `unsubscribe@shop.test`. Campaigns sent before sends
//! recorded their address have nothing to compare with; their valid tokens are honoured
//! wherever they were mailed, as before (refusing them would drop opt-outs the law says
//! must be honoured).
//!
//! Architecture invariant: a token is checked only against deliveries this store
//! recorded as sent; a token that matches nothing changes nothing.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::error::{ErrorCode, UserError};
use crate::recipients::address_key;
use crate::store::Store;

/// How long after its message was sent an unkeyed (pre-issue-15) token is still honoured.
pub const LEGACY_GRACE: Duration = Duration::days(90);

/// What `{token}` becomes where no key is at hand (preview, checklist): not 32 hex digits,
/// so it can never be taken for a token.
pub const PREVIEW_TOKEN: &str = "preview-token";

/// The schema version whose application marks the switch to keyed tokens.
const KEYED_SINCE_MIGRATION: u32 = 8;

/// The key tokens are made with: HMAC of the install key, so the install key itself is
/// never used for two purposes. `Debug` prints `<redacted>`; no `Serialize`.
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(<redacted>)")
    }
}

impl UnsubscribeKey {
    /// The key of `store`'s install.
    pub fn of(store: &Store) -> UnsubscribeKey {
        let hex_mac = store.key().mac("mergeguard unsubscribe token key v1", &[]);
        let mut k = [0u8; 32];
        hex::decode_to_slice(hex_mac, &mut k).expect("an HMAC-SHA256 is 32 bytes");
        UnsubscribeKey(k)
    }

    /// A key from raw bytes, for tests and benchmarks that have no store.
    pub fn from_bytes(bytes: [u8; 32]) -> UnsubscribeKey {
        UnsubscribeKey(bytes)
    }

    /// The token for (campaign, recipient).
    pub fn token(&self, campaign_id: &str, email: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        for p in [campaign_id.as_bytes(), address_key(email).as_bytes()] {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        hex::encode(&m.finalize().into_bytes()[..16])
    }
}

/// The unkeyed token of releases before issue 15: the first 32 hex digits of
/// sha256(campaign_id NUL "unsubscribe" NUL lowercased email). Only checked, never issued.
pub fn legacy_token(campaign_id: &str, email: &str) -> String {
    let mut h = Sha256::new();
    h.update(campaign_id.as_bytes());
    h.update(b"\0unsubscribe\0");
    h.update(email.to_lowercase().as_bytes());
    hex::encode(h.finalize())[..32].to_owned()
}

/// Who a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub campaign_id: String,
    /// The recipient's address key (`recipients::address_key`).
    pub address: String,
    /// `false` for a legacy token honoured within its grace period.
    pub keyed: bool,
}

/// What a token that came back is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid(Issued),
    /// A legacy token of a delivery sent more than [`LEGACY_GRACE`] ago.
    LegacyExpired {
        campaign_id: String,
    },
    /// A valid token, mailed to an address that is not its campaign's unsubscribe address.
    WrongAddress {
        campaign_id: String,
    },
    /// Matches no delivery this install sent: forged, mistyped or from another install.
    Unknown,
}

/// The key of a `send_start` log entry's details that records the campaign's unsubscribe
/// mailto address (`{token}` unexpanded, no `mailto:` and no `?query`), or `null` when
/// its List-Unsubscribe has no mailto.
pub const SEND_START_KEY: &str = "unsubscribe_mailto";

/// The address part of a List-Unsubscribe mailto as a campaign writes it
/// (`mailto:unsubscribe+{token}@shop.test?subject=x` → `unsubscribe+{token}@shop.test`),
/// percent-decoded (RFC 6068 §2).
pub fn mailto_address(mailto: &str) -> String {
    let m = mailto.trim();
    let m = m
        .strip_prefix("mailto:")
        .or_else(|| m.strip_prefix("MAILTO:"))
        .unwrap_or(m);
    let addr = m.split('?').next().unwrap_or_default();
    let bytes = addr.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mailbox an address names, for comparing a request's recipient with an unsubscribe
/// address: the local part up to its first `+` and the domain, as
/// [`address_key`] compares addresses (case ignored, an internationalised domain in its
/// A-label form). `None` for something that is not an address.
fn mailbox_of(address: &str) -> Option<String> {
    let a = address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (local, domain) = a.rsplit_once('@')?;
    let base = local.split('+').next().unwrap_or_default();
    let domain = domain.trim_end_matches('.');
    if base.is_empty() || domain.is_empty() {
        return None;
    }
    Some(address_key(&format!("{base}@{domain}")))
}

/// Whether `recipient` (an address a request was mailed to) is the unsubscribe address
/// `template` (see [`mailto_address`]) with `token` in place of `{token}`. A `+detail` and
/// case do not matter: `unsubscribe+TOKEN@Shop.Test` is `unsubscribe@shop.test`.
pub fn is_unsubscribe_address(template: &str, token: &str, recipient: &str) -> bool {
    match (
        mailbox_of(&template.replace("{token}", token)),
        mailbox_of(recipient),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Every token this store's sent deliveries carry, built once per mailbox sync.
pub struct TokenIndex {
    /// token → (who, sent at in unix milliseconds).
    map: HashMap<String, (Issued, i64)>,
    /// campaign → the unsubscribe mailto addresses its sends recorded (empty: its
    /// List-Unsubscribe had no mailto). A campaign missing here was sent before sends
    /// recorded the address.
    addresses: HashMap<String, Vec<String>>,
    now: OffsetDateTime,
}

impl TokenIndex {
    /// Reads the sent deliveries and computes their tokens: keyed for all, legacy for
    /// those sent before keyed tokens existed.
    pub fn build(store: &Store, now: OffsetDateTime) -> Result<TokenIndex, UserError> {
        let key = UnsubscribeKey::of(store);
        let db = |e: rusqlite::Error| {
            UserError::new(
                ErrorCode::Database,
                format!("the sent messages could not be read: {e}"),
            )
        };
        let conn = store.read();
        let keyed_since: i64 = conn
            .query_row(
                "SELECT CAST(strftime('%s', applied_at) AS INTEGER) FROM schema_migrations
                 WHERE version = ?1",
                [KEYED_SINCE_MIGRATION],
                |r| r.get(0),
            )
            .map_err(db)?;
        let mut stmt = conn
            .prepare(
                "SELECT campaign_id, address, email, updated_at FROM deliveries
                 WHERE state IN ('sent', 'unknown')",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(db)?;
        let mut map = HashMap::new();
        for row in rows {
            let (campaign_id, address, email, sent_at) = row.map_err(db)?;
            let issued = Issued {
                campaign_id: campaign_id.clone(),
                address: address.clone(),
                keyed: true,
            };
            // `updated_at` is in milliseconds (the send engine's clock).
            if sent_at < keyed_since.saturating_mul(1000) {
                let legacy = Issued {
                    keyed: false,
                    ..issued.clone()
                };
                map.insert(legacy_token(&campaign_id, &email), (legacy, sent_at));
            }
            map.insert(key.token(&campaign_id, &email), (issued, sent_at));
        }
        drop(stmt);
        // Each send's unsubscribe address, from its keyed `send_start` entry.
        let mut addresses: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = conn
            .prepare(
                "SELECT campaign, details FROM audit_log
                 WHERE kind = 'send_start' AND campaign IS NOT NULL",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(db)?;
        for row in rows {
            let (campaign, details) = row.map_err(db)?;
            let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
            let Some(recorded) = details.get(SEND_START_KEY) else {
                continue; // a send before the address was recorded
            };
            let list = addresses.entry(campaign).or_default();
            if let Some(a) = recorded.as_str() {
                if !list.iter().any(|x| x == a) {
                    list.push(a.to_owned());
                }
            }
        }
        Ok(TokenIndex {
            map,
            addresses,
            now,
        })
    }

    /// The verdict on one token (32 hex digits, any case).
    pub fn check(&self, token: &str) -> Verdict {
        match self.map.get(&token.to_ascii_lowercase()) {
            None => Verdict::Unknown,
            Some((issued, _)) if issued.keyed => Verdict::Valid(issued.clone()),
            Some((issued, sent_at)) => {
                let expired = OffsetDateTime::from_unix_timestamp(sent_at / 1000)
                    .map(|t| t + LEGACY_GRACE < self.now)
                    .unwrap_or(true);
                if expired {
                    Verdict::LegacyExpired {
                        campaign_id: issued.campaign_id.clone(),
                    }
                } else {
                    Verdict::Valid(issued.clone())
                }
            }
        }
    }

    /// The best verdict among the token-shaped words of `text` (an address, a subject, a
    /// body): a valid token wins over an expired one over none.
    pub fn find(&self, text: &str) -> Verdict {
        self.find_token(text).0
    }

    /// [`find`](Self::find), with the token that gave the verdict.
    pub fn find_token<'t>(&self, text: &'t str) -> (Verdict, Option<&'t str>) {
        let mut best = (Verdict::Unknown, None);
        for word in token_candidates(text) {
            match self.check(word) {
                v @ Verdict::Valid(_) => return (v, Some(word)),
                v @ Verdict::LegacyExpired { .. } => best = (v, Some(word)),
                Verdict::Unknown | Verdict::WrongAddress { .. } => {}
            }
        }
        best
    }

    /// Whether a request carrying `token` of `campaign_id` was mailed to that campaign's
    /// unsubscribe address: one of `recipients` (To, Cc, Delivered-To, ...) is it. A
    /// campaign sent before its address was recorded has nothing to compare with: yes.
    pub fn sent_to_unsubscribe_address(
        &self,
        campaign_id: &str,
        token: &str,
        recipients: &[String],
    ) -> bool {
        match self.addresses.get(campaign_id) {
            None => true,
            Some(templates) => templates.iter().any(|t| {
                recipients
                    .iter()
                    .any(|r| is_unsubscribe_address(t, token, r))
            }),
        }
    }

    /// Whether `recipient` is the unsubscribe address of any campaign sent (whatever the
    /// token in it): mail to it is an unsubscribe request even without the word.
    pub fn is_any_unsubscribe_address(&self, recipient: &str) -> bool {
        let Some(r) = mailbox_of(recipient) else {
            return false;
        };
        // A template with `{token}` before any `+` never equals a real address here;
        // such requests are found by their token instead.
        self.addresses
            .values()
            .flatten()
            .any(|t| mailbox_of(t).is_some_and(|m| m == r))
    }

    /// An index of the given (token, who, sent at in unix milliseconds) and campaign
    /// unsubscribe addresses, for unit tests without a store.
    #[cfg(test)]
    pub(crate) fn from_parts(
        entries: Vec<(String, Issued, i64)>,
        addresses: HashMap<String, Vec<String>>,
        now: OffsetDateTime,
    ) -> TokenIndex {
        TokenIndex {
            map: entries
                .into_iter()
                .map(|(t, i, at)| (t.to_ascii_lowercase(), (i, at)))
                .collect(),
            addresses,
            now,
        }
    }
}

/// Who takes an address off when a request comes back by mail.
pub const MAILBOX: &str = "mailbox";

/// Puts the person a valid token names on the suppression list, inside the caller's
/// transaction, and logs it without the address: the campaign, whether the token was
/// keyed or legacy, and whether the address was new on the list. Returns that last.
pub(crate) fn honour_in(
    tx: &crate::store::Tx<'_>,
    issued: &Issued,
    now: OffsetDateTime,
) -> Result<bool, crate::audit::Error> {
    let at = crate::audit::format_time(now)?;
    let added = crate::suppression::insert_in(
        tx,
        std::slice::from_ref(&issued.address),
        crate::suppression::Reason::Unsubscribed,
        MAILBOX,
        Some(&issued.campaign_id),
        &at,
        now,
    )?;
    crate::audit::append_in(
        tx,
        now,
        MAILBOX,
        crate::audit::Kind::UnsubscribeReceived,
        Some(&issued.campaign_id),
        &serde_json::json!({
            "token_kind": if issued.keyed { "keyed" } else { "legacy" },
            "already_listed": added == 0,
        }),
    )?;
    Ok(added > 0)
}

/// Runs of exactly 32 hex digits, delimited by anything else.
pub fn token_candidates(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> UnsubscribeKey {
        UnsubscribeKey::from_bytes([b; 32])
    }

    #[test]
    fn keyed_tokens_depend_on_the_key_campaign_and_person() {
        let t = key(1).token("spring", "Taro@Example.JP");
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t, key(1).token("spring", "taro@example.jp "));
        assert_ne!(t, key(2).token("spring", "taro@example.jp"));
        assert_ne!(t, key(1).token("autumn", "taro@example.jp"));
        assert_ne!(t, key(1).token("spring", "hanako@example.jp"));
        // Not the old unkeyed value: knowing the campaign and address is not enough.
        assert_ne!(t, legacy_token("spring", "taro@example.jp"));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key(7)), "UnsubscribeKey(<redacted>)");
    }

    #[test]
    fn legacy_token_is_the_pre_issue_15_value() {
        // sha256("spring\0unsubscribe\0taro@example.jp"), first 32 hex digits.
        let mut h = Sha256::new();
        h.update(b"spring\0unsubscribe\0taro@example.jp");
        assert_eq!(
            legacy_token("spring", "Taro@example.jp"),
            hex::encode(h.finalize())[..32]
        );
    }

    #[test]
    fn candidates_are_whole_32_digit_runs() {
        let t = "0123456789abcdef0123456789ABCDEF";
        let text = format!("unsubscribe+{t}@shop.test x{t}0 {}", &t[..31]);
        assert_eq!(token_candidates(&text).collect::<Vec<_>>(), [t]);
    }

    #[test]
    fn the_mailto_address_is_the_part_before_the_query_decoded() {
        assert_eq!(
            mailto_address("mailto:unsubscribe+{token}@shop.test?subject=stop"),
            "unsubscribe+{token}@shop.test"
        );
        assert_eq!(
            mailto_address("leave%2B{token}@shop.test"),
            "leave+{token}@shop.test"
        );
        assert_eq!(mailto_address("a@b.test%"), "a@b.test%");
    }

    #[test]
    fn an_unsubscribe_address_matches_with_or_without_its_detail_in_any_case() {
        let t = "0123456789abcdef0123456789abcdef";
        let tpl = "unsubscribe+{token}@shop.test";
        for ok in [
            format!("unsubscribe+{t}@shop.test"),
            "unsubscribe@shop.test".to_owned(),
            format!("<Unsubscribe+{}@SHOP.TEST.>", t.to_uppercase()),
        ] {
            assert!(is_unsubscribe_address(tpl, t, &ok), "{ok}");
        }
        for no in [
            "news@shop.test",
            "unsubscribe@shop.test.evil.example",
            "unsubscribe@evil.example",
            "xunsubscribe@shop.test",
            "unsubscribe",
            "",
        ] {
            assert!(!is_unsubscribe_address(tpl, t, no), "{no}");
        }
        // The token in the local part without a '+': that exact mailbox only.
        let tpl = "u-{token}@shop.test";
        assert!(is_unsubscribe_address(tpl, t, &format!("U-{t}@shop.test")));
        assert!(!is_unsubscribe_address(tpl, t, "u-@shop.test"));
        assert!(!is_unsubscribe_address(
            tpl,
            t,
            "u-ffffffffffffffffffffffffffffffff@shop.test"
        ));
        // An internationalised domain is compared in its A-label form.
        assert!(is_unsubscribe_address(
            "stop@例え.jp",
            t,
            "stop@xn--r8jz45g.jp"
        ));
    }

    #[test]
    fn the_index_reads_each_campaigns_unsubscribe_address_from_its_send_start_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_with(dir.path(), &crate::secrets::install::MemoryKeys::new()).unwrap();
        let now = OffsetDateTime::now_utc();
        let start = |campaign: &str, details: serde_json::Value| {
            crate::audit::append(
                &store,
                now,
                "aiko",
                crate::audit::Kind::SendStart,
                Some(campaign),
                details,
            )
            .unwrap();
        };
        start("a", serde_json::json!({"recipients": 1}));
        start(
            "b",
            serde_json::json!({SEND_START_KEY: "stop+{token}@shop.test"}),
        );
        start("b", serde_json::json!({SEND_START_KEY: "leave@shop.test"}));
        start("b", serde_json::json!({SEND_START_KEY: "leave@shop.test"}));
        start("c", serde_json::json!({SEND_START_KEY: null}));
        let idx = TokenIndex::build(&store, now).unwrap();
        let t = "0123456789abcdef0123456789abcdef";
        let to = |a: &str| vec![a.to_owned()];
        // "a" was sent before the address was recorded: anything goes.
        assert!(idx.sent_to_unsubscribe_address("a", t, &to("news@shop.test")));
        // "b" had two addresses over its runs; each counts, nothing else does.
        assert_eq!(idx.addresses["b"].len(), 2);
        assert!(idx.sent_to_unsubscribe_address("b", t, &to(&format!("stop+{t}@shop.test"))));
        assert!(idx.sent_to_unsubscribe_address("b", t, &to("Leave@Shop.test")));
        assert!(!idx.sent_to_unsubscribe_address("b", t, &to("news@shop.test")));
        assert!(!idx.sent_to_unsubscribe_address("b", t, &[]));
        // "c" had only a URL: no mail request is to its address.
        assert!(!idx.sent_to_unsubscribe_address("c", t, &to("stop@shop.test")));
        assert!(idx.is_any_unsubscribe_address("stop@shop.test"));
        assert!(!idx.is_any_unsubscribe_address("news@shop.test"));
    }

    fn index(entries: &[(&str, &str, bool, OffsetDateTime)], now: OffsetDateTime) -> TokenIndex {
        let k = key(3);
        let mut map = HashMap::new();
        for (c, a, keyed, sent) in entries {
            let issued = Issued {
                campaign_id: c.to_string(),
                address: a.to_string(),
                keyed: *keyed,
            };
            let token = if *keyed {
                k.token(c, a)
            } else {
                legacy_token(c, a)
            };
            map.insert(token, (issued, sent.unix_timestamp() * 1000));
        }
        TokenIndex {
            map,
            addresses: HashMap::new(),
            now,
        }
    }

    #[test]
    fn legacy_tokens_are_honoured_for_ninety_days_after_the_send() {
        let sent = time::macros::datetime!(2026-01-10 09:00 UTC);
        let idx = |now| index(&[("old", "a@x.test", false, sent)], now);
        let t = legacy_token("old", "a@x.test");
        let within = idx(sent + Duration::days(89));
        assert_eq!(
            within.check(&t),
            Verdict::Valid(Issued {
                campaign_id: "old".into(),
                address: "a@x.test".into(),
                keyed: false
            })
        );
        let after = idx(sent + Duration::days(91));
        assert_eq!(
            after.check(&t),
            Verdict::LegacyExpired {
                campaign_id: "old".into()
            }
        );
        // A keyed token never expires, and a forged one is unknown.
        let k = index(
            &[("new", "b@x.test", true, sent)],
            sent + Duration::days(400),
        );
        assert!(matches!(k.check(&key(3).token("new", "b@x.test")), Verdict::Valid(i) if i.keyed));
        assert_eq!(k.check(&legacy_token("new", "b@x.test")), Verdict::Unknown);
        assert_eq!(k.find("no token here"), Verdict::Unknown);
        let upper = key(3).token("new", "b@x.test").to_uppercase();
        assert!(matches!(
            k.find(&format!("Subject: unsubscribe {upper}")),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn the_index_holds_keyed_tokens_and_legacy_ones_only_for_earlier_sends() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_with(dir.path(), &crate::secrets::install::MemoryKeys::new()).unwrap();
        let switch = time::macros::datetime!(2026-06-01 00:00 UTC);
        let ms = |t: OffsetDateTime| t.unix_timestamp() * 1000;
        {
            let w = store.write();
            w.execute(
                "UPDATE schema_migrations SET applied_at = '2026-06-01T00:00:00Z' WHERE version = 8",
                [],
            )
            .unwrap();
            let mut ins = w
                .prepare(
                    "INSERT INTO deliveries (campaign_id, address, row, email, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .unwrap();
            let before = ms(switch - Duration::days(10));
            let after = ms(switch + Duration::days(1));
            ins.execute(rusqlite::params![
                "old", "a@x.test", 1, "A@x.test", "sent", before
            ])
            .unwrap();
            ins.execute(rusqlite::params![
                "new", "b@x.test", 1, "b@x.test", "sent", after
            ])
            .unwrap();
            ins.execute(rusqlite::params![
                "new", "c@x.test", 2, "c@x.test", "queued", after
            ])
            .unwrap();
        }
        let key = UnsubscribeKey::of(&store);
        // Derived, stable per install, and not the install key itself.
        assert_eq!(
            key.token("new", "b@x.test"),
            UnsubscribeKey::of(&store).token("new", "b@x.test")
        );
        let idx = TokenIndex::build(&store, switch + Duration::days(30)).unwrap();
        let valid = |c: &str, a: &str, keyed| {
            Verdict::Valid(Issued {
                campaign_id: c.into(),
                address: a.into(),
                keyed,
            })
        };
        assert_eq!(
            idx.check(&key.token("new", "b@x.test")),
            valid("new", "b@x.test", true)
        );
        assert_eq!(
            idx.check(&key.token("old", "a@x.test")),
            valid("old", "a@x.test", true)
        );
        assert_eq!(
            idx.check(&legacy_token("old", "a@x.test")),
            valid("old", "a@x.test", false)
        );
        // An unkeyed token of a campaign sent after the switch is a forgery.
        assert_eq!(
            idx.check(&legacy_token("new", "b@x.test")),
            Verdict::Unknown
        );
        // Nobody was mailed yet: no token.
        assert_eq!(idx.check(&key.token("new", "c@x.test")), Verdict::Unknown);
        // Honouring: listed once, logged each time, never with the address.
        let Verdict::Valid(issued) = idx.check(&key.token("new", "b@x.test")) else {
            unreachable!()
        };
        let now = switch + Duration::days(30);
        for expect_new in [true, false] {
            let added = store.transaction(|tx| honour_in(tx, &issued, now)).unwrap();
            assert_eq!(added, expect_new);
        }
        assert!(crate::suppression::contains(&store, "B@x.test").unwrap());
        let log = crate::audit::entries(&store, &crate::audit::Filter::default()).unwrap();
        let received: Vec<_> = log
            .iter()
            .filter(|e| e.kind == "unsubscribe_received")
            .collect();
        assert_eq!(received.len(), 2);
        assert!(log.iter().all(|e| !e.details.contains("b@x.test")));
        assert!(received[0].details.contains("\"token_kind\":\"keyed\""));

        let late = TokenIndex::build(&store, switch + Duration::days(120)).unwrap();
        assert_eq!(
            late.check(&legacy_token("old", "a@x.test")),
            Verdict::LegacyExpired {
                campaign_id: "old".into()
            }
        );
    }
}
