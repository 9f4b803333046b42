//! "What was approved is exactly what is sent, to exactly those people" (issue 10,
//! items 1, 2, 4, 5): each test performs the attack against the real checklist, gate
//! and send (Postfix on 127.0.0.1:2525 where mail would leave) and shows it refused.

mod common_flow;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use common_flow::*;
use mergeguard::approval;
use mergeguard::audit::{self, Filter, Kind};
use mergeguard::operators::{self, Role};
use mergeguard::preflight::Status;
use mergeguard::secrets::Secret;
use mergeguard::send::{Control, SendOptions, State};
use mergeguard::workflow::{self, SendRequest};
use time::OffsetDateTime;

fn request(options: SendOptions) -> SendRequest {
    SendRequest {
        operator: "root".into(),
        password: Some(password()),
        options,
    }
}

fn voided_entries(store: &mergeguard::store::Store, cid: &str) -> usize {
    let filter = Filter {
        campaign: Some(cid.to_owned()),
        kinds: vec![Kind::ApprovalVoided],
        ..Filter::default()
    };
    audit::entries(store, &filter).unwrap().len()
}

const THREE: &str =
    "email,name\na1@example.test,Aiko\nb2@example.test,Bunta\nc3@example.test,Chika\n";

/// Item 1: the text template is replaced after the gate checked the approval and before
/// any message is built (the core's deterministic test hook). Nothing is sent, the
/// approval is void and the void is logged.
#[test]
fn a_template_changed_between_check_and_build_is_refused_and_voids_the_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let id = unique("ab-template");
    let path = relay_campaign(tmp.path(), &id, THREE, "");
    let prepared = prepare(&path);
    approve(&store, &root, &prepared);
    let template = tmp.path().join("t.txt");
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let swapped = AtomicBool::new(false);
    let result = workflow::send_with_hook(
        &store,
        &prepared,
        request(SendOptions::default()),
        control,
        &|_| {},
        &|| {
            std::fs::write(
                &template,
                "Dear {{ name }}, WIRE THE MONEY TO ACCOUNT 666.\n",
            )
            .unwrap();
            swapped.store(true, Ordering::SeqCst);
        },
    );
    assert!(swapped.load(Ordering::SeqCst), "the hook ran");
    let err = result.expect_err("a changed template must stop the send");
    assert!(
        err.message.contains("text template") && err.message.contains("approval is void"),
        "{}",
        err.message
    );
    // Nothing went out and the approval is gone for good.
    let report = workflow::report(&store, &id).unwrap();
    assert!(
        report.iter().all(|r| r.state == State::Queued),
        "{report:?}"
    );
    assert!(approval::current(
        &store,
        &id,
        &prepared.fingerprint,
        OffsetDateTime::now_utc()
    )
    .unwrap()
    .is_none());
    assert!(voided_entries(&store, &id) >= 1, "the void is logged");
    let ids: Vec<String> = ["a1@example.test", "b2@example.test", "c3@example.test"]
        .iter()
        .map(|e| message_id(&id, e))
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(delivered(&ids).is_empty(), "nothing may reach Postfix");
    // Restoring the file does not bring the approval back.
    std::fs::write(&template, "Dear {{ name }},\nour news.\n").unwrap();
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let again = workflow::send(
        &store,
        &prepared,
        request(SendOptions::default()),
        control,
        &|_| {},
    );
    assert!(again.is_err(), "a void approval stays void");
}

