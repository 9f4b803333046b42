//! Integration tests of the trust core: store migrations, the keyed operation log and the
//! sealed security rows (tampered with directly in the SQLite file, as another program of
//! the same user could), operators and lockout, and the approval gate.
//!
//! The store's key lives in the real OS keychain: run inside a keyring session,
//! `tests/servers/keyring-session.sh cargo test -p mergeguard --test trust`.

use std::collections::BTreeSet;

use mergeguard::approval::{
    self, AttachmentInput, CheckInput, FingerprintInput, RecipientInput, RelayInput, SenderInput,
};
use mergeguard::audit::{self, BreakReason, Filter, Kind};
use mergeguard::error::ErrorCode;
use mergeguard::operators::{self, Role, Session};
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use rusqlite::Connection;
use serde_json::json;
use time::{macros::datetime, Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-28 09:00 UTC);

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn raw(store: &Store) -> Connection {
    let c = Connection::open(store.path()).unwrap();
    // A determined attacker with the file drops the append-only triggers first.
    c.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    c
}

fn fill_log(store: &Store, n: usize) {
    for i in 0..n {
        audit::append(
            store,
            T0 + Duration::seconds(i as i64),
            "alice",
            Kind::Edit,
            Some("c1"),
            json!({"step": i}),
        )
        .unwrap();
    }
}

// ---- store ----

#[test]
fn migrations_apply_once_and_reopen_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.applied_migrations().unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(store.journal_mode().unwrap(), "wal");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.applied_migrations().unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8]
    );
    let c = Connection::open(store.path()).unwrap();
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n as usize,
        mergeguard::store::SCHEMA_VERSION as usize,
        "each migration is recorded once"
    );
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL is persistent in the file");
}

#[test]
fn data_dir_flag_beats_env() {
    let p = std::path::Path::new("/tmp/explicit");
    assert_eq!(mergeguard::store::data_dir(Some(p)).unwrap(), p);
}

// ---- audit ----

#[test]
fn audit_chain_verifies() {
    let (_d, store) = open();
    fill_log(&store, 5);
    let v = audit::verify(&store).unwrap();
    // The first entry of a new data folder is its keying (`log_keyed`).
    assert_eq!(v.entries, 6);
    assert!(v.is_intact(), "{:?}", v.breaks);
}

#[test]
fn audit_rows_cannot_be_updated_through_sqlite_without_dropping_triggers() {
    let (_d, store) = open();
    fill_log(&store, 2);
    let c = Connection::open(store.path()).unwrap();
    assert!(c
        .execute("UPDATE audit_log SET details = '{}' WHERE id = 1", [])
        .is_err());
    assert!(c.execute("DELETE FROM audit_log WHERE id = 1", []).is_err());
}

#[test]
fn audit_verify_finds_edited_details() {
    let (_d, store) = open();
    fill_log(&store, 5);
    raw(&store)
        .execute(
            "UPDATE audit_log SET details = '{\"step\":99}' WHERE id = 3",
            [],
        )
        .unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(v.broken_ids(), vec![3]);
    assert_eq!(v.breaks[0].reason, BreakReason::Edited);
}

#[test]
fn audit_verify_finds_deleted_row() {
    let (_d, store) = open();
    fill_log(&store, 5);
    raw(&store)
        .execute("DELETE FROM audit_log WHERE id = 3", [])
        .unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(v.broken_ids(), vec![4]);
    assert!(v.breaks.contains(&audit::Break {
        id: 4,
        reason: BreakReason::Gap { expected: 3 }
    }));
    assert!(v.breaks.contains(&audit::Break {
        id: 4,
        reason: BreakReason::LinkBroken
    }));
}

#[test]
fn audit_verify_finds_truncated_tail() {
    let (_d, store) = open();
    fill_log(&store, 5);
    raw(&store)
        .execute("DELETE FROM audit_log WHERE id = 6", [])
        .unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(
        v.breaks,
        vec![
            audit::Break {
                id: 5,
                reason: BreakReason::HeadMismatch { head_id: Some(6) }
            },
            audit::Break {
                id: 5,
                reason: BreakReason::TailCut { head_file_id: 6 }
            }
        ]
    );
}

#[test]
fn audit_verify_finds_forged_row_inserted_in_the_middle() {
    let (_d, store) = open();
    fill_log(&store, 5);
    let c = raw(&store);
    // Make room at id 3 by shifting 3..5 up, then forge a row that links correctly to 2
    // (the attacker knows the hash function).
    c.execute("UPDATE audit_log SET id = id + 100 WHERE id >= 3", [])
        .unwrap();
    c.execute("UPDATE audit_log SET id = id - 99 WHERE id >= 100", [])
        .unwrap();
    let prev: String = c
        .query_row("SELECT hash FROM audit_log WHERE id = 2", [], |r| r.get(0))
        .unwrap();
    let at = "2026-11-28T09:00:02.500000Z";
    let details = "{\"forged\":true}";
    let hash = audit::entry_hash(&prev, 3, at, "mallory", "edit", Some("c1"), details);
    c.execute(
        "INSERT INTO audit_log (id, at, operator, kind, campaign, details, prev_hash, hash)
         VALUES (3, ?1, 'mallory', 'edit', 'c1', ?2, ?3, ?4)",
        rusqlite::params![at, details, prev, hash],
    )
    .unwrap();
    let v = audit::verify(&store).unwrap();
    // The forged row links, but its plain SHA-256 hash is not the keyed one; the next one
    // (old 3, now 4) no longer links and every shifted row's hash no longer covers its
    // id; the heads no longer match.
    assert_eq!(v.broken_ids(), vec![3, 4, 5, 6, 7]);
    assert!(v.breaks.contains(&audit::Break {
        id: 3,
        reason: BreakReason::Edited
    }));
    assert!(v.breaks.contains(&audit::Break {
        id: 4,
        reason: BreakReason::LinkBroken
    }));
    assert!(v.breaks.contains(&audit::Break {
        id: 4,
        reason: BreakReason::Edited
    }));
}

