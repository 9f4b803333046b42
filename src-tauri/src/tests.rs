//! Proves through the command layer (the same plain functions the `#[tauri::command]`
//! wrappers call) that no IPC path can skip the core's rules: a send without approval,
//! a send after the recipient file changed on disk, and a command from an idle session
//! are all refused, and nothing reaches the Outbox folder.

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use mergeguard::error::ErrorCode;

use crate::error::{CommandError, ShellCode};
use crate::state::AppState;
use crate::{access, campaigns, flow, oplog, preview, relay};

const ADMIN: &str = "Aiko";
const ADMIN_PIN: &str = "246813";
const APPROVER: &str = "Ben";
const APPROVER_PIN: &str = "135792";

/// A copy of the example campaign (it writes to an `[outbox]` folder) and a fresh store.
struct Fixture {
    _dir: tempfile::TempDir,
    campaign: PathBuf,
    outbox: PathBuf,
    csv: PathBuf,
    state: AppState,
}

fn fixture(idle: Duration) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let work = dir.path().join("campaign");
    std::fs::create_dir_all(&work).unwrap();
    for f in [
        "campaign.toml",
        "customers.csv",
        "newsletter.txt",
        "newsletter.html",
        "coupon.txt",
    ] {
        std::fs::copy(examples.join(f), work.join(f))
            .unwrap_or_else(|e| panic!("copy examples/{f}: {e}"));
    }
    let campaign = work.join("campaign.toml");
    let toml = std::fs::read_to_string(&campaign).unwrap();
    assert!(
        toml.contains("[outbox]"),
        "the example campaign writes to an Outbox folder"
    );
    let state = AppState::open(Some(&dir.path().join("data")), Some(idle))
        .with_campaigns_dir(dir.path().join("campaigns"));
    Fixture {
        outbox: work.join("outbox"),
        csv: work.join("customers.csv"),
        campaign,
        state,
        _dir: dir,
    }
}

fn eml_count(outbox: &Path) -> usize {
    std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// First admin signs in, adds an approver, opens the campaign and runs the checklist.
/// The admin (signed in) and the approver, as every flow test starts.
fn admin_and_approver(f: &Fixture, now: OffsetDateTime) {
    access::create_first_admin(
        &f.state,
        now,
        ADMIN.into(),
        ADMIN_PIN.into(),
        ADMIN_PIN.into(),
    )
    .expect("first admin");
    access::add_operator(
        &f.state,
        now,
        APPROVER.into(),
        vec!["approver".into()],
        APPROVER_PIN.into(),
        APPROVER_PIN.into(),
    )
    .expect("add approver");
}

fn prepared(f: &Fixture, now: OffsetDateTime) {
    admin_and_approver(f, now);
    campaigns::open(&f.state, now, &f.campaign).expect("open campaign");
    let view = runtime()
        .block_on(flow::run_checklist(&f.state, now, &|_, _| {}))
        .expect("checklist runs");
    assert!(view.outbox, "the example is an Outbox campaign");
    assert!(
        view.passed,
        "the example passes the checklist: {:?}",
        view.checks
    );
}

fn approve_all_warnings(f: &Fixture, now: OffsetDateTime) {
    flow::submit_for_approval(&f.state, now).expect("submit");
    let review = flow::review(&f.state, now).expect("review");
    assert_eq!(review.submitted_by.as_deref(), Some(ADMIN));
    let ack: Vec<String> = review.warnings.iter().map(|c| c.id.clone()).collect();
    assert!(
        ack.iter().any(|id| id == "outbox.nothing_sent"),
        "the outbox warning is shown: {ack:?}"
    );
    flow::approve(&f.state, now, APPROVER.into(), APPROVER_PIN.into(), ack).expect("approve");
}

fn send_result(
    f: &Fixture,
    now: OffsetDateTime,
) -> Result<mergeguard::send::Summary, CommandError> {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&events);
    let handle = flow::start_send(&f.state, now, "generic", move |e| {
        sink.lock().unwrap().push(e)
    })?;
    let result = handle.join().expect("send thread");
    let last = events
        .lock()
        .unwrap()
        .pop()
        .expect("the worker reports how it ended");
    match (&result, last) {
        (Ok(_), flow::SendEvent::Finished { .. }) | (Err(_), flow::SendEvent::Stopped { .. }) => {}
        (r, e) => panic!("last event {e:?} does not match the result {r:?}"),
    }
    result
}

/// A send that must be refused for want of a valid approval, writing nothing.
fn assert_refused_unapproved(f: &Fixture, now: OffsetDateTime, why: &str) {
    let err = send_result(f, now).expect_err(why);
    assert!(
        err.is_core(ErrorCode::NotApproved),
        "{why}: refused as not approved: {err:?}"
    );
    assert_eq!(
        eml_count(&f.outbox),
        0,
        "{why}: nothing written to the Outbox folder"
    );
}

#[test]
fn send_without_approval_is_refused_and_writes_nothing() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    assert_refused_unapproved(&f, now, "no approval: the send must be refused");

    // Submitted but not yet approved: still refused.
    flow::submit_for_approval(&f.state, now).expect("submit");
    assert_refused_unapproved(&f, now, "submitted only: refused");
}

