//! The suppression list: who may change it, that every change is logged without the
//! addresses, that imports reject listed addresses, and that hard bounces from a send
//! are listed automatically while policy refusals are not.

use std::collections::BTreeSet;
use std::sync::Arc;

use mergeguard::audit::{self, Filter, Kind};
use mergeguard::error::ErrorCode;
use mergeguard::operators::{self, Role, Session};
use mergeguard::recipients::{import_bytes, ImportOptions, RejectReason};
use mergeguard::secrets::Secret;
use mergeguard::send::state::{self, Outcome};
use mergeguard::store::Store;
use mergeguard::suppression::{self, Reason};
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-28 09:00 UTC);

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

/// An admin, a sender ("alice") and an approver ("bob"), signed in.
fn people(store: &Store) -> (Session, Session, Session) {
    let pin = |s: &str| Secret::new(s);
    operators::create_first_admin(store, "admin", &pin("999999"), T0).unwrap();
    let admin = operators::sign_in(store, "admin", &pin("999999"), T0).unwrap();
    let roles = |r: Role| -> BTreeSet<Role> { [r].into() };
    operators::add_operator(
        store,
        &admin,
        "alice",
        &roles(Role::Sender),
        &pin("123456"),
        T0,
    )
    .unwrap();
    operators::add_operator(
        store,
        &admin,
        "bob",
        &roles(Role::Approver),
        &pin("432198"),
        T0,
    )
    .unwrap();
    let alice = operators::sign_in(store, "alice", &pin("123456"), T0).unwrap();
    let bob = operators::sign_in(store, "bob", &pin("432198"), T0).unwrap();
    (admin, alice, bob)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn log_of(store: &Store, kind: Kind) -> Vec<audit::Entry> {
    let filter = Filter {
        kinds: vec![kind],
        ..Filter::default()
    };
    audit::entries(store, &filter).unwrap()
}

#[test]
fn a_sender_adds_only_an_admin_removes_and_the_log_has_counts_not_addresses() {
    let (_d, store) = open();
    let (admin, alice, bob) = people(&store);
    let added = suppression::add(
        &store,
        &alice,
        &strings(&[" Taro@Example.JP ", "hanako@example.jp"]),
        Reason::Unsubscribed,
        T0,
    )
    .unwrap();
    assert_eq!(added, 2);
    // Already listed (in any case): not added twice, first reason kept.
    let again = suppression::add(
        &store,
        &alice,
        &strings(&["taro@example.jp"]),
        Reason::Manual,
        T0,
    );
    assert_eq!(again.unwrap(), 0);
    assert!(suppression::contains(&store, "TARO@example.jp").unwrap());
    let listed = suppression::list(&store).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|e| e.reason == "unsubscribed" && e.added_by == "alice"));

    // An approver may not change the list; a sender may not remove from it.
    let e = suppression::add(
        &store,
        &bob,
        &strings(&["x@example.jp"]),
        Reason::Manual,
        T0,
    );
    assert_eq!(e.unwrap_err().code, ErrorCode::Forbidden);
    let e = suppression::remove(&store, &alice, &strings(&["taro@example.jp"]), T0);
    assert_eq!(e.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(
        suppression::remove(&store, &admin, &strings(&["TARO@example.jp"]), T0).unwrap(),
        1
    );
    assert!(!suppression::contains(&store, "taro@example.jp").unwrap());

    // Not one address: refused, and nothing of the batch is added.
    for bad in ["", "no-at-sign", "a@x.jp, b@y.jp", "Taro <t@x.jp>"] {
        let e = suppression::add(
            &store,
            &alice,
            &strings(&["ok@example.jp", bad]),
            Reason::Manual,
            T0,
        );
        assert_eq!(e.unwrap_err().code, ErrorCode::InvalidInput, "{bad:?}");
    }
    assert!(!suppression::contains(&store, "ok@example.jp").unwrap());

    let added = log_of(&store, Kind::SuppressionAdded);
    assert_eq!(
        added.len(),
        1,
        "only the change that added something is logged"
    );
    assert_eq!(added[0].operator, "alice");
    assert_eq!(added[0].details, r#"{"count":2,"reason":"unsubscribed"}"#);
    let removed = log_of(&store, Kind::SuppressionRemoved);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].operator, "admin");
    for e in added.iter().chain(&removed) {
        assert!(
            !e.details.contains('@'),
            "an address reached the log: {}",
            e.details
        );
    }
    assert!(audit::verify(&store).unwrap().is_intact());
}

#[test]
fn an_import_rejects_listed_addresses_whatever_their_case() {
    let (_d, store) = open();
    let (_admin, alice, _bob) = people(&store);
    suppression::add(
        &store,
        &alice,
        &strings(&["hanako@example.jp"]),
        Reason::Unsubscribed,
        T0,
    )
    .unwrap();
    let options = ImportOptions {
        suppressed: Some(Arc::new(suppression::keys(&store).unwrap())),
        ..ImportOptions::default()
    };
    let csv = b"name,email\nTaro,taro@example.jp\nHanako, Hanako@Example.JP \n";
    let list = import_bytes(csv, &options).unwrap();
    assert_eq!(list.recipients.len(), 1);
    assert_eq!(list.recipients[0].email(), "taro@example.jp");
    assert_eq!(list.rejected.len(), 1);
    assert_eq!(
        (list.rejected[0].row, list.rejected[0].reason),
        (3, RejectReason::Suppressed)
    );
}

#[test]
fn hard_bounces_of_a_send_are_listed_and_policy_refusals_are_not() {
    let (_d, store) = open();
    // The send engine's own tables, in the store's database file.
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let rows: Vec<(u64, String)> = (1..=4).map(|i| (i, format!("c{i}@example.jp"))).collect();
    state::enqueue(&conn, "camp", &rows, 0).unwrap();
    let outcomes = [
        Outcome::Failed {
            code: Some(550),
            text: "550 5.1.1 <c1@example.jp>: User unknown".into(),
        },
        Outcome::Failed {
            code: Some(554),
            text: "554 5.7.1 rejected as spam".into(),
        },
        Outcome::Sent {
            code: 250,
            text: "250 2.0.0 Ok".into(),
            queue_id: None,
        },
        Outcome::Failed {
            code: Some(550),
            text: "550 5.1.10 RecipientNotFound".into(),
        },
    ];
    for ((row, _), outcome) in rows.iter().zip(&outcomes) {
        assert!(state::mark_sending(&conn, "camp", *row, "<id>", 1).unwrap());
        state::record(&conn, "camp", *row, outcome, 2).unwrap();
    }
    assert_eq!(suppression::record_bounces(&store, "camp", T0).unwrap(), 2);
    // Recording again adds nothing.
    assert_eq!(suppression::record_bounces(&store, "camp", T0).unwrap(), 0);
    let listed = suppression::list(&store).unwrap();
    let addresses: Vec<&str> = listed.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(addresses, ["c1@example.jp", "c4@example.jp"]);
    assert!(listed.iter().all(|e| e.reason == "bounced"
        && e.added_by == suppression::RELAY
        && e.campaign.as_deref() == Some("camp")));
    let log = log_of(&store, Kind::SuppressionAdded);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].campaign.as_deref(), Some("camp"));
}