#[test]
fn audit_verify_finds_swapped_rows() {
    let (_d, store) = open();
    fill_log(&store, 5);
    let c = raw(&store);
    c.execute("UPDATE audit_log SET id = 100 WHERE id = 2", [])
        .unwrap();
    c.execute("UPDATE audit_log SET id = 2 WHERE id = 3", [])
        .unwrap();
    c.execute("UPDATE audit_log SET id = 3 WHERE id = 100", [])
        .unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(v.broken_ids(), vec![2, 3, 4]);
    assert!(v.breaks.contains(&audit::Break {
        id: 2,
        reason: BreakReason::Edited
    }));
    assert!(v.breaks.contains(&audit::Break {
        id: 4,
        reason: BreakReason::LinkBroken
    }));
}

#[test]
fn audit_csv_export_escapes_formulas() {
    let (_d, store) = open();
    audit::append(
        &store,
        T0,
        "=HYPERLINK(\"http://evil\")",
        Kind::Import,
        None,
        json!({"file": "x.csv"}),
    )
    .unwrap();
    let mut out = Vec::new();
    audit::export_csv(&store, &Filter::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("'=HYPERLINK("), "{text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    let mut json_out = Vec::new();
    let imports = Filter {
        kinds: vec![Kind::Import],
        ..Default::default()
    };
    assert_eq!(
        audit::export_json(&store, &imports, &mut json_out).unwrap(),
        1
    );
    let v: serde_json::Value = serde_json::from_slice(&json_out).unwrap();
    assert_eq!(v[0]["details"]["file"], "x.csv");
}

#[test]
fn audit_filters() {
    let (_d, store) = open();
    audit::append(&store, T0, "alice", Kind::Login, None, json!({})).unwrap();
    audit::append(
        &store,
        T0 + Duration::hours(1),
        "bob",
        Kind::Edit,
        Some("c1"),
        json!({}),
    )
    .unwrap();
    audit::append(
        &store,
        T0 + Duration::hours(2),
        "bob",
        Kind::Login,
        Some("c2"),
        json!({}),
    )
    .unwrap();
    let ids = |f: Filter| {
        audit::entries(&store, &f)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(Filter {
            operator: Some("bob".into()),
            ..Default::default()
        }),
        vec![3, 4]
    );
    assert_eq!(
        ids(Filter {
            campaign: Some("c1".into()),
            ..Default::default()
        }),
        vec![3]
    );
    assert_eq!(
        ids(Filter {
            kinds: vec![Kind::Login],
            ..Default::default()
        }),
        vec![2, 4]
    );
    assert_eq!(
        ids(Filter {
            from: Some(T0 + Duration::minutes(30)),
            until: Some(T0 + Duration::hours(2)),
            ..Default::default()
        }),
        vec![3]
    );
}

// ---- operators ----

fn pin(s: &str) -> Secret {
    Secret::new(s)
}

fn setup_operators(store: &Store) -> Session {
    operators::create_first_admin(store, "admin", &pin("999999"), T0).unwrap();
    let admin = operators::sign_in(store, "admin", &pin("999999"), T0).unwrap();
    let sa: BTreeSet<Role> = [Role::Sender].into();
    let ap: BTreeSet<Role> = [Role::Approver].into();
    operators::add_operator(store, &admin, "alice", &sa, &pin("123456"), T0).unwrap();
    operators::add_operator(store, &admin, "bob", &ap, &pin("correct horse battery"), T0).unwrap();
    operators::add_operator(store, &admin, "carol", &sa, &pin("555555"), T0).unwrap();
    admin
}

#[test]
fn first_admin_only_once() {
    let (_d, store) = open();
    assert!(operators::needs_first_admin(&store).unwrap());
    let a = operators::create_first_admin(&store, "admin", &pin("999999"), T0).unwrap();
    assert!(a.has_role(Role::Admin));
    let err = operators::create_first_admin(&store, "other", &pin("111111"), T0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let admin = operators::sign_in(&store, "admin", &pin("999999"), T0).unwrap();
    assert_eq!(operators::list(&store, &admin, T0).unwrap().len(), 1);
}

#[test]
fn pin_stored_only_as_argon2id_phc() {
    let (dir, store) = open();
    setup_operators(&store);
    let hash: String = Connection::open(store.path())
        .unwrap()
        .query_row(
            "SELECT pin_hash FROM operators WHERE name = 'bob'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !contains(&bytes, b"correct horse battery"),
            "the passphrase is in a store file"
        );
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn lockout_after_five_failures_with_backoff() {
    let (_d, store) = open();
    setup_operators(&store);
    let mut warnings = Vec::new();
    for i in 1..=4 {
        let e = operators::sign_in(&store, "alice", &pin("864208"), T0 + Duration::seconds(i))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed);
        let reason = e.to_user().reason.expect("a sign-in refusal has a reason");
        warnings.push((reason.key, reason.params.get("tries_left").cloned()));
    }
    // The first two wrong PINs just say so; from the third on, the person is told how
    // many tries are left before the lock.
    assert_eq!(
        warnings,
        [
            ("wrong_pin", None),
            ("wrong_pin", None),
            ("wrong_pin_tries_left", Some(2.into())),
            ("wrong_pin_tries_left", Some(1.into())),
        ]
    );
    let e =
        operators::sign_in(&store, "alice", &pin("864208"), T0 + Duration::seconds(5)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LockedOut);
    // The lock's end travels as a time the window shows in local time, not as words.
    let reason = e.to_user().reason.unwrap();
    assert_eq!(reason.key, "locked_until");
    let until = reason.params["until"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).is_ok()
    );
    // Locked: even the right PIN is refused for one minute.
    let e = operators::sign_in(&store, "alice", &pin("123456"), T0 + Duration::seconds(30))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::LockedOut);
    // After the minute, one more wrong PIN locks for two minutes.
    let t = T0 + Duration::seconds(66);
    let e = operators::sign_in(&store, "alice", &pin("864208"), t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LockedOut);
    let op = operators::find(&store, "alice").unwrap().unwrap();
    assert_eq!(op.locked_until, Some(t + Duration::minutes(2)));
    assert!(
        operators::sign_in(&store, "alice", &pin("123456"), t + Duration::seconds(119)).is_err()
    );
    let s = operators::sign_in(&store, "alice", &pin("123456"), t + Duration::minutes(2)).unwrap();
    assert_eq!(s.operator(), "alice");
    assert_eq!(
        operators::find(&store, "alice")
            .unwrap()
            .unwrap()
            .failed_attempts,
        0
    );
    // Every attempt was logged, and never the PIN.
    let log = audit::entries(
        &store,
        &Filter {
            operator: Some("alice".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let failed = log.iter().filter(|e| e.kind == "login_failed").count();
    assert_eq!(failed, 8);
    assert_eq!(log.iter().filter(|e| e.kind == "lockout").count(), 2);
    assert_eq!(log.iter().filter(|e| e.kind == "login").count(), 1);
    assert!(log
        .iter()
        .all(|e| !e.details.contains("864208") && !e.details.contains("123456")));
}

#[test]
fn admin_resets_a_forgotten_pin_and_the_person_chooses_a_new_one() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    // Alice forgot her PIN and locked herself out.
    for i in 0..5 {
        let _ = operators::sign_in(&store, "alice", &pin("000000"), T0 + Duration::seconds(i));
    }
    assert!(operators::find(&store, "alice")
        .unwrap()
        .unwrap()
        .locked_until
        .is_some());
    // Only an admin may reset; a weak one-time PIN is refused.
    let carol = operators::sign_in(&store, "carol", &pin("555555"), T0).unwrap();
    assert_eq!(
        operators::reset_pin(&store, &carol, "alice", &pin("246813"), T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    assert_eq!(
        operators::reset_pin(&store, &admin, "alice", &pin("12"), T0)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidInput
    );
    let t = T0 + Duration::seconds(10);
    operators::reset_pin(&store, &admin, "alice", &pin("246813"), t).unwrap();
    let op = operators::find(&store, "alice").unwrap().unwrap();
    assert!(op.pin_reset && op.locked_until.is_none() && op.failed_attempts == 0);
    // The old PIN is gone; the one-time PIN signs nobody in, it only allows a change.
    assert!(operators::sign_in(&store, "alice", &pin("123456"), t).is_err());
    let e = operators::sign_in(&store, "alice", &pin("246813"), t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PinChangeRequired);
    operators::change_pin(&store, "alice", &pin("246813"), &pin("975310"), t).unwrap();
    assert!(!operators::find(&store, "alice").unwrap().unwrap().pin_reset);
    assert!(operators::sign_in(&store, "alice", &pin("246813"), t).is_err());
    operators::sign_in(&store, "alice", &pin("975310"), t).unwrap();
    let log = audit::entries(&store, &Filter::default()).unwrap();
    let reset = log
        .iter()
        .find(|e| e.kind == "pin_reset")
        .expect("the reset is logged");
    assert_eq!(reset.operator, "admin");
    assert!(log
        .iter()
        .all(|e| !e.details.contains("246813") && !e.details.contains("975310")));
}

#[test]
fn admin_changes_roles_and_switches_people_back_on() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    let both: BTreeSet<Role> = [Role::Sender, Role::Approver].into();
    operators::set_roles(&store, &admin, "alice", &both, T0).unwrap();
    assert_eq!(
        operators::find(&store, "alice").unwrap().unwrap().roles,
        both
    );
    // No roles at all, or the last admin losing admin, is refused.
    assert!(operators::set_roles(&store, &admin, "alice", &BTreeSet::new(), T0).is_err());
    let sender: BTreeSet<Role> = [Role::Sender].into();
    assert_eq!(
        operators::set_roles(&store, &admin, "admin", &sender, T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    // A non-admin cannot change roles, even their own.
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    let all: BTreeSet<Role> = [Role::Sender, Role::Approver, Role::Admin].into();
    assert_eq!(
        operators::set_roles(&store, &alice, "alice", &all, T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    operators::disable_operator(&store, &admin, "carol", T0).unwrap();
    assert!(operators::sign_in(&store, "carol", &pin("555555"), T0).is_err());
    operators::enable_operator(&store, &admin, "carol", T0).unwrap();
    operators::sign_in(&store, "carol", &pin("555555"), T0).unwrap();
    let kinds: Vec<String> = audit::entries(&store, &Filter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"roles_changed".to_owned()));
    assert!(kinds.contains(&"operator_enabled".to_owned()));
}

#[test]
fn disabled_operator_cannot_sign_in() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    operators::disable_operator(&store, &admin, "carol", T0).unwrap();
    let e = operators::sign_in(&store, "carol", &pin("555555"), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert!(matches!(e, operators::Error::Disabled(_)));
    // The last admin cannot be disabled, and a non-admin cannot disable anyone.
    assert_eq!(
        operators::disable_operator(&store, &admin, "admin", T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    assert_eq!(
        operators::disable_operator(&store, &alice, "bob", T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
}

#[test]
fn unknown_operator_is_refused_and_logged() {
    let (_d, store) = open();
    setup_operators(&store);
    let e = operators::sign_in(&store, "nobody", &pin("123456"), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    let log = audit::entries(
        &store,
        &Filter {
            operator: Some("nobody".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, "login_failed");
}

// ---- approval ----

fn campaign() -> FingerprintInput {
    FingerprintInput {
        sender: SenderInput {
            name: "Shop".into(),
            address: "news@shop.test".into(),
            reply_to: Some("help@shop.test".into()),
        },
        subject_template: "Hello {{ name }}".into(),
        text_template: "Dear {{ name }},\n".into(),
        html_template: Some("<p>Dear {{ name }}</p>".into()),
        recipients: vec![
            RecipientInput {
                address: "a@x.test".into(),
                fields: vec![
                    ("email".into(), "a@x.test".into()),
                    ("name".into(), "A".into()),
                ],
            },
            RecipientInput {
                address: "b@x.test".into(),
                fields: vec![
                    ("email".into(), "b@x.test".into()),
                    ("name".into(), "B".into()),
                ],
            },
        ],
        attachments: vec![AttachmentInput {
            name: "terms.pdf".into(),
            sha256: sha256_hex(b"terms v1"),
        }],
        recipient_attachments: vec![],
        relay: Some(RelayInput {
            host: "mail.test".into(),
            port: 587,
            security: "starttls".into(),
            username: "mailer".into(),
            ca_sha256: None,
        }),
        recipient_file_sha256: None,
        outbox: None,
        dkim: None,
        unsubscribe: None,
        campaign_file_sha256: None,
        checklist: vec![
            CheckInput {
                id: "spf".into(),
                status: "pass".into(),
            },
            CheckInput {
                id: "dmarc.policy".into(),
                status: "warning".into(),
            },
        ],
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn acks() -> Vec<String> {
    vec!["dmarc.policy".to_string()]
}

fn submitted(store: &Store) -> approval::Submission {
    setup_operators(store);
    let alice = operators::sign_in(store, "alice", &pin("123456"), T0).unwrap();
    let s = approval::submit(store, &campaign(), &alice, T0).unwrap();
    assert_eq!(s.short.len(), 14);
    assert_eq!(s.warnings, acks());
    s
}

#[test]
fn approval_by_preparer_refused() {
    let (_d, store) = open();
    let s = submitted(&store);
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "alice",
        &pin("123456"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
    assert!(matches!(e, approval::Error::SamePerson));
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "ALICE",
        &pin("123456"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert!(matches!(e, approval::Error::SamePerson));
    let refused = audit::entries(
        &store,
        &Filter {
            kinds: vec![Kind::ApprovalRefused],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(refused.len(), 2);
}

#[test]
fn approval_without_approver_role_refused() {
    let (_d, store) = open();
    let s = submitted(&store);
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "carol",
        &pin("555555"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
    assert!(matches!(e, approval::Error::NotApprover(_)));
}

#[test]
fn approval_wrong_pin_refused_and_counted() {
    let (_d, store) = open();
    let s = submitted(&store);
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("wrong pass"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert_eq!(
        operators::find(&store, "bob")
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );
    for _ in 0..4 {
        let _ = approval::approve(
            &store,
            &s.campaign_id,
            &s.fingerprint,
            "bob",
            &pin("wrong pass"),
            &acks(),
            T0,
        );
    }
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::LockedOut);
}

#[test]
fn approval_unacknowledged_warning_refused() {
    let (_d, store) = open();
    let s = submitted(&store);
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &[],
        T0,
    )
    .unwrap_err();
    assert!(
        matches!(e, approval::Error::Unacknowledged(ref w) if w == "dmarc.policy"),
        "{e}"
    );
    assert_eq!(e.code(), ErrorCode::NotApproved);
}

#[test]
fn approval_of_a_different_fingerprint_refused() {
    let (_d, store) = open();
    let s = submitted(&store);
    let mut other = campaign();
    other.subject_template.push('!');
    let fp = approval::fingerprint(&other);
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &fp,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert!(matches!(e, approval::Error::FingerprintMismatch { .. }));
}

#[test]
fn submit_with_failing_check_refused() {
    let (_d, store) = open();
    setup_operators(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    let mut c = campaign();
    c.checklist.push(CheckInput {
        id: "addressing".into(),
        status: "fail".into(),
    });
    assert_eq!(
        approval::submit(&store, &c, &alice, T0).unwrap_err().code(),
        ErrorCode::NotApproved
    );
}

fn approved(store: &Store) -> approval::Submission {
    let s = submitted(store);
    let a = approval::approve(
        store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap();
    assert_eq!(a.approver, "bob");
    assert_eq!(a.preparer, "alice");
    assert_eq!(a.expires_at, T0 + Duration::hours(24));
    s
}

#[test]
fn approval_success_then_gate_passes() {
    let (_d, store) = open();
    let s = approved(&store);
    let fp = approval::fingerprint(&campaign());
    let a =
        approval::require_approval(&store, &s.campaign_id, &fp, T0 + Duration::hours(1)).unwrap();
    assert_eq!(a.fingerprint, s.fingerprint);
    assert_eq!(
        audit::entries(
            &store,
            &Filter {
                kinds: vec![Kind::ApprovalGranted],
                ..Default::default()
            }
        )
        .unwrap()
        .len(),
        1
    );
    assert!(audit::verify(&store).unwrap().is_intact());
}

#[test]
fn gate_refuses_without_approval() {
    let (_d, store) = open();
    let s = submitted(&store);
    let e = approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotApproved);
    let e = approval::require_approval(&store, "no-such-campaign", &s.fingerprint, T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotApproved);
}

fn assert_change_voids(change: impl Fn(&mut FingerprintInput)) {
    let (_d, store) = open();
    let s = approved(&store);
    let mut c = campaign();
    change(&mut c);
    let fp = approval::fingerprint(&c);
    assert_ne!(fp, s.fingerprint);
    let e = approval::require_approval(&store, &s.campaign_id, &fp, T0 + Duration::minutes(1))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotApproved);
    assert!(matches!(e, approval::Error::Changed));
    // Void for good: changing it back does not revive the approval.
    let e = approval::require_approval(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        T0 + Duration::minutes(2),
    )
    .unwrap_err();
    assert!(matches!(e, approval::Error::Revoked(_)));
    let voided = audit::entries(
        &store,
        &Filter {
            kinds: vec![Kind::ApprovalVoided],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(voided.len(), 1);
}

#[test]
fn gate_refuses_after_recipient_added() {
    assert_change_voids(|c| {
        c.recipients.push(RecipientInput {
            address: "c@x.test".into(),
            fields: vec![],
        })
    });
}

#[test]
fn gate_refuses_after_recipient_field_edited_on_disk() {
    assert_change_voids(|c| c.recipients[1].fields[1].1 = "Bee".into());
}

#[test]
fn gate_refuses_after_one_attachment_byte_changed() {
    assert_change_voids(|c| c.attachments[0].sha256 = sha256_hex(b"terms v2"));
}

#[test]
fn gate_refuses_after_template_changed() {
    assert_change_voids(|c| c.text_template.push(' '));
}

#[test]
fn gate_refuses_after_relay_port_changed() {
    assert_change_voids(|c| c.relay.as_mut().unwrap().port = 465);
}

#[test]
fn gate_refuses_after_expiry() {
    let (_d, store) = open();
    let s = approved(&store);
    let ok = approval::require_approval(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        T0 + Duration::hours(24) - Duration::seconds(1),
    );
    assert!(ok.is_ok());
    let e = approval::require_approval(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        T0 + Duration::hours(24),
    )
    .unwrap_err();
    assert!(matches!(e, approval::Error::Expired(_)), "{e}");
}

#[test]
fn approval_validity_is_configurable() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    approval::set_validity(&store, &admin, Duration::hours(2), T0).unwrap();
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    assert_eq!(
        approval::set_validity(&store, &alice, Duration::hours(2), T0)
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    let s = approval::submit(&store, &campaign(), &alice, T0).unwrap();
    approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap();
    let e = approval::require_approval(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        T0 + Duration::hours(2),
    )
    .unwrap_err();
    assert!(matches!(e, approval::Error::Expired(_)));
}

#[test]
fn revoked_approval_refused() {
    let (_d, store) = open();
    let s = approved(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    assert!(approval::revoke(&store, &s.campaign_id, &alice, "wrong list", T0).unwrap());
    let e = approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap_err();
    assert!(matches!(e, approval::Error::Revoked(_)));
}

#[test]
fn idle_lock_time_is_an_admin_setting_and_logged() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    assert_eq!(
        operators::idle_timeout(&store).unwrap(),
        operators::DEFAULT_IDLE_TIMEOUT
    );
    operators::set_idle_timeout(&store, &admin, Duration::minutes(3), T0).unwrap();
    assert_eq!(
        operators::idle_timeout(&store).unwrap(),
        Duration::minutes(3)
    );
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    let e = operators::set_idle_timeout(&store, &alice, Duration::minutes(1), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden);
    assert!(operators::set_idle_timeout(&store, &admin, Duration::seconds(5), T0).is_err());
    assert_eq!(
        operators::idle_timeout(&store).unwrap(),
        Duration::minutes(3)
    );
    // The session locks by that time, measured from its last activity.
    assert!(!alice.is_idle(T0 + Duration::minutes(2), Duration::minutes(3)));
    assert!(alice.is_idle(T0 + Duration::minutes(3), Duration::minutes(3)));
    let log = audit::entries(&store, &audit::Filter::default()).unwrap();
    assert!(log.iter().any(
        |e| e.kind == "settings_changed" && e.details.to_string().contains("idle_timeout_secs")
    ));
}

#[test]
fn current_approval_is_read_only_and_exact() {
    let (_d, store) = open();
    let _admin = setup_operators(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    let s = approval::submit(&store, &campaign(), &alice, T0).unwrap();
    assert!(
        approval::current(&store, &s.campaign_id, &s.fingerprint, T0)
            .unwrap()
            .is_none()
    );
    approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap();
    let before = audit::entries(&store, &audit::Filter::default())
        .unwrap()
        .len();
    let a = approval::current(&store, &s.campaign_id, &s.fingerprint, T0)
        .unwrap()
        .unwrap();
    assert_eq!(a.approver, "bob");
    // Another fingerprint, or after expiry: none. Nothing is logged or voided by asking.
    assert!(approval::current(&store, &s.campaign_id, "0000", T0)
        .unwrap()
        .is_none());
    assert!(approval::current(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        T0 + Duration::hours(25)
    )
    .unwrap()
    .is_none());
    assert_eq!(
        audit::entries(&store, &audit::Filter::default())
            .unwrap()
            .len(),
        before
    );
    approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap();
}

// ---- data-folder integrity: what another program with write access can do ----

fn row_breaks(store: &Store) -> Vec<(String, String, String)> {
    let v = audit::verify(store).unwrap();
    v.rows
        .iter()
        .map(|r| (r.table.clone(), r.row.clone(), r.reason.clone()))
        .collect()
}

fn integrity_failures(store: &Store) -> usize {
    audit::entries(
        store,
        &Filter {
            kinds: vec![Kind::IntegrityFailure],
            ..Default::default()
        },
    )
    .unwrap()
    .len()
}

#[test]
fn forged_approval_fingerprint_is_refused_and_reported() {
    let (_d, store) = open();
    let s = approved(&store);
    // The campaign is changed after approval, and the approval row edited to match it.
    let mut changed = campaign();
    changed.text_template = "Send the money to another account".into();
    let new_fp = approval::fingerprint(&changed);
    let c = Connection::open(store.path()).unwrap();
    c.execute(
        "UPDATE approvals SET fingerprint = ?1 WHERE campaign_id = ?2",
        [&new_fp, &s.campaign_id],
    )
    .unwrap();
    c.execute(
        "UPDATE submissions SET fingerprint = ?1 WHERE campaign_id = ?2",
        [&new_fp, &s.campaign_id],
    )
    .unwrap();
    let e = approval::require_approval(&store, &s.campaign_id, &new_fp, T0).unwrap_err();
    assert!(matches!(e, approval::Error::Tampered(_)), "{e}");
    assert_eq!(e.code(), ErrorCode::Tampered);
    assert!(integrity_failures(&store) >= 1, "the refusal is logged");
    let rows = row_breaks(&store);
    assert!(
        rows.contains(&(
            "approvals".into(),
            format!("{} #1", s.campaign_id),
            "forged".into()
        )),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("submissions".into(), s.campaign_id.clone(), "forged".into())),
        "{rows:?}"
    );
}

#[test]
fn inserted_approval_row_is_refused_and_reported() {
    let (_d, store) = open();
    let s = submitted(&store);
    // Nobody approved: a row is written into the table by hand.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "INSERT INTO approvals (campaign_id, fingerprint, preparer, approver, granted_at, expires_at)
             VALUES (?1, ?2, 'alice', 'bob', '2026-11-28T09:00:00.000000Z', '2099-01-01T00:00:00.000000Z')",
            [&s.campaign_id, &s.fingerprint],
        )
        .unwrap();
    let e = approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap_err();
    assert!(matches!(e, approval::Error::Tampered(_)), "{e}");
    assert!(approval::current(&store, &s.campaign_id, &s.fingerprint, T0).is_err());
    let rows = row_breaks(&store);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].2, "unsealed");
}

#[test]
fn cleared_revoked_flag_is_refused_and_reported() {
    let (_d, store) = open();
    let s = approved(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    assert!(approval::revoke(&store, &s.campaign_id, &alice, "wrong list", T0).unwrap());
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE approvals SET revoked_at = NULL, revoked_why = NULL WHERE campaign_id = ?1",
            [&s.campaign_id],
        )
        .unwrap();
    let e = approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap_err();
    assert!(matches!(e, approval::Error::Tampered(_)), "{e}");
    assert_eq!(row_breaks(&store).len(), 1);
}

#[test]
fn an_earlier_copy_of_an_approval_row_put_back_after_a_void_is_refused() {
    let (_d, store) = open();
    let s = approved(&store);
    let c = Connection::open(store.path()).unwrap();
    // A program keeps a copy of the row (with its genuine seal) while it is valid ...
    let saved: String = c
        .query_row(
            "SELECT mac FROM approvals WHERE campaign_id = ?1",
            [&s.campaign_id],
            |r| r.get(0),
        )
        .unwrap();
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    approval::revoke(&store, &s.campaign_id, &alice, "wrong list", T0).unwrap();
    // ... and puts it back after the approval was revoked.
    c.execute(
        "UPDATE approvals SET revoked_at = NULL, revoked_why = NULL, mac = ?2 WHERE campaign_id = ?1",
        [&s.campaign_id, &saved],
    )
    .unwrap();
    // The row's seal is genuine, but the log says this approval was voided after it.
    assert!(row_breaks(&store).is_empty());
    let e = approval::require_approval(&store, &s.campaign_id, &s.fingerprint, T0).unwrap_err();
    assert!(matches!(e, approval::Error::Tampered(_)), "{e}");
}

#[test]
fn edited_operator_roles_are_refused_and_reported() {
    let (_d, store) = open();
    setup_operators(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE operators SET roles = 'sender,approver,admin' WHERE name = 'alice'",
            [],
        )
        .unwrap();
    // Neither the running session nor a new sign-in gains anything.
    let e = operators::authorize(&store, &alice, Role::Admin, T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    let e = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert_eq!(
        approval::set_validity(&store, &alice, Duration::days(30), T0)
            .unwrap_err()
            .code(),
        ErrorCode::Tampered
    );
    assert!(integrity_failures(&store) >= 2);
    assert_eq!(
        row_breaks(&store),
        vec![("operators".into(), "alice".into(), "forged".into())]
    );
}

#[test]
fn inserted_operator_is_refused_and_reported() {
    let (_d, store) = open();
    setup_operators(&store);
    // A row copied from a real operator (hash and seal included) under another name.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "INSERT INTO operators (name, roles, pin_hash, pin_peppered, created_at, mac)
             SELECT 'mallory', 'sender,approver,admin', pin_hash, 1, created_at, mac
             FROM operators WHERE name = 'alice'",
            [],
        )
        .unwrap();
    let e = operators::sign_in(&store, "mallory", &pin("123456"), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert_eq!(
        row_breaks(&store),
        vec![("operators".into(), "mallory".into(), "forged".into())]
    );
}

#[test]
fn reset_lockout_counter_is_refused_and_reported() {
    let (_d, store) = open();
    setup_operators(&store);
    for i in 1..=5 {
        let _ = operators::sign_in(&store, "alice", &pin("864208"), T0 + Duration::seconds(i));
    }
    assert!(operators::find(&store, "alice")
        .unwrap()
        .unwrap()
        .is_locked(T0 + Duration::seconds(6)));
    // Brute force continues after wiping the counter and the lock.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE operators SET failed_attempts = 0, locked_until = NULL WHERE name = 'alice'",
            [],
        )
        .unwrap();
    let e =
        operators::sign_in(&store, "alice", &pin("123456"), T0 + Duration::seconds(7)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert!(operators::find(&store, "alice").is_err());
    assert_eq!(
        row_breaks(&store),
        vec![("operators".into(), "alice".into(), "forged".into())]
    );
}

#[test]
fn edited_approval_validity_setting_is_refused_and_reported() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    approval::set_validity(&store, &admin, Duration::hours(1), T0).unwrap();
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    let s = approval::submit(&store, &campaign(), &alice, T0).unwrap();
    // A year-long approval instead of the admin's hour.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE settings SET value = '31536000' WHERE key = 'approval_validity_secs'",
            [],
        )
        .unwrap();
    let e = approval::approve(
        &store,
        &s.campaign_id,
        &s.fingerprint,
        "bob",
        &pin("correct horse battery"),
        &acks(),
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert!(approval::validity(&store).is_err());
    assert_eq!(
        row_breaks(&store),
        vec![(
            "settings".into(),
            "approval_validity_secs".into(),
            "forged".into()
        )]
    );
    // Deleting the row does not bring back the 24-hour default either.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "DELETE FROM settings WHERE key = 'approval_validity_secs'",
            [],
        )
        .unwrap();
    assert_eq!(
        approval::validity(&store).unwrap_err().code(),
        ErrorCode::Tampered
    );
}

#[test]
fn log_tail_cut_together_with_the_database_head_is_detected() {
    let (_d, store) = open();
    fill_log(&store, 6);
    let c = raw(&store);
    c.execute("DELETE FROM audit_log WHERE id > 4", []).unwrap();
    c.execute(
        "UPDATE audit_head SET id = 4, hash = (SELECT hash FROM audit_log WHERE id = 4)",
        [],
    )
    .unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(
        v.breaks,
        vec![audit::Break {
            id: 4,
            reason: BreakReason::TailCut { head_file_id: 7 }
        }]
    );
    // Removing the head file as well is no way out.
    std::fs::remove_file(store.head_path()).unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(v.breaks[0].reason, BreakReason::HeadFileMissing);
    // Nor is writing one: it is MAC'd with the key.
    let forged = format!(
        "mergeguard-audit-head-v1 {} 4 {} {}\n",
        store.install_id(),
        "00".repeat(32),
        "11".repeat(32)
    );
    std::fs::write(store.head_path(), forged).unwrap();
    let v = audit::verify(&store).unwrap();
    assert_eq!(v.breaks[0].reason, BreakReason::HeadFileForged);
}

#[test]
fn log_rewritten_with_plain_sha256_is_detected() {
    let (_d, store) = open();
    fill_log(&store, 5);
    let c = raw(&store);
    // What an attacker without the key can do: drop an entry, renumber, and recompute
    // the whole chain with the published hash function, heads included.
    c.execute("DELETE FROM audit_log WHERE id = 3", []).unwrap();
    c.execute("UPDATE audit_log SET id = id - 1 WHERE id > 3", [])
        .unwrap();
    let rows: Vec<(i64, String, String, String, Option<String>, String)> = {
        let mut st = c
            .prepare("SELECT id, at, operator, kind, campaign, details FROM audit_log ORDER BY id")
            .unwrap();
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut prev = audit::GENESIS.to_owned();
    for (id, at, op, kind, campaign, details) in &rows {
        let h = audit::entry_hash(&prev, *id, at, op, kind, campaign.as_deref(), details);
        c.execute(
            "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
            rusqlite::params![id, prev, h],
        )
        .unwrap();
        prev = h;
    }
    c.execute(
        "UPDATE audit_head SET id = ?1, hash = ?2",
        rusqlite::params![rows.len() as i64, prev],
    )
    .unwrap();
    let v = audit::verify(&store).unwrap();
    assert!(!v.is_intact());
    // Every entry's hash is not the keyed one; the head file still names entry 6.
    assert_eq!(v.broken_ids(), (1..=5).collect::<Vec<i64>>());
    assert!(v
        .breaks
        .iter()
        .filter(|b| b.id < 5)
        .all(|b| b.reason == BreakReason::Edited));
    assert!(v.breaks.contains(&audit::Break {
        id: 5,
        reason: BreakReason::TailCut { head_file_id: 6 }
    }));
}

#[cfg(unix)]
#[test]
fn data_folder_is_0700_and_its_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("mergeguard");
    let store = Store::open(&dir).unwrap();
    setup_operators(&store);
    assert_eq!(mode(&dir), 0o700);
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    assert!(store.head_path().exists());
}

#[test]
fn a_copied_database_alone_cannot_check_a_pin() {
    let (dir, store) = open();
    setup_operators(&store);
    let hash: String = Connection::open(store.path())
        .unwrap()
        .query_row(
            "SELECT pin_hash FROM operators WHERE name = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    // Argon2id without the keychain's secret (all a copy of the file gives) never
    // confirms the right PIN, so guesses cannot be tested offline.
    assert!(!operators::pin_matches(&hash, &pin("123456"), None));
    // The copy does not open without the key either.
    let copy = tempfile::tempdir().unwrap();
    drop(store);
    for name in ["mergeguard.sqlite3", "mergeguard.sqlite3-wal"] {
        let src = dir.path().join(name);
        if src.exists() {
            std::fs::copy(&src, copy.path().join(name)).unwrap();
        }
    }
    let other_keychain = mergeguard::secrets::install::MemoryKeys::new();
    let e = Store::open_with(copy.path(), &other_keychain).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Keychain, "{e}");
}

#[test]
fn pin_policy_needs_six_digits() {
    let (_d, store) = open();
    let e = operators::create_first_admin(&store, "admin", &pin("12345"), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert!(e.to_string().contains("6 digits"), "{e}");
    let admin = setup_operators(&store);
    let one: BTreeSet<Role> = [Role::Sender].into();
    for weak in ["12345", "abc", "passwd7", ""] {
        let e = operators::add_operator(&store, &admin, "dan", &one, &pin(weak), T0).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{weak:?} was accepted");
    }
    assert!(operators::add_operator(&store, &admin, "dan", &one, &pin("654321"), T0).is_ok());
}

// ---- one authorisation path ----

/// Every role-guarded core entry point, tried with `who` (a session, and the operator's
/// name for those that take a name): each must refuse with one of `codes`.
fn assert_every_guarded_entry_point_refuses(store: &Store, who: &Session, codes: &[ErrorCode]) {
    use mergeguard::{profiles, secrets, suppression, workflow};
    let name = who.operator().to_owned();
    let input = profiles::ProfileInput {
        name: "office".into(),
        host: "smtp.example.test".into(),
        username: "mailer".into(),
        ..Default::default()
    };
    let seen = vec![
        (
            "operator list",
            operators::list(store, who, T0)
                .map(|_| ())
                .unwrap_err()
                .code(),
        ),
        (
            "approval validity",
            approval::set_validity(store, who, Duration::hours(2), T0)
                .unwrap_err()
                .code(),
        ),
        (
            "idle lock",
            operators::set_idle_timeout(store, who, Duration::minutes(5), T0)
                .unwrap_err()
                .code(),
        ),
        (
            "credentials",
            secrets::save_relay_password(store, who, "smtp.example.test:587", "u", &pin("pw"), T0)
                .unwrap_err()
                .code(),
        ),
        (
            "relay profile",
            profiles::add(store, who, &input, None, T0)
                .unwrap_err()
                .code(),
        ),
        (
            "suppression",
            suppression::add(
                store,
                who,
                &["x@example.test".into()],
                suppression::Reason::Manual,
                T0,
            )
            .unwrap_err()
            .code,
        ),
        (
            "test domains",
            workflow::set_test_domains(store, who, &["qa.test".into()], T0)
                .unwrap_err()
                .code,
        ),
        (
            "requeue",
            workflow::requeue_unknown(store, "c1", &[1], &name)
                .unwrap_err()
                .code,
        ),
    ];
    for (what, code) in seen {
        assert!(
            codes.contains(&code),
            "{what}: {code:?} is not one of {codes:?}"
        );
    }
}

#[test]
fn a_session_that_outlives_its_operator_is_refused_by_every_entry_point() {
    let (_d, store) = open();
    let admin = setup_operators(&store);
    let roles: BTreeSet<Role> = [Role::Sender, Role::Admin].into();
    operators::add_operator(&store, &admin, "dana", &roles, &pin("246813"), T0).unwrap();
    let dana = operators::sign_in(&store, "dana", &pin("246813"), T0).unwrap();
    // The session still says admin and sender; the store no longer does.
    operators::disable_operator(&store, &admin, "dana", T0).unwrap();
    assert_every_guarded_entry_point_refuses(
        &store,
        &dana,
        &[ErrorCode::Forbidden, ErrorCode::AuthFailed],
    );
}

#[test]
fn a_forged_role_is_refused_as_tampered_by_every_entry_point() {
    let (_d, store) = open();
    setup_operators(&store);
    let alice = operators::sign_in(&store, "alice", &pin("123456"), T0).unwrap();
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE operators SET roles = 'sender,approver,admin' WHERE name = 'alice'",
            [],
        )
        .unwrap();
    assert_every_guarded_entry_point_refuses(&store, &alice, &[ErrorCode::Tampered]);
    assert!(integrity_failures(&store) >= 1, "the refusals are logged");
}

#[test]
fn a_forged_test_domain_setting_is_refused_and_reported() {
    use mergeguard::workflow;
    let (_d, store) = open();
    let admin = setup_operators(&store);
    workflow::set_test_domains(&store, &admin, &["qa.test".into()], T0).unwrap();
    assert_eq!(
        workflow::test_domains(&store).unwrap(),
        vec!["qa.test".to_owned()]
    );
    // Another program widens where untested, unapproved copies may go.
    Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE settings SET value = 'qa.test,customer.example' WHERE key = ?1",
            [workflow::TEST_DOMAINS_KEY],
        )
        .unwrap();
    let e = workflow::test_domains(&store).unwrap_err();
    assert_eq!(e.code, ErrorCode::Tampered, "{}", e.message);
    assert_eq!(
        row_breaks(&store),
        vec![(
            "settings".into(),
            workflow::TEST_DOMAINS_KEY.into(),
            "forged".into()
        )]
    );
}