#[test]
fn approved_send_writes_one_file_per_recipient() {
    // The control case: the refusals above are not a send that can never work.
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    assert!(flow::review(&f.state, now).unwrap().approved.is_none());
    approve_all_warnings(&f, now);
    // The review shows the approval (as after a restart), without logging a refusal.
    let approved = flow::review(&f.state, now)
        .unwrap()
        .approved
        .expect("approval shown");
    assert_eq!(
        approved.fingerprint,
        f.state.prepared().unwrap().fingerprint
    );
    let summary = send_result(&f, now).expect("approved send runs");
    let recipients = flow::review(&f.state, now).unwrap().recipient_count;
    assert_eq!(summary.counts.sent as usize, recipients);
    assert_eq!(eml_count(&f.outbox), recipients, "one .eml per recipient");
    let report = flow::send_report(&f.state, now).expect("report");
    assert_eq!(report.len(), recipients);
    let csv = f.outbox.with_file_name("report.csv");
    assert_eq!(
        flow::export_send_report(&f.state, now, csv.display().to_string()).unwrap(),
        recipients
    );
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("row,email,state"));

    // The send recorded where its List-Unsubscribe asks people to mail
    // (mailto:unsubscribe@shop.test?subject=unsubscribe-{token}); a request carrying a
    // sent message's token counts only there.
    use mergeguard::mailbox::{classify, Class};
    use mergeguard::unsubscribe::{TokenIndex, Verdict};
    let eml = std::fs::read_dir(&f.outbox)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .unwrap();
    let eml = std::fs::read_to_string(eml.path()).unwrap();
    let header = eml
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: "))
        .expect("a List-Unsubscribe header");
    let token = header
        .split("subject=unsubscribe-")
        .nth(1)
        .and_then(|t| t.get(..32))
        .expect("a token in the mailto subject");
    let store = f.state.store().unwrap();
    let index = TokenIndex::build(&store, OffsetDateTime::now_utc()).unwrap();
    let request = |to: &str| {
        format!("From: a@example.jp\r\nTo: {to}\r\nSubject: unsubscribe-{token}\r\n\r\n.\r\n")
    };
    assert!(matches!(
        classify(request("unsubscribe@shop.test").as_bytes(), &index),
        Class::Unsubscribe(Verdict::Valid(_))
    ));
    assert!(matches!(
        classify(request("info@shop.test").as_bytes(), &index),
        Class::Unsubscribe(Verdict::WrongAddress { .. })
    ));
}

#[test]
fn editing_the_recipient_csv_after_approval_makes_the_send_refuse() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    // One more customer, appended on disk after the approval (ASCII is valid Shift_JIS).
    let mut bytes = std::fs::read(&f.csv).unwrap();
    if !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    let fields = String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .map(|h| h.split(',').count())
        .unwrap_or(2);
    let mut row = vec!["x".to_owned(); fields];
    let email_at = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| {
            t.lines()
                .nth(1)
                .and_then(|l| l.split(',').position(|c| c.contains('@')))
        })
        .unwrap_or(0);
    row[email_at] = "intruder@leak.example".into();
    bytes.extend_from_slice(row.join(",").as_bytes());
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&f.csv, bytes).unwrap();

    assert_refused_unapproved(&f, now, "the list changed after approval: refused");
}

/// With a fixed campaign id the campaign stays "the same campaign" across edits, so the
/// approval must cover the campaign file itself: a swapped unsubscribe URL after the
/// approval refuses the send.
#[test]
fn editing_the_unsubscribe_url_after_approval_makes_the_send_refuse() {
    let f = fixture(Duration::minutes(10));
    let toml = std::fs::read_to_string(&f.campaign).unwrap();
    let toml = toml.replace("# id = \"winter-sale-2026\"", "id = \"winter-sale-2026\"");
    assert!(toml.contains("\nid = \"winter-sale-2026\""));
    std::fs::write(&f.campaign, &toml).unwrap();
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    let swapped = toml.replace(
        "https://shop.test/unsubscribe",
        "https://evil.example/unsubscribe",
    );
    assert_ne!(swapped, toml);
    std::fs::write(&f.campaign, swapped).unwrap();

    assert_refused_unapproved(&f, now, "the campaign changed after approval: refused");
}

/// Someone who unsubscribes after the approval is not mailed: the recipients changed,
/// so the send refuses; checked and approved again, the send leaves them out.
#[test]
fn an_address_suppressed_after_approval_is_not_sent() {
    use mergeguard::suppression::{self, Reason};
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    let before = flow::review(&f.state, now).unwrap().recipient_count;
    let gone = f.state.prepared().unwrap().recipients.recipients[0]
        .email()
        .to_string();

    let store = f.state.store().unwrap();
    let pin = mergeguard::secrets::Secret::new(ADMIN_PIN);
    let admin = mergeguard::operators::sign_in(&store, ADMIN, &pin, now).unwrap();
    suppression::add(
        &store,
        &admin,
        std::slice::from_ref(&gone),
        Reason::Unsubscribed,
        now,
    )
    .unwrap();

    assert_refused_unapproved(&f, now, "the recipients changed after approval");

    let view = runtime()
        .block_on(flow::run_checklist(&f.state, now, &|_, _| {}))
        .expect("checklist runs");
    assert!(view.passed, "{:?}", view.checks);
    // The example lists that address twice (row 11 repeats row 2): both rows are left
    // out as on the Do not mail list, and the checklist counts them.
    assert_eq!(
        view.suppressed, 2,
        "the checklist counts the rows on the Do not mail list"
    );
    assert_eq!(view.recipient_count, before - 1);
    approve_all_warnings(&f, now);
    let summary = send_result(&f, now).expect("approved again, the send runs");
    assert_eq!(summary.counts.sent as usize, before - 1);
    assert_eq!(eml_count(&f.outbox), before - 1);
    for entry in std::fs::read_dir(&f.outbox).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !text.contains(&format!("To: {gone}")),
            "{gone} was written anyway"
        );
    }
}

#[test]
fn an_unknown_sending_speed_is_refused_before_anything_starts() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    let err = flow::start_send(&f.state, now, "flat-out", |_| {}).expect_err("unknown preset");
    assert!(err.message.contains("microsoft365"), "{err:?}");
    assert_eq!(eml_count(&f.outbox), 0);
    // The Microsoft 365 limits still let a small campaign through at once (30 a minute).
    let handle = flow::start_send(&f.state, now, "microsoft365", |_| {}).expect("starts");
    let summary = handle.join().expect("send thread").expect("sends");
    assert_eq!(eml_count(&f.outbox), summary.counts.sent as usize);
}