/// Item 2: two rows' per-recipient invoices are swapped on disk after the first message
/// went out. The send stops at the first swapped one, nobody receives another
/// customer's file, and the approval is void.
#[test]
fn per_recipient_attachments_swapped_mid_send_stop_at_the_first_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let id = unique("ab-swap");
    let files = tmp.path().join("invoices");
    std::fs::create_dir(&files).unwrap();
    let people = [
        ("a1@example.test", "Aiko", "inv-a.txt"),
        ("b2@example.test", "Bunta", "inv-b.txt"),
        ("c3@example.test", "Chika", "inv-c.txt"),
        ("d4@example.test", "Daichi", "inv-d.txt"),
    ];
    let mut csv = String::from("email,name,invoice\n");
    for (email, name, file) in people {
        csv.push_str(&format!("{email},{name},{file}\n"));
        std::fs::write(
            files.join(file),
            format!("Invoice for {name}: 12,000 yen\n"),
        )
        .unwrap();
    }
    let path = relay_campaign(
        tmp.path(),
        &id,
        &csv,
        "attachment_column = \"invoice\"\nattachment_dir = \"invoices\"",
    );
    let prepared = prepare(&path);
    assert_eq!(prepared.input.recipient_attachments.len(), 4);
    approve(&store, &root, &prepared);

    // One message at a time: after the first outcome, Bunta's and Chika's files swap.
    let options = SendOptions {
        parallel: 1,
        batch: 1,
        ..SendOptions::default()
    };
    let swapped = AtomicBool::new(false);
    let swap = || {
        let b = std::fs::read(files.join("inv-b.txt")).unwrap();
        let c = std::fs::read(files.join("inv-c.txt")).unwrap();
        std::fs::write(files.join("inv-b.txt"), c).unwrap();
        std::fs::write(files.join("inv-c.txt"), b).unwrap();
    };
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let result = workflow::send(&store, &prepared, request(options), control, &|p| {
        if p.sent >= 1 && !swapped.swap(true, Ordering::SeqCst) {
            swap();
        }
    });
    assert!(
        swapped.load(Ordering::SeqCst),
        "the files were swapped mid-send"
    );
    let err = result.expect_err("the swapped invoice must stop the send");
    assert!(
        err.message
            .contains("not the file approved for this recipient")
            && err.message.contains("approval is void"),
        "{}",
        err.message
    );
    let report = workflow::report(&store, &id).unwrap();
    let states: Vec<(&str, State)> = report.iter().map(|r| (r.email.as_str(), r.state)).collect();
    assert_eq!(
        states,
        [
            ("a1@example.test", State::Sent),
            ("b2@example.test", State::Queued),
            ("c3@example.test", State::Queued),
            ("d4@example.test", State::Queued),
        ],
        "stopped at Bunta, the first swapped one; nobody marked failed"
    );
    let ids: Vec<String> = people.iter().map(|(e, _, _)| message_id(&id, e)).collect();
    let got = wait_delivered(&ids, 1);
    assert_eq!(got.len(), 1, "only Aiko's message arrived: {got:?}");
    let aiko = got.get(&ids[0]).expect("Aiko's message");
    assert_eq!(aiko.len(), 1);
    let body = std::fs::read_to_string(&aiko[0]).unwrap();
    // Attachments are base64 or quoted-printable: look for Aiko's own text either way.
    let own = base64_or_plain_contains(&body, "Invoice for Aiko");
    assert!(own, "Aiko received her own invoice: {body}");
    assert!(approval::current(
        &store,
        &id,
        &prepared.fingerprint,
        OffsetDateTime::now_utc()
    )
    .unwrap()
    .is_none());
    assert!(voided_entries(&store, &id) >= 1);
}

fn base64_or_plain_contains(message: &str, needle: &str) -> bool {
    use base64::Engine;
    if message.contains(needle) {
        return true;
    }
    // A MIME part's body runs from the blank line after its headers to the next
    // boundary line ("--…").
    message
        .replace("\r\n", "\n")
        .split("\n\n")
        .flat_map(|part| {
            let joined: String = part
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("--"))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(joined.as_bytes())
                .ok()
        })
        .any(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
}

