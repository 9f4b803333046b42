//! Campaigns as documents (`mergeguard::documents`): a campaign the app creates and saves
//! is the same file the command line reads, a relay profile named in it is what the
//! checklist probes and the approval covers, and the start screen's stages come from
//! the store. Needs the test servers (Postfix, DNS) for the profile flow; run with
//!   tests/servers/keyring-session.sh cargo test --workspace --test documents

mod common_cli;
mod common_flow;

use std::path::Path;

use common_cli::mg;
use common_flow::*;
use mergeguard::approval;
use mergeguard::campaign::Campaign;
use mergeguard::documents::{self, CampaignForm, Stage};
use mergeguard::profiles::{self, ProfileInput};
use mergeguard::send::{Control, SendOptions};
use mergeguard::workflow::{self, SendRequest};
use time::OffsetDateTime;

const CSV: &str = "email,name\na1@example.test,Aiko\nb2@example.test,Bunta\n";

fn written_form(dir: &Path) -> CampaignForm {
    std::fs::write(dir.join("src.csv"), CSV).unwrap();
    CampaignForm {
        from_name: "Good Shop".into(),
        from_address: "news@good.test".into(),
        subject: "Hello {{ name }}".into(),
        text: "Dear {{ name }},\n\nour news.\n".into(),
        html_from_text: true,
        ..CampaignForm::default()
    }
}

#[test]
fn a_new_campaign_saved_in_the_app_is_read_by_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("campaigns");
    let path = documents::create(&home, "December newsletter", None).unwrap();
    assert_eq!(path, home.join("December newsletter").join("campaign.toml"));
    // Brand new: no recipients yet, so the form says what is missing, nothing fails.
    let fresh = documents::read(&path).unwrap();
    assert!(
        fresh.id.starts_with('c') && fresh.id.len() == 17,
        "{}",
        fresh.id
    );
    assert_eq!(fresh.destination, "outbox");
    assert!(fresh
        .problems()
        .iter()
        .any(|p| p.field == "recipients_file"));

    let mut form = written_form(tmp.path());
    form.id = fresh.id.clone();
    form.destination = "outbox".into();
    form.recipients_file = documents::copy_in(&path, &tmp.path().join("src.csv"), None).unwrap();
    assert_eq!(form.recipients_file, "src.csv");
    std::fs::write(tmp.path().join("coupon.txt"), "10% off\n").unwrap();
    form.attachments =
        vec![
            documents::copy_in(&path, &tmp.path().join("coupon.txt"), Some("attachments")).unwrap(),
        ];
    let saved = documents::save(&path, &form).unwrap();
    assert!(saved.problems.is_empty(), "{:?}", saved.problems);

    // The copy is what is used: editing the original spreadsheet changes nothing.
    std::fs::write(tmp.path().join("src.csv"), "email\nzz@example.test\n").unwrap();
    let back = documents::read(&path).unwrap();
    assert_eq!(back.id, fresh.id, "the id is kept across saves");
    assert_eq!(back.subject, form.subject);
    assert_eq!(back.text, form.text);
    assert!(back.html_from_text, "the made HTML is recognised again");
    assert!(
        back.html.contains("<p>Dear {{ name }},</p>"),
        "{}",
        back.html
    );
    assert_eq!(back.attachments, vec!["attachments/coupon.txt".to_owned()]);

    // The command line previews the same file: two messages, the made HTML merged.
    let out = mg(
        &tmp.path().join("data"),
        &[
            "preview",
            "--campaign",
            path.to_str().unwrap(),
            "--row",
            "3",
            "--json",
        ],
        "",
    );
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{raw}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        raw.contains("b2@example.test") && raw.contains("Hello Bunta"),
        "{raw}"
    );
    assert!(raw.contains("coupon.txt"), "{raw}");
    assert!(raw.contains("text/html"), "{raw}");
}