/// The "Do not mail" screen's commands: the sender adds (one address per line), only
/// the admin removes, and a signed-out window gets nothing.
#[test]
fn do_not_mail_list_through_the_command_layer() {
    use crate::suppress;
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    access::add_operator(
        &f.state,
        now,
        "Sena".into(),
        vec!["sender".into()],
        "864208".into(),
        "864208".into(),
    )
    .expect("add sender");
    access::sign_out(&f.state).expect("sign out");
    assert!(
        suppress::list(&f.state, now).is_err(),
        "signed out: nothing"
    );
    access::sign_in(&f.state, now, "Sena".into(), "864208".into()).expect("sender signs in");
    let added = suppress::add(
        &f.state,
        now,
        " a@example.jp \n\nB@Example.JP\n",
        "unsubscribed",
    );
    assert_eq!(added.expect("a sender adds"), 2);
    let e = suppress::add(&f.state, now, "a@x.jp, b@y.jp", "manual").expect_err("two in one line");
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");
    let e = suppress::add(&f.state, now, "c@example.jp", "spam").expect_err("unknown reason");
    assert!(e.message.contains("unsubscribed"), "{e:?}");
    let listed = suppress::list(&f.state, now).unwrap();
    let addresses: Vec<&str> = listed.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(addresses, ["a@example.jp", "b@example.jp"]);
    let e = suppress::remove(&f.state, now, "a@example.jp").expect_err("a sender cannot remove");
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, ADMIN.into(), ADMIN_PIN.into()).unwrap();
    assert_eq!(suppress::remove(&f.state, now, "a@example.jp").unwrap(), 1);
    assert_eq!(suppress::list(&f.state, now).unwrap().len(), 1);
}

/// The test-send command refuses a customer's address (and any address that is not the
/// operator's own) and an Outbox campaign (no relay to test) before anything is sent;
/// the real-relay path is tested through the CLI.
#[test]
fn test_send_goes_nowhere_but_the_operators_own_address() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    let row = f.state.prepared().unwrap().recipients.recipients[0].row;
    let customer = f.state.prepared().unwrap().recipients.recipients[0]
        .email()
        .to_string();
    let rt = runtime();
    let e = rt
        .block_on(flow::test_send(&f.state, now, row, customer))
        .expect_err("a customer's address");
    assert!(e.message.contains("never to a customer"), "{e:?}");
    let e = rt
        .block_on(flow::test_send(&f.state, now, row, "me@shop.test".into()))
        .expect_err("an address at the sender's domain is not the operator's own");
    assert!(e.message.contains("never to a customer"), "{e:?}");
    // The admin records their own address; then the only refusal left is the Outbox.
    let admin = f.state.signed_in(now).unwrap();
    mergeguard::workflow::set_operator_email(
        &f.state.store().unwrap(),
        &admin,
        admin.operator(),
        Some("me@shop.test"),
        now,
    )
    .expect("an admin records their own address");
    let e = rt
        .block_on(flow::test_send(&f.state, now, row, "me@shop.test".into()))
        .expect_err("an Outbox campaign has no relay");
    assert!(e.message.contains("Outbox"), "{e:?}");
    assert_eq!(eml_count(&f.outbox), 0);
}

#[test]
fn an_idle_session_is_locked_by_the_command_layer() {
    let f = fixture(Duration::minutes(5));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    let later = now + Duration::minutes(6);
    let err = send_result(&f, later).expect_err("idle: refused");
    assert!(err.is(ShellCode::Locked), "locked: {err:?}");
    assert_eq!(eml_count(&f.outbox), 0, "nothing written while locked");
    // Every other command is refused too, until someone signs in again.
    assert!(preview::preview_message(&f.state, later, 0)
        .err()
        .unwrap()
        .is(ShellCode::Locked));
    assert!(flow::review(&f.state, later)
        .unwrap_err()
        .is(ShellCode::Locked));
    assert!(oplog::log_entries(&f.state, later, Default::default())
        .unwrap_err()
        .is(ShellCode::Locked));
    assert!(access::app_status(&f.state).unwrap().locked_name.as_deref() == Some(ADMIN));
    let wrong = access::sign_in(&f.state, later, ADMIN.into(), "000000".into()).unwrap_err();
    assert!(wrong.is_core(ErrorCode::AuthFailed), "{wrong:?}");
    access::sign_in(&f.state, later, ADMIN.into(), ADMIN_PIN.into()).expect("sign in again");
    assert!(flow::review(&f.state, later).is_ok());
}

#[test]
fn approval_by_the_preparer_or_a_wrong_pin_is_refused() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    flow::submit_for_approval(&f.state, now).unwrap();
    let ack: Vec<String> = flow::review(&f.state, now)
        .unwrap()
        .warnings
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let same =
        flow::approve(&f.state, now, ADMIN.into(), ADMIN_PIN.into(), ack.clone()).unwrap_err();
    assert!(same.is_core(ErrorCode::Forbidden), "{same:?}");
    let wrong =
        flow::approve(&f.state, now, APPROVER.into(), "999999".into(), ack.clone()).unwrap_err();
    assert!(wrong.is_core(ErrorCode::AuthFailed), "{wrong:?}");
    let unack =
        flow::approve(&f.state, now, APPROVER.into(), APPROVER_PIN.into(), vec![]).unwrap_err();
    assert!(unack.is_core(ErrorCode::NotApproved), "{unack:?}");
    assert_eq!(eml_count(&f.outbox), 0);
}