/// Item 4: a test copy goes to the operator's own recorded address or an admin's
/// internal domain, never to an address merely at the campaign's sender domain.
#[test]
fn test_send_goes_only_to_the_own_address_or_an_internal_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let now = OffsetDateTime::now_utc();
    let id = unique("ab-testsend");
    let path = relay_campaign(tmp.path(), &id, THREE, "");
    let prepared = prepare(&path);
    let row = prepared.recipients.recipients[0].row;

    // The campaign's sender domain is good.test: that alone no longer opens the door.
    let refused = workflow::test_send(&store, &prepared, &root, row, "boss@good.test", None)
        .expect_err("the sender's domain is not the operator's own address");
    assert!(
        refused.message.contains("never to a customer"),
        "{}",
        refused.message
    );
    // A customer, of course, neither.
    assert!(workflow::test_send(&store, &prepared, &root, row, "a1@example.test", None).is_err());

    // Only an admin records addresses and internal domains.
    let bob = operators::sign_in(&store, "bob", &Secret::new(BOB_PIN), now).unwrap();
    assert!(workflow::set_operator_email(&store, &bob, "root", Some("me@good.test"), now).is_err());
    assert!(workflow::set_test_domains(&store, &bob, &["qa.test".into()], now).is_err());
    assert!(
        workflow::set_operator_email(&store, &root, "root", Some("not an address"), now).is_err()
    );
    workflow::set_operator_email(&store, &root, "root", Some(" Me@Good.test "), now).unwrap();
    assert_eq!(
        operators::email(&store, "root").unwrap().as_deref(),
        Some("me@good.test")
    );

    // Still refused for someone else at the sender's domain...
    assert!(workflow::test_send(&store, &prepared, &root, row, "boss@good.test", None).is_err());
    // ...and delivered to the operator's own address.
    let sent = workflow::test_send(
        &store,
        &prepared,
        &root,
        row,
        "me@good.test",
        Some(password()),
    )
    .unwrap();
    assert!(sent.reply.starts_with("250"), "{}", sent.reply);
    let got = wait_delivered(std::slice::from_ref(&sent.message_id), 1);
    assert_eq!(got.get(&sent.message_id).map(Vec::len), Some(1));

    // An internal domain set by the admin opens that domain, for any operator.
    let domains = workflow::set_test_domains(&store, &root, &["QA.test".into()], now).unwrap();
    assert_eq!(domains, ["qa.test"]);
    assert_eq!(workflow::test_domains(&store).unwrap(), ["qa.test"]);
    assert!(workflow::set_test_domains(&store, &root, &["not a domain".into()], now).is_err());
    let roles: BTreeSet<Role> = [Role::Sender].into();
    operators::add_operator(&store, &root, "sam", &roles, &Secret::new("97531864"), now).unwrap();
    let sam = operators::sign_in(&store, "sam", &Secret::new("97531864"), now).unwrap();
    let qa = workflow::test_send(
        &store,
        &prepared,
        &sam,
        row,
        "desk@qa.test",
        Some(password()),
    )
    .unwrap();
    assert!(qa.reply.starts_with("250"), "{}", qa.reply);
    assert!(workflow::test_send(&store, &prepared, &sam, row, "me@good.test", None).is_err());
}

/// Item 5: a CA file other than the approved one at sending time (the command line's
/// `--ca`) changes the fingerprint, so the send is refused and nothing goes out, even
/// when the other file trusts the relay just as well.
#[test]
fn another_ca_at_sending_time_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let id = unique("ab-ca");
    let path = relay_campaign(tmp.path(), &id, THREE, "");
    let prepared = prepare(&path);
    approve(&store, &root, &prepared);

    // The test CA plus one more certificate: the relay still validates, the checklist
    // is the same, only the trusted set differs.
    let mut bundle = std::fs::read(ca_path()).unwrap();
    let extra = std::fs::read_dir("/etc/ssl/certs")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .expect("a system CA certificate");
    bundle.extend(std::fs::read(extra).unwrap());
    let other = tmp.path().join("other-ca.pem");
    std::fs::write(&other, bundle).unwrap();
    let mut with_other = options();
    with_other.ca = Some(other);
    let other_prepared = prepare_with(&path, &with_other);
    assert_eq!(
        other_prepared
            .report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count(),
        0
    );
    assert_ne!(
        other_prepared.fingerprint, prepared.fingerprint,
        "the CA is covered"
    );

    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let err = workflow::send(
        &store,
        &other_prepared,
        request(SendOptions::default()),
        control,
        &|_| {},
    )
    .expect_err("another CA after approval must be refused");
    assert!(
        err.message.contains("changed after it was approved"),
        "{}",
        err.message
    );
    let ids: Vec<String> = ["a1@example.test", "b2@example.test", "c3@example.test"]
        .iter()
        .map(|e| message_id(&id, e))
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(delivered(&ids).is_empty());
}