#[test]
fn a_bad_form_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let path = documents::create(&tmp.path().join("c"), "x", None).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut form = documents::read(&path).unwrap();
    form.destination = "profile".into(); // but no profile chosen
    let err = documents::save(&path, &form).unwrap_err();
    assert!(err.message.contains("relay profile"), "{}", err.message);
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was written");
    // A template syntax error is saved (nothing typed is lost) and named on its field.
    let mut form = documents::read(&path).unwrap();
    form.from_address = "news@good.test".into();
    form.recipients_file = "r.csv".into();
    form.subject = "Hello {{ name".into();
    form.text = "x".into();
    let saved = documents::save(&path, &form).unwrap();
    assert_eq!(saved.problems.len(), 1, "{:?}", saved.problems);
    assert_eq!(saved.problems[0].field, "subject", "{:?}", saved.problems);
    assert_eq!(documents::read(&path).unwrap().subject, "Hello {{ name");
    // Titles that are not folder names.
    assert!(documents::create(&tmp.path().join("c"), " / ", None).is_err());
}

#[test]
fn a_duplicate_is_a_new_campaign_with_its_own_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("campaigns");
    let path = documents::create(&home, "November", None).unwrap();
    let mut form = written_form(tmp.path());
    form.id = documents::read(&path).unwrap().id;
    form.destination = "outbox".into();
    form.recipients_file = documents::copy_in(&path, &tmp.path().join("src.csv"), None).unwrap();
    documents::save(&path, &form).unwrap();
    std::fs::create_dir_all(path.parent().unwrap().join("outbox")).unwrap();
    std::fs::write(path.parent().unwrap().join("outbox/old.eml"), "x").unwrap();

    let copy = documents::duplicate(&path, &home, "November").unwrap();
    assert_eq!(copy, home.join("November (2)").join("campaign.toml"));
    let a = documents::read(&path).unwrap();
    let b = documents::read(&copy).unwrap();
    assert_ne!(a.id, b.id, "a duplicate starts a new campaign");
    assert_eq!(b.subject, a.subject);
    assert_eq!(b.recipients_file, "src.csv");
    assert!(copy.parent().unwrap().join("src.csv").is_file());
    assert!(
        !copy.parent().unwrap().join("outbox/old.eml").exists(),
        "old Outbox messages are not copied"
    );
}

#[test]
fn the_campaign_list_shows_each_stage_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let home = tmp.path().join("campaigns");
    let path = documents::create(&home, "Stages", None).unwrap();
    let mut form = written_form(tmp.path());
    form.id = documents::read(&path).unwrap().id;
    form.destination = "outbox".into();
    form.outbox_folder = "outbox".into();
    form.recipients_file = documents::copy_in(&path, &tmp.path().join("src.csv"), None).unwrap();
    documents::save(&path, &form).unwrap();
    let now = OffsetDateTime::now_utc();
    let stage_of = || documents::list(&home, &store, OffsetDateTime::now_utc()).unwrap()[0].stage;
    assert_eq!(stage_of(), Stage::Draft);

    let prepared = prepare_unchecked(&path);
    workflow::log_check_run(&store, "root", &prepared, now).unwrap();
    assert_eq!(stage_of(), Stage::Checked);
    workflow::submit(&store, &prepared, &root, now).unwrap();
    assert_eq!(stage_of(), Stage::Submitted);
    workflow::approve(
        &store,
        &prepared,
        "bob",
        &mergeguard::secrets::Secret::new(BOB_PIN),
        &prepared.warnings(),
        now,
    )
    .unwrap();
    assert_eq!(stage_of(), Stage::Approved);

    // A save after the approval: the list says it needs a new one…
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut edited = documents::read(&path).unwrap();
    edited.subject = "Hello again {{ name }}".into();
    documents::save(&path, &edited).unwrap();
    assert_eq!(stage_of(), Stage::Changed);
    // …and the send refuses the saved campaign without a new approval.
    let again = prepare_unchecked(&path);
    assert_ne!(again.fingerprint, prepared.fingerprint);
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let refused = workflow::send(
        &store,
        &again,
        SendRequest {
            operator: "root".into(),
            password: None,
            options: SendOptions::default(),
        },
        control,
        &|_| {},
    );
    assert!(refused.is_err(), "an edit after approval must not be sent");
    assert!(!path
        .parent()
        .unwrap()
        .join("outbox")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));

    // A file the app cannot read is listed with its error, never hidden.
    std::fs::create_dir_all(home.join("Broken")).unwrap();
    std::fs::write(home.join("Broken/campaign.toml"), "not = [toml").unwrap();
    let list = documents::list(&home, &store, now).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|e| e.title == "Broken" && e.error.is_some()));
}