#[test]
fn no_command_answers_before_sign_in_and_no_pin_reaches_the_log() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    assert!(access::app_status(&f.state).unwrap().needs_first_admin);
    let err = campaigns::open(&f.state, now, &f.campaign).unwrap_err();
    assert!(err.is(ShellCode::SignedOut), "{err:?}");
    let mismatch = access::create_first_admin(
        &f.state,
        now,
        ADMIN.into(),
        ADMIN_PIN.into(),
        "246913".into(),
    )
    .unwrap_err();
    assert!(mismatch.is(ShellCode::InvalidInput), "{mismatch:?}");
    prepared(&f, now);
    let log = oplog::log_entries(&f.state, now, Default::default()).unwrap();
    assert!(log.verification.intact);
    for kind in ["operator_added", "import", "check_run"] {
        assert!(
            log.entries.iter().any(|e| e.kind == kind),
            "{kind} is in the log"
        );
    }
    let out = f.outbox.with_file_name("log.json");
    oplog::export_log(
        &f.state,
        now,
        Default::default(),
        "json",
        out.display().to_string(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    for pin in [ADMIN_PIN, APPROVER_PIN] {
        assert!(!text.contains(pin), "a PIN reached the operation log");
    }
    let only_ops = oplog::FilterForm {
        kind: Some("operator_added".into()),
        ..Default::default()
    };
    assert_eq!(
        oplog::log_entries(&f.state, now, only_ops).unwrap().total,
        2
    );
}

#[test]
fn relay_password_needs_an_admin_and_a_relay() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    let outbox = flow::save_relay_password(&f.state, now, "secret".into()).unwrap_err();
    assert!(outbox.is(ShellCode::InvalidInput), "{outbox:?}");
    assert_eq!(
        flow::requeue_unknown(&f.state, now).unwrap(),
        0,
        "nothing unknown to re-queue"
    );
    access::sign_in(&f.state, now, APPROVER.into(), APPROVER_PIN.into()).unwrap();
    let not_admin = flow::save_relay_password(&f.state, now, "secret".into()).unwrap_err();
    assert!(not_admin.is_core(ErrorCode::Forbidden), "{not_admin:?}");
    let not_sender = flow::start_send(&f.state, now, "generic", |_| {})
        .expect_err("an approver-only operator cannot send");
    assert!(not_sender.is_core(ErrorCode::Forbidden), "{not_sender:?}");
    assert!(access::list_operators(&f.state, now)
        .unwrap_err()
        .is_core(ErrorCode::Forbidden));
}

#[test]
fn the_admin_idle_setting_locks_the_session() {
    let dir = tempfile::tempdir().unwrap();
    // No override: the store's setting decides.
    let state = AppState::open(Some(dir.path()), None);
    let now = OffsetDateTime::now_utc();
    access::create_first_admin(
        &state,
        now,
        ADMIN.into(),
        ADMIN_PIN.into(),
        ADMIN_PIN.into(),
    )
    .unwrap();
    assert_eq!(access::settings(&state, now).unwrap().idle_minutes, 10);
    let bad = access::save_settings(&state, now, 0, 24).unwrap_err();
    assert!(bad.is(ShellCode::InvalidInput), "{bad:?}");
    let saved = access::save_settings(&state, now, 2, 12).unwrap();
    assert_eq!((saved.idle_minutes, saved.approval_hours), (2, 12));
    assert!(
        access::settings(&state, now + Duration::seconds(90)).is_ok(),
        "90 s is not idle"
    );
    let t = now + Duration::seconds(90) + Duration::minutes(2);
    assert!(access::settings(&state, t)
        .unwrap_err()
        .is(ShellCode::Locked));

    // The environment override may shorten the admin's 2 minutes, never lengthen them.
    drop(state);
    let state = AppState::open(Some(dir.path()), Some(Duration::hours(8)));
    assert_eq!(state.idle_timeout(), Duration::minutes(2));
    let state = AppState::open(Some(dir.path()), Some(Duration::seconds(5)));
    assert_eq!(state.idle_timeout(), Duration::seconds(5));
}

/// Campaigns as documents: a saved edit after approval is refused at the send, and the
/// window's stage says the campaign changed; a new approval of the saved campaign sends.
#[test]
fn a_save_after_approval_needs_a_new_approval() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    approve_all_warnings(&f, now);
    let opened = campaigns::open(&f.state, now, &f.campaign).expect("open");
    let mut form = opened.form;
    form.subject = format!("{} (changed)", form.subject);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let saved = campaigns::save(&f.state, now, form.clone()).expect("save");
    assert_eq!(
        saved.form.subject, form.subject,
        "the saved file is reopened"
    );
    assert_eq!(saved.stage.stage, mergeguard::documents::Stage::Changed);
    // The checklist result belonged to the old bytes: nothing to send until it runs.
    assert!(
        f.state.prepared().is_err(),
        "the old checklist result is dropped"
    );
    runtime()
        .block_on(flow::run_checklist(&f.state, now, &|_, _| {}))
        .expect("checklist");
    assert_refused_unapproved(&f, now, "a save after approval");
    approve_all_warnings(&f, now);
    let summary = send_result(&f, now).expect("re-approved send runs");
    assert!(summary.counts.sent > 0);
    // Every .eml has the saved subject.
    let any = std::fs::read_dir(&f.outbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(std::fs::read_to_string(any).unwrap().contains("(changed)"));
}

/// A new campaign made in the window, its recipient file copied in, composed and saved,
/// is checked and previewed from the saved file.
#[test]
fn a_new_campaign_is_made_and_saved_in_the_window() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    let created = campaigns::create(&f.state, now, "Spring sale").expect("new campaign");
    assert!(created.summary.is_none(), "no recipients yet");
    assert!(created
        .problems
        .iter()
        .any(|p| p.field == "recipients_file"));
    let with_list = campaigns::set_recipient_file(
        &f.state,
        now,
        f.csv.display().to_string(),
        true,
        None,
        None,
        None,
    )
    .expect("recipient file");
    let copied = with_list.recipients_path.clone().unwrap();
    assert!(
        copied.starts_with(&with_list.folder),
        "a copy inside the folder: {copied}"
    );
    let mut form = with_list.form;
    form.from_name = "Good Shop".into();
    form.from_address = "news@good.test".into();
    form.subject = "Spring sale for {{ 氏名 }}".into();
    form.text = "{{ 氏名 }} 様\n\n{{ nosuchfield }}\n".into();
    form.html_from_text = true;
    let saved = campaigns::save(&f.state, now, form.clone()).expect("save");
    let unknown: Vec<_> = saved
        .problems
        .iter()
        .filter(|p| p.message.contains("nosuchfield"))
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", saved.problems);
    assert!(unknown[0].message.contains("row 2"), "{:?}", unknown[0]);
    // The same rule checks an unsaved form in place, and nothing is written.
    let on_disk = std::fs::read(&saved.path).unwrap();
    let mut typed = form.clone();
    typed.text = "{{ 氏名 }} 様 {{ 会員番号x }}\n".into();
    let problems = campaigns::check_form(&f.state, now, typed).expect("check");
    assert!(
        problems
            .iter()
            .any(|p| p.field == "text" && p.message.contains("会員番号x")),
        "{problems:?}"
    );
    assert_eq!(
        std::fs::read(&saved.path).unwrap(),
        on_disk,
        "checking writes nothing"
    );
    form.text = "{{ 氏名 }} 様\n\nSpring sale.\n".into();
    let saved = campaigns::save(&f.state, now, form).expect("save");
    assert!(saved.problems.is_empty(), "{:?}", saved.problems);
    let view = preview::preview_message(&f.state, now, 0).expect("preview");
    let m = view.message.expect("built");
    assert!(
        m.raw.contains("text/html"),
        "the HTML part is made from the text"
    );
    let list = campaigns::list(&f.state, now).expect("list");
    assert!(
        list.campaigns.iter().any(|c| c.title == "Spring sale"),
        "{list:?}"
    );
    let check = runtime()
        .block_on(flow::run_checklist(&f.state, now, &|_, _| {}))
        .expect("checklist of the saved campaign");
    assert!(check.passed, "{:?}", check.checks);
}