/// The `attachments.recipient_folder` check of one campaign whose attachment column
/// names `cells` (one row each) in the folder `dir` (relative to the campaign).
fn folder_check(
    tmp: &std::path::Path,
    dir: &str,
    cells: &[&str],
    dkim_key: &str,
) -> (Status, String) {
    let mut csv = String::from("email,name,file\n");
    for (i, cell) in cells.iter().enumerate() {
        csv.push_str(&format!("p{i}@example.test,P{i},{cell}\n"));
    }
    let id = unique("ab-folder");
    let path = relay_campaign(
        tmp,
        &id,
        &csv,
        &format!("attachment_column = \"file\"\nattachment_dir = \"{dir}\""),
    );
    if dkim_key != "dkim.pem" {
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(
                "private_key = \"dkim.pem\"",
                &format!("private_key = \"{dkim_key}\""),
            ),
        )
        .unwrap();
    }
    let prepared = runtime()
        .block_on(workflow::prepare(
            &path,
            &options(),
            std::time::SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap();
    let check = prepared
        .report
        .checks
        .iter()
        .find(|c| c.id == "attachments.recipient_folder")
        .expect("the folder check runs for an attachment column")
        .clone();
    if check.status == Status::Fail {
        assert!(!check.fix.is_empty(), "a failure says how to fix it");
    }
    (check.status, check.detail)
}

/// Item 2: a recipient-file cell naming the DKIM key, a symbolic link, a file outside
/// the folder once links are resolved, a key file, or the data folder fails the
/// checklist; the campaign's own folder is not an attachment folder; a campaign file
/// without a named folder does not load.
#[test]
fn attachment_cells_naming_keys_links_or_outside_files_fail_the_checklist() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let files = t.join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("ok.txt"), "Invoice 1\n").unwrap();
    std::fs::write(files.join("ok2.txt"), "Invoice 2\n").unwrap();
    std::fs::write(t.join("secret.txt"), "payroll\n").unwrap();
    std::fs::create_dir(t.join("elsewhere")).unwrap();
    std::fs::write(t.join("elsewhere/x.txt"), "not for customers\n").unwrap();
    std::os::unix::fs::symlink(t.join("secret.txt"), files.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(t.join("elsewhere"), files.join("sub")).unwrap();
    std::fs::write(files.join("server.key"), "not really a key\n").unwrap();
    std::fs::write(
        files.join("notes.txt"),
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();

    let (status, detail) = folder_check(t, "files", &["ok.txt", "ok2.txt"], "dkim.pem");
    assert_eq!(status, Status::Pass, "{detail}");

    for (cell, why) in [
        ("link.txt", "symbolic link"),
        ("sub/x.txt", "outside the attachment folder"),
        ("server.key", "private key"),
        ("notes.txt", "private key"),
    ] {
        let (status, detail) = folder_check(t, "files", &["ok.txt", cell], "dkim.pem");
        assert_eq!(status, Status::Fail, "{cell}: {detail}");
        assert!(
            detail.contains(cell) && detail.contains(why),
            "{cell}: {detail}"
        );
    }

    // The DKIM key kept (carelessly) in the attachment folder.
    std::fs::copy("tests/data/dkim/rsa2048.pem", files.join("signing.pem")).unwrap();
    let (status, detail) = folder_check(t, "files", &["signing.pem"], "files/signing.pem");
    assert_eq!(status, Status::Fail, "{detail}");
    assert!(detail.contains("DKIM private key"), "{detail}");

    // The campaign's own folder, where the key, templates and campaign live.
    std::fs::write(t.join("readme.txt"), "hello\n").unwrap();
    let (status, detail) = folder_check(t, ".", &["readme.txt"], "dkim.pem");
    assert_eq!(status, Status::Fail, "{detail}");
    assert!(detail.contains("campaign's own folder"), "{detail}");

    // A folder that holds MergeGuard's data folder.
    let shared = t.join("shared");
    std::fs::create_dir_all(shared.join("data")).unwrap();
    std::fs::write(shared.join("inv.txt"), "Invoice 3\n").unwrap();
    let data = shared.join("data");
    let _ = store_with_people(&data);
    let mut csv = String::from("email,name,file\np@example.test,P,inv.txt\n");
    csv.push_str("q@example.test,Q,data/mergeguard.sqlite\n");
    let id = unique("ab-data");
    let path = relay_campaign(
        t,
        &id,
        &csv,
        "attachment_column = \"file\"\nattachment_dir = \"shared\"",
    );
    let mut opts = options();
    opts.data_dir = Some(data);
    let prepared = runtime()
        .block_on(workflow::prepare(
            &path,
            &opts,
            std::time::SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap();
    let check = prepared
        .report
        .checks
        .iter()
        .find(|c| c.id == "attachments.recipient_folder")
        .unwrap();
    assert_eq!(check.status, Status::Fail, "{}", check.detail);
    assert!(check.detail.contains("data folder"), "{}", check.detail);

    // No attachment_dir: the file does not load, and says what to add.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("attachment_dir = \"shared\"\n", "");
    std::fs::write(&path, text).unwrap();
    let err = mergeguard::campaign::Campaign::load(&path).unwrap_err();
    assert!(err.to_string().contains("attachment_dir"), "{err}");
}