/// The checklist over a campaign, whatever it finds (Outbox campaigns warn).
fn prepare_unchecked(path: &Path) -> workflow::Prepared {
    runtime()
        .block_on(workflow::prepare(
            path,
            &options(),
            std::time::SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap()
}

fn profile_input(name: &str, username: &str) -> ProfileInput {
    let (host, port) = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse().unwrap()))
        .unwrap();
    ProfileInput {
        name: name.into(),
        provider: "other".into(),
        host,
        port: Some(port),
        security: "starttls".into(),
        username: username.into(),
        ca_file: Some(ca_path().into()),
        ..ProfileInput::default()
    }
}

/// `[relay] profile = "name"`: the checklist probes the profile's relay, the approval
/// covers its settings, and a profile changed after the approval voids it.
#[test]
fn a_campaign_sent_through_a_profile_is_bound_to_the_profile_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, root) = store_with_people(&tmp.path().join("data"));
    let now = OffsetDateTime::now_utc();
    let user = env("MG_TEST_SMTP_USER", "mailer");
    profiles::add(
        &store,
        &root,
        &profile_input("Office relay", &user),
        None,
        now,
    )
    .unwrap();

    let id = unique("doc-profile");
    let path = relay_campaign(tmp.path(), &id, CSV, "");
    // Replace the written-out relay by the profile, as the app writes it.
    let mut form = documents::read(&path).unwrap();
    assert_eq!(form.destination, "relay");
    form.destination = "profile".into();
    form.relay_profile = "office relay".into(); // case does not matter
    form.relay = None;
    documents::save(&path, &form).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[relay]\nprofile = \"office relay\""),
        "{text}"
    );
    assert!(!text.contains("host"), "{text}");

    // Without the store's profiles, the campaign cannot be checked: said in words.
    let err = runtime()
        .block_on(workflow::prepare(
            &path,
            &options(),
            std::time::SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap_err();
    assert!(
        err.message
            .contains("relay profile \"office relay\" does not exist"),
        "{}",
        err.message
    );

    let with_profiles =
        |store: &mergeguard::store::Store| mergeguard::preflight::campaign::CheckOptions {
            relay_profiles: profiles::list(store).unwrap(),
            ..options()
        };
    let prepared = prepare_with(&path, &with_profiles(&store));
    let relay = prepared
        .campaign
        .relay
        .as_ref()
        .expect("the profile's relay");
    assert_eq!(relay.username, user);
    assert!(prepared.input.relay.as_ref().unwrap().ca_sha256.is_some());
    approve(&store, &root, &prepared);

    // The admin changes the profile (another user name) after the approval.
    profiles::update(
        &store,
        &root,
        "Office relay",
        &profile_input("Office relay", "someone-else"),
        None,
        now,
    )
    .unwrap();
    let after = runtime()
        .block_on(workflow::prepare(
            &path,
            &with_profiles(&store),
            std::time::SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap();
    assert_ne!(
        after.fingerprint, prepared.fingerprint,
        "the fingerprint covers the profile"
    );
    assert!(
        approval::current(&store, &id, &after.fingerprint, OffsetDateTime::now_utc())
            .unwrap()
            .is_none()
    );
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let refused = workflow::send(
        &store,
        &after,
        SendRequest {
            operator: "root".into(),
            password: Some(password()),
            options: SendOptions::default(),
        },
        control,
        &|_| {},
    );
    assert!(refused.is_err(), "a changed profile needs a new approval");
    let ids: Vec<String> = ["a1@example.test", "b2@example.test"]
        .iter()
        .map(|e| message_id(&id, e))
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(delivered(&ids).is_empty(), "nothing may reach Postfix");

    // The command line reads the same profile from the store.
    let c = Campaign::load(&path).unwrap();
    assert_eq!(c.relay_profile.as_deref(), Some("office relay"));
    assert!(
        c.relay.is_none(),
        "looked up only with the store's profiles"
    );
}