/// Relay profiles through the command layer: only an admin adds one, and the password
/// goes to the keychain only — never into a response, the database or the log.
#[test]
fn relay_profiles_need_an_admin_and_never_show_the_password() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!("run inside tests/servers/keyring-session.sh (a real Secret Service)");
    }
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    let password = "Pw-never-shown-7f3a9c";
    let input = mergeguard::profiles::ProfileInput {
        name: "Office 365".into(),
        provider: "microsoft365".into(),
        username: format!("mailer-{}@good.test", std::process::id()),
        ..Default::default()
    };
    let saved = relay::save(&f.state, now, None, input.clone(), Some(password.into()))
        .expect("admin saves");
    assert_eq!(
        saved.host, "smtp.office365.com",
        "the preset fills the host"
    );
    let listed = relay::list(&f.state, now).expect("list");
    assert_eq!(listed.profiles[0].has_password, Some(true));
    let json = serde_json::to_string(&listed).unwrap() + &serde_json::to_string(&saved).unwrap();
    assert!(!json.contains(password), "no response carries the password");
    let log = oplog::log_entries(&f.state, now, Default::default()).unwrap();
    assert!(!serde_json::to_string(&log).unwrap().contains(password));
    let data = f.csv.parent().unwrap().parent().unwrap().join("data");
    for entry in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is not in the data folder"
        );
    }
    // The approver (not an admin) cannot add or change a profile.
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, APPROVER.into(), APPROVER_PIN.into()).expect("sign in");
    let refused = relay::save(
        &f.state,
        now,
        Some("Office 365".into()),
        mergeguard::profiles::ProfileInput {
            port: Some(25),
            ..input
        },
        None,
    )
    .unwrap_err();
    assert!(refused.is_core(ErrorCode::Forbidden), "{refused:?}");
    assert!(relay::remove(&f.state, now, "Office 365".into()).is_err());
    // Clean up the keychain entry as the admin.
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, ADMIN.into(), ADMIN_PIN.into()).unwrap();
    relay::remove(&f.state, now, "Office 365".into()).expect("admin removes");
}

#[test]
fn a_role_forged_in_the_data_folder_is_refused_by_the_command_layer() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    // Another program of the same user gives the approver every role, in the file.
    let db = f.state.store().unwrap().path().to_owned();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE operators SET roles = 'sender,approver,admin' WHERE name = ?1",
            [APPROVER],
        )
        .unwrap();
    access::sign_out(&f.state).unwrap();
    let e = access::sign_in(&f.state, now, APPROVER.into(), APPROVER_PIN.into()).unwrap_err();
    assert!(e.is_core(ErrorCode::Tampered), "{e:?}");
    // The admin still signs in; the operator list meets the forged row and refuses.
    access::sign_in(&f.state, now, ADMIN.into(), ADMIN_PIN.into()).expect("admin signs in");
    let e = access::list_operators(&f.state, now).unwrap_err();
    assert!(e.is_core(ErrorCode::Tampered), "{e:?}");
}

/// The reason key of a refusal, as the window reads it to say the sentence in Japanese.
fn reason_key(e: &CommandError) -> Option<&'static str> {
    e.reason.as_ref().map(|r| r.key)
}

#[test]
fn refusals_carry_the_reason_the_window_words_in_both_languages() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    access::create_first_admin(
        &f.state,
        now,
        ADMIN.into(),
        ADMIN_PIN.into(),
        ADMIN_PIN.into(),
    )
    .unwrap();
    // Asking for the approval screen before any checklist run is a missing step, not
    // "not approved" (which the window used to hide).
    let e = flow::review(&f.state, now).unwrap_err();
    assert!(e.is(ShellCode::NotReady), "{e:?}");
    assert_eq!(reason_key(&e), Some("no_checklist_run"));
    let e = flow::submit_for_approval(&f.state, now).unwrap_err();
    assert_eq!(reason_key(&e), Some("no_checklist_run"), "{e:?}");
    access::sign_out(&f.state).unwrap();
    // Wrong PINs: the third one says how many tries are left, with the number.
    let mut reasons = Vec::new();
    for _ in 0..4 {
        let e = access::sign_in(&f.state, now, ADMIN.into(), "000000".into()).unwrap_err();
        let tries = e
            .reason
            .as_ref()
            .and_then(|r| r.params.get("tries_left"))
            .and_then(|v| v.as_u64());
        reasons.push((reason_key(&e), tries));
    }
    assert_eq!(
        reasons,
        [
            (Some("wrong_pin"), None),
            (Some("wrong_pin"), None),
            (Some("wrong_pin_tries_left"), Some(2)),
            (Some("wrong_pin_tries_left"), Some(1)),
        ]
    );
    let e = access::sign_in(&f.state, now, ADMIN.into(), "000000".into()).unwrap_err();
    assert!(e.is_core(ErrorCode::LockedOut));
    assert_eq!(reason_key(&e), Some("locked_until"));
    // The JSON the window gets: code, message, and the reason with its parameters.
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["code"], "locked_out");
    assert!(json["reason"]["params"]["until"].is_string());
}

