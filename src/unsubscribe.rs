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
    /// Matches no delivery this install sent: forged, mistyped or from another install.
    Unknown,
}

/// Every token this store's sent deliveries carry, built once per mailbox sync.
pub struct TokenIndex {
    /// token → (who, sent at in unix milliseconds).
    map: HashMap<String, (Issued, i64)>,
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
        Ok(TokenIndex { map, now })
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
        let mut best = Verdict::Unknown;
        for word in token_candidates(text) {
            match self.check(word) {
                v @ Verdict::Valid(_) => return v,
                v @ Verdict::LegacyExpired { .. } => best = v,
                Verdict::Unknown => {}
            }
        }
        best
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
        TokenIndex { map, now }
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