#[test]
fn an_admin_resets_a_pin_changes_roles_and_switches_people_on_in_the_window() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    admin_and_approver(&f, now);
    access::set_roles(
        &f.state,
        now,
        APPROVER.into(),
        vec!["approver".into(), "sender".into()],
    )
    .unwrap();
    let e = access::set_roles(&f.state, now, APPROVER.into(), vec![]).unwrap_err();
    assert_eq!(reason_key(&e), Some("no_role_chosen"));
    let e = access::reset_pin(
        &f.state,
        now,
        APPROVER.into(),
        "864200".into(),
        "864201".into(),
    )
    .unwrap_err();
    assert_eq!(reason_key(&e), Some("pins_differ"));
    access::reset_pin(
        &f.state,
        now,
        APPROVER.into(),
        "864200".into(),
        "864200".into(),
    )
    .unwrap();
    access::disable_operator(&f.state, now, APPROVER.into()).unwrap();
    access::enable_operator(&f.state, now, APPROVER.into()).unwrap();
    let ben = access::list_operators(&f.state, now)
        .unwrap()
        .into_iter()
        .find(|o| o.name == APPROVER)
        .unwrap();
    assert!(ben.pin_reset && !ben.disabled && ben.roles.len() == 2);
    access::sign_out(&f.state).unwrap();
    // Ben signs in with the one-time PIN: refused until he chooses his own, then in.
    let e = access::sign_in(&f.state, now, APPROVER.into(), "864200".into()).unwrap_err();
    assert!(e.is_core(ErrorCode::PinChangeRequired), "{e:?}");
    let view = access::change_pin(
        &f.state,
        now,
        APPROVER.into(),
        "864200".into(),
        "975318".into(),
        "975318".into(),
    )
    .unwrap();
    assert_eq!(view.name, APPROVER);
    // Ben is no admin: he cannot change anyone's roles or reset a PIN.
    let e = access::set_roles(&f.state, now, ADMIN.into(), vec!["sender".into()]).unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    let e = access::reset_pin(
        &f.state,
        now,
        ADMIN.into(),
        "111111".into(),
        "111111".into(),
    )
    .unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
}

#[test]
fn every_shell_code_has_words_in_both_languages() {
    let i18n = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/i18n.js"))
        .unwrap();
    let ja = i18n.find("\n  ja: {").expect("a Japanese block");
    for code in ShellCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        let key = format!("    err_{}:", name.as_str().unwrap());
        let (en_part, ja_part) = i18n.split_at(ja);
        assert!(en_part.contains(&key), "no English words for {key}");
        assert!(ja_part.contains(&key), "no Japanese words for {key}");
    }
}

#[test]
fn refusals_reach_the_diagnostics_file_without_names_pins_or_addresses() {
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    let logs = f._dir.path().join("logs");
    crate::logging::init(&logs).expect("the subscriber installs once per test process");
    access::create_first_admin(
        &f.state,
        now,
        ADMIN.into(),
        ADMIN_PIN.into(),
        ADMIN_PIN.into(),
    )
    .unwrap();
    access::sign_out(&f.state).unwrap();
    let e = access::sign_in(&f.state, now, "taro@example.jp".into(), "918273".into()).unwrap_err();
    // Crossing to the window is where a refusal is written down.
    serde_json::to_string(&e).unwrap();
    let text: String = std::fs::read_dir(&logs)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(text.contains("MergeGuard started"), "{text}");
    assert!(
        text.contains("AuthFailed") && text.contains("wrong_pin"),
        "{text}"
    );
    for secret in ["taro@example.jp", "918273", ADMIN_PIN] {
        assert!(
            !text.contains(secret),
            "{secret} reached the diagnostics file"
        );
    }
}

#[test]
fn mailbox_dmarc_and_sign_in_commands_keep_the_core_rules() {
    use crate::mailbox;
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!("run inside tests/servers/keyring-session.sh (a real Secret Service)");
    }
    let mut f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    prepared(&f, now);
    // The Domain reports' PTR names come from the test DNS (tests/servers/dns.sh), as
    // MERGEGUARD_DNS would point the window at it.
    let dns: std::net::SocketAddr = std::env::var("MG_TEST_DNS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:5353".into())
        .parse()
        .unwrap();
    f.state = f
        .state
        .with_resolver(mergeguard::preflight::dns::Resolver::At(dns));
    let ptr = mergeguard::preflight::dns::PtrLimits::default();
    let summary = |relay_ips: Vec<String>| {
        runtime().block_on(mailbox::summary(&f.state, now, None, None, relay_ips, &ptr))
    };
    let input = mergeguard::profiles::ProfileInput {
        name: "Shop mail".into(),
        provider: "other".into(),
        host: "127.0.0.1".into(),
        port: Some(2525),
        security: "starttls".into(),
        username: format!("mailbox-{}@good.test", std::process::id()),
        ..Default::default()
    };
    relay::save(&f.state, now, None, input, None).expect("admin saves a profile");
    // No mailbox yet: checking it is one plain refusal, nothing read.
    let e = runtime()
        .block_on(mailbox::check(&f.state, now, "Shop mail".into()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");
    // The admin names one; plain text cannot be chosen.
    let plain = mergeguard::mailbox::MailboxInput {
        host: "imap.good.test".into(),
        security: "plain".into(),
        ..Default::default()
    };
    let e = mailbox::save_settings(&f.state, now, "Shop mail".into(), Some(plain)).unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");
    let tls = mergeguard::mailbox::MailboxInput {
        host: "imap.good.test".into(),
        ..Default::default()
    };
    let saved = mailbox::save_settings(&f.state, now, "Shop mail".into(), Some(tls.clone()))
        .unwrap()
        .unwrap();
    assert_eq!((saved.port, saved.folder.as_str()), (993, "INBOX"));
    let view = mailbox::view(&f.state, now, "Shop mail".into()).unwrap();
    assert_eq!(view.sign_in, "password");
    assert!(view.last_sync.is_none());
    // DMARC reports through the command layer: a bomb stores nothing, then a real one.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/dmarc");
    let good = data.join("google.xml").display().to_string();
    let bomb = data.join("bomb.xml").display().to_string();
    let e = mailbox::import_reports(&f.state, now, vec![good.clone(), bomb]).unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");
    assert_eq!(summary(vec![]).unwrap().reports, 0);
    let loopback = data.join("loopback.xml").display().to_string();
    let imported = mailbox::import_reports(&f.state, now, vec![good, loopback]).unwrap();
    assert_eq!(imported.new, 2);
    // The log names who imported them.
    let store = f.state.store().unwrap();
    let log = mergeguard::audit::entries(&store, &mergeguard::audit::Filter::default()).unwrap();
    let by: Vec<&str> = log
        .iter()
        .filter(|e| e.kind == "dmarc_report_imported")
        .map(|e| e.operator.as_str())
        .collect();
    let who = f.state.signed_in(now).unwrap();
    assert_eq!(by, [who.operator(), who.operator()], "{log:?}");
    let s = summary(vec!["192.0.2.10".into()]).unwrap();
    assert!(s
        .warnings
        .iter()
        .any(|w| w.starts_with("Someone else is sending as shop.test")));
    // Each source shown with its PTR name where the DNS has one (reverse.zone:
    // 127.0.0.1 is mail.good.test, 127.0.0.3 has none).
    let ptr_of = |ip: &str| {
        s.sources
            .iter()
            .find(|x| x.source_ip == ip)
            .unwrap_or_else(|| panic!("{ip} is a source"))
            .ptr
            .clone()
    };
    assert_eq!(ptr_of("127.0.0.1").as_deref(), Some("mail.good.test"));
    assert_eq!(ptr_of("127.0.0.3"), None);
    assert_eq!(ptr_of("192.0.2.10"), None);
    assert!(summary(vec!["not-an-ip".into()]).is_err());
    // The approver may neither set a mailbox nor a sign-in, nor check the mailbox.
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, APPROVER.into(), APPROVER_PIN.into()).unwrap();
    let e = mailbox::save_settings(&f.state, now, "Shop mail".into(), None).unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    let oauth = mergeguard::oauth::OAuthInput {
        provider: "microsoft365".into(),
        client_id: "00000000-0000-0000-0000-000000000000".into(),
        ..Default::default()
    };
    let e = mailbox::configure_oauth(&f.state, now, "Shop mail".into(), Some(oauth.clone()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    let e = runtime()
        .block_on(mailbox::check(&f.state, now, "Shop mail".into()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    // The admin switches the profile to Microsoft 365 sign-in; until signed in, the
    // mailbox check says "sign in again" before connecting anywhere.
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, ADMIN.into(), ADMIN_PIN.into()).unwrap();
    let s = mailbox::configure_oauth(&f.state, now, "Shop mail".into(), Some(oauth))
        .unwrap()
        .unwrap();
    assert_eq!(s.provider, mergeguard::oauth::Provider::Microsoft365);
    let view = mailbox::view(&f.state, now, "Shop mail".into()).unwrap();
    assert_eq!((view.sign_in, view.signed_in), ("oauth2", Some(false)));
    let e = runtime()
        .block_on(mailbox::check(&f.state, now, "Shop mail".into()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::SignInRequired), "{e:?}");
    let e = runtime()
        .block_on(mailbox::finish_sign_in(&f.state, now, "Shop mail".into()))
        .unwrap_err();
    assert!(
        e.is_core(ErrorCode::InvalidInput),
        "no sign-in was started: {e:?}"
    );
    // An idle session is locked here too.
    let later = now + Duration::hours(2);
    assert!(mailbox::view(&f.state, later, "Shop mail".into()).is_err());
    access::sign_in(&f.state, later, ADMIN.into(), ADMIN_PIN.into()).unwrap();
    relay::remove(&f.state, later, "Shop mail".into()).expect("admin removes");
}

/// "Sign in in your browser" (Google): only an admin starts it, only for a profile that
/// signs in with OAuth2 and a provider that allows it; the provider's page is opened
/// from Rust (recorded here, no browser starts), the client secret stays in the
/// keychain, and the browser's answer reaches the core (a declined consent here, sent
/// as the provider would, so no network is needed).
#[test]
fn browser_sign_in_commands_keep_the_core_rules() {
    use crate::mailbox;
    use std::io::{Read, Write};
    use std::sync::Mutex;
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!("run inside tests/servers/keyring-session.sh (a real Secret Service)");
    }
    let f = fixture(Duration::minutes(10));
    let now = OffsetDateTime::now_utc();
    admin_and_approver(&f, now);
    let opened = Mutex::new(Vec::<String>::new());
    let record = |url: &str| {
        opened.lock().unwrap().push(url.to_owned());
        true
    };
    let start = |profile: &str| {
        runtime().block_on(mailbox::start_browser_sign_in(
            &f.state,
            now,
            profile.into(),
            &record,
        ))
    };
    // No such profile, and a profile that signs in with its password: refused.
    assert!(start("Nobody").is_err());
    let input = mergeguard::profiles::ProfileInput {
        name: "Gmail".into(),
        provider: "google".into(),
        username: format!("browser-{}@good.test", std::process::id()),
        ..Default::default()
    };
    relay::save(&f.state, now, None, input, None).expect("admin saves a profile");
    let e = start("Gmail").unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");

    // Google with its client secret: kept in the keychain, never shown back.
    let secret = format!("GOCSPX-test-{}", std::process::id());
    let google = mergeguard::oauth::OAuthInput {
        provider: "google".into(),
        client_id: "123-abc.apps.googleusercontent.com".into(),
        client_secret: secret.clone(),
        ..Default::default()
    };
    let saved = mailbox::configure_oauth(&f.state, now, "Gmail".into(), Some(google.clone()))
        .unwrap()
        .unwrap();
    assert!(!serde_json::to_string(&saved).unwrap().contains(&secret));
    let view = mailbox::view(&f.state, now, "Gmail".into()).unwrap();
    assert_eq!(view.client_secret_saved, Some(true));
    assert_eq!(view.flows, [mergeguard::oauth::Flow::Browser]);
    assert!(!serde_json::to_string(&view).unwrap().contains(&secret));
    // Saved again without typing it: kept.
    let again = mergeguard::oauth::OAuthInput {
        client_secret: String::new(),
        ..google.clone()
    };
    mailbox::configure_oauth(&f.state, now, "Gmail".into(), Some(again)).unwrap();
    let view = mailbox::view(&f.state, now, "Gmail".into()).unwrap();
    assert_eq!(view.client_secret_saved, Some(true));
    // Google refuses the Gmail scope in the device flow: refused before any network use.
    let e = runtime()
        .block_on(mailbox::start_sign_in(&f.state, now, "Gmail".into()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");

    // The approver may not sign the profile in: nothing opens.
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, APPROVER.into(), APPROVER_PIN.into()).unwrap();
    let e = start("Gmail").unwrap_err();
    assert!(e.is_core(ErrorCode::Forbidden), "{e:?}");
    assert!(
        opened.lock().unwrap().is_empty(),
        "no browser for a refusal"
    );
    access::sign_out(&f.state).unwrap();
    access::sign_in(&f.state, now, ADMIN.into(), ADMIN_PIN.into()).unwrap();

    // Nothing started yet: finishing is one plain refusal.
    let e = runtime()
        .block_on(mailbox::finish_browser_sign_in(
            &f.state,
            now,
            "Gmail".into(),
        ))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");

    // The admin starts it: Google's page, opened once, with a way back to 127.0.0.1.
    let started = start("Gmail").unwrap();
    assert!(started.opened);
    assert_eq!(
        opened.lock().unwrap().as_slice(),
        std::slice::from_ref(&started.authorize_url)
    );
    let url = started.authorize_url.as_str();
    assert!(
        url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{url}"
    );
    for part in [
        "access_type=offline",
        "prompt=consent",
        "code_challenge_method=S256",
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A",
        "scope=https%3A%2F%2Fmail.google.com%2F",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert!(
        !url.contains(&secret),
        "the client secret never leaves for the browser"
    );
    let query = |name: &str| -> String {
        let start = url.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let value = &url[start..];
        value[..value.find('&').unwrap_or(value.len())].to_owned()
    };
    let (state, back) = (query("state"), query("redirect_uri"));
    let port: u16 = back
        .trim_start_matches("http%3A%2F%2F127.0.0.1%3A")
        .trim_end_matches("%2Fcallback")
        .parse()
        .unwrap();
    // The person cancels on Google's page; Google sends the browser back with
    // error=access_denied and this sign-in's state.
    let browser = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /callback?error=access_denied&state={state} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )
        .unwrap();
        let mut page = String::new();
        s.read_to_string(&mut page).unwrap();
        page
    });
    let e = runtime()
        .block_on(mailbox::finish_browser_sign_in(
            &f.state,
            now,
            "Gmail".into(),
        ))
        .unwrap_err();
    let page = browser.join().unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("go back to MergeGuard"), "{page}");
    assert!(e.is_core(ErrorCode::AuthFailed), "{e:?}");
    assert_eq!(reason_key(&e), Some("sign_in_declined"));
    let view = mailbox::view(&f.state, now, "Gmail".into()).unwrap();
    assert_eq!(view.signed_in, Some(false));
    // Used once.
    let e = runtime()
        .block_on(mailbox::finish_browser_sign_in(
            &f.state,
            now,
            "Gmail".into(),
        ))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");

    // "Stop" while the window waits: the wait ends at once, the way back to 127.0.0.1
    // closes, nothing is kept. A stop with nothing waiting does nothing.
    assert!(!mailbox::cancel_sign_in(&f.state, now, "Gmail".into()).unwrap());
    let started = start("Gmail").unwrap();
    let back = &started.authorize_url[started.authorize_url.find("127.0.0.1%3A").unwrap() + 12..];
    let port: u16 = back[..back.find("%2F").unwrap()].parse().unwrap();
    let stopped = runtime().block_on(async {
        let waiting = mailbox::finish_browser_sign_in(&f.state, now, "Gmail".into());
        let stop = async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            assert!(mailbox::cancel_sign_in(&f.state, now, "Gmail".into()).unwrap());
        };
        let (r, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::join!(waiting, stop)
        })
        .await
        .expect("the stop ends the wait");
        r
    });
    let e = stopped.unwrap_err();
    assert!(e.message.contains("stopped"), "{e:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the sign-in's port is closed"
    );
    let view = mailbox::view(&f.state, now, "Gmail".into()).unwrap();
    assert_eq!(view.signed_in, Some(false));

    // Microsoft's public clients have no secret: one typed is refused; switching to
    // Microsoft forgets Google's.
    let microsoft = mergeguard::oauth::OAuthInput {
        provider: "microsoft365".into(),
        client_id: "00000000-0000-0000-0000-000000000000".into(),
        client_secret: "not-for-microsoft".into(),
        ..Default::default()
    };
    let e = mailbox::configure_oauth(&f.state, now, "Gmail".into(), Some(microsoft.clone()))
        .unwrap_err();
    assert!(e.is_core(ErrorCode::InvalidInput), "{e:?}");
    let microsoft = mergeguard::oauth::OAuthInput {
        client_secret: String::new(),
        ..microsoft
    };
    mailbox::configure_oauth(&f.state, now, "Gmail".into(), Some(microsoft)).unwrap();
    let view = mailbox::view(&f.state, now, "Gmail".into()).unwrap();
    assert_eq!(view.client_secret_saved, Some(false));
    assert_eq!(
        view.flows,
        [
            mergeguard::oauth::Flow::Device,
            mergeguard::oauth::Flow::Browser
        ]
    );

    // The secret reached no file of the data folder (database, log, diagnostics).
    let mut stack = vec![f._dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "the client secret is in {}",
                    path.display()
                );
            }
        }
    }
    relay::remove(&f.state, now, "Gmail".into()).expect("admin removes");
}
