//! The mailbox loop against the real Dovecot and Postfix of tests/servers/mailbox.sh: a
//! folder seeded with unsubscribe mails (valid, replayed, forged tokens, and a valid one
//! mailed to another address than the campaign's unsubscribe address), a DSN Postfix
//! itself produced, a non-standard soft bounce, DMARC reports (zip, gzip, xml), spam and
//! an ordinary reply. Needs the keychain (the command line is killed mid-sync):
//!   MG_TEST_DIR=... tests/servers/keyring-session.sh cargo test -p mergeguard --test mailbox

mod common_cli;
mod common_mailbox;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use common_mailbox::*;
use mergeguard::audit::{self, Filter};
use mergeguard::mailbox::{self, MailboxInput, SyncOptions};
use mergeguard::operators::{self, Session};
use mergeguard::profiles::{self, ProfileInput};
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use mergeguard::unsubscribe::UnsubscribeKey;
use time::OffsetDateTime;

const CAMPAIGN: &str = "spring-2026";

fn require_session() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "mailbox tests need a real Secret Service: run them with\n  \
             tests/servers/keyring-session.sh cargo test -p mergeguard --test mailbox"
        );
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    profile: String,
    /// The signed-in admin ("admin", PIN 999999), who checks the mailbox.
    admin: Session,
}

/// The mailto address of the campaign's List-Unsubscribe, as its send recorded it.
const UNSUBSCRIBE_TO: &str = "unsubscribe+{token}@shop.test";

/// A store with an admin, a relay profile for bob (password in the keychain, the test
/// CA) that reads `folder` over IMAPS, and three sent deliveries of one campaign whose
/// send recorded its unsubscribe address (as `workflow::send` does, in `send_start`).
fn fixture(folder: &str, deliveries: &[(&str, &str)]) -> Fixture {
    require_session();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now()).unwrap();
    let admin: Session =
        operators::sign_in(&store, "admin", &Secret::new("999999"), now()).unwrap();
    let e = env();
    let profile = format!("mbx-{}", uuid::Uuid::new_v4().simple());
    profiles::add(
        &store,
        &admin,
        &ProfileInput {
            name: profile.clone(),
            provider: "other".into(),
            host: "127.0.0.1".into(),
            port: Some(3125),
            security: "starttls".into(),
            username: e["OAUTH_MAILBOX_USER2"].clone(),
            ca_file: Some(ca()),
            ..ProfileInput::default()
        },
        Some(&Secret::new(e["OAUTH_MAILBOX_PASSWORD2"].clone())),
        now(),
    )
    .unwrap();
    mailbox::set_settings(
        &store,
        &admin,
        &profile,
        Some(&MailboxInput {
            host: "127.0.0.1".into(),
            port: Some(3193),
            security: "tls".into(),
            folder: folder.into(),
        }),
        now(),
    )
    .unwrap();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let sent_at = now().unix_timestamp() * 1000;
    for (i, (email, message_id)) in deliveries.iter().enumerate() {
        conn.execute(
            "INSERT INTO deliveries (campaign_id, address, row, email, message_id, state, attempts, updated_at)
             VALUES (?1, ?2, ?3, ?2, ?4, 'sent', 1, ?5)",
            rusqlite::params![CAMPAIGN, email, i as i64 + 2, message_id, sent_at],
        )
        .unwrap();
    }
    audit::append(
        &store,
        now(),
        "admin",
        audit::Kind::SendStart,
        Some(CAMPAIGN),
        serde_json::json!({
            "recipients": deliveries.len(),
            mergeguard::unsubscribe::SEND_START_KEY: UNSUBSCRIBE_TO,
        }),
    )
    .unwrap();
    Fixture {
        dir,
        store,
        profile,
        admin,
    }
}

fn mail(to: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 02 Jun 2026 09:00:00 +0000\r\n\
         Message-ID: <{}@example.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

fn report_mail(file: &str, content_type: &str) -> Vec<u8> {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/dmarc")
            .join(file),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: noreply-dmarc@reports.example\r\nTo: dmarc@shop.test\r\nSubject: Report Domain: shop.test\r\n\
         Message-ID: <{}@reports.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
         This is an aggregate report.\r\n--b1\r\nContent-Type: {content_type}; name=\"{file}\"\r\n\
         Content-Disposition: attachment; filename=\"{file}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        uuid::Uuid::new_v4().simple(),
        lines.join("\r\n")
    )
    .into_bytes()
}

/// Sends a message from bob to an unknown @mail.test user through Postfix's inbound port,
/// so Postfix itself bounces it to bob's INBOX; copies that DSN into `folder`.
async fn real_dsn(imap: &mut Imap, folder: &str, unknown: &str, message_id: &str) {
    use lettre::AsyncTransport;
    let msg = format!(
        "From: news@mail.test\r\nTo: {unknown}\r\nSubject: Spring sale\r\nMessage-ID: {message_id}\r\n\r\nHello\r\n"
    );
    let env = lettre::address::Envelope::new(
        Some("bob@mail.test".parse().unwrap()),
        vec![unknown.parse().unwrap()],
    )
    .unwrap();
    let smtp = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(3126)
        .build();
    smtp.send_raw(&env, msg.as_bytes()).await.unwrap();
    let needle = message_id.trim_matches(|c| c == '<' || c == '>');
    for _ in 0..100 {
        imap.select("INBOX").await.unwrap();
        let found = imap.uid_search(format!("TEXT \"{needle}\"")).await.unwrap();
        if let Some(uid) = found.iter().max() {
            imap.uid_copy(uid.to_string(), folder).await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Postfix's DSN for {unknown} did not arrive in bob's INBOX within 10 s");
}

struct Seeded {
    folder: String,
    messages: usize,
    taro: String,
    unknown: String,
    hanako: String,
    /// Where hanako's valid token was mailed instead of the unsubscribe address.
    elsewhere: String,
}

/// The seeded folder and the fixture whose deliveries its mails refer to.
async fn seed() -> (Fixture, Seeded) {
    let mut imap = bob().await;
    let folder = new_folder(&mut imap, "sync").await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let taro = format!("taro-{id}@example.jp");
    let hanako = format!("hanako-{id}@example.jp");
    let unknown = format!("nobody-{id}@mail.test");
    let mid = |who: &str| format!("<{who}-{id}.spring@shop.test>");
    let f = fixture(
        &folder,
        &[
            (&taro, &mid("taro")),
            (&hanako, &mid("hanako")),
            (&unknown, &mid("nobody")),
        ],
    );
    let key = UnsubscribeKey::of(&f.store);
    let token = key.token(CAMPAIGN, &taro);
    let hanako_token = key.token(CAMPAIGN, &hanako);
    let elsewhere = format!("info-{id}@shop.test");
    let mut n = 0;
    let mut put = |raw: Vec<u8>| {
        n += 1;
        raw
    };
    let msgs = vec![
        // A valid request, and the same token again (replayed).
        put(mail(&format!("unsubscribe+{token}@shop.test"), &taro, "unsubscribe", "")),
        put(mail(&format!("unsubscribe+{token}@shop.test"), "someone@else.example", "unsubscribe", "")),
        // A forged token: well-formed, but this install never issued it.
        put(mail(
            &format!("unsubscribe+{}@shop.test", "0123456789abcdef0123456789abcdef"),
            "attacker@evil.example",
            "unsubscribe",
            "",
        )),
        // Hanako's valid token, mailed to another address than the campaign's
        // unsubscribe address (a forward, a reply quoting it): refused, not honoured.
        put(mail(
            &elsewhere,
            "someone@else.example",
            &format!("unsubscribe {hanako_token}"),
            "",
        )),
        // A soft bounce in a non-standard form, quoting hanako's message.
        put(format!(
            "From: MAILER-DAEMON@mx.example.jp\r\nTo: news@shop.test\r\nSubject: Mail delivery failed: returning message to sender\r\n\
             Message-ID: <{}@mx.example.jp>\r\n\r\n{hanako}\r\n    mailbox is full: 452 4.2.2 over quota\r\n\r\n\
             ------ This is a copy of the message's headers. ------\r\nMessage-ID: {}\r\nSubject: Spring sale\r\n",
            uuid::Uuid::new_v4().simple(),
            mid("hanako")
        ).into_bytes()),
        put(report_mail("google.xml", "text/xml")),
        put(report_mail("example.xml.gz", "application/gzip")),
        put(report_mail("outlook.zip", "application/zip")),
        put(mail("news@shop.test", "winner@lottery.example", "YOU WON 1,000,000", "Click here.")),
        put(mail("news@shop.test", &taro, "Re: Spring sale", "Thanks, I will come by on Saturday.")),
    ];
    for raw in &msgs {
        append(&mut imap, &folder, raw).await;
    }
    real_dsn(&mut imap, &folder, &unknown, &mid("nobody")).await;
    n += 1;
    let _ = imap.logout().await;
    (
        f,
        Seeded {
            folder,
            messages: n,
            taro,
            unknown,
            hanako,
            elsewhere,
        },
    )
}

fn kinds(store: &Store, kind: &str) -> Vec<audit::Entry> {
    audit::entries(store, &Filter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

fn suppressed(store: &Store) -> Vec<(String, String)> {
    let mut v: Vec<_> = mergeguard::suppression::list(store)
        .unwrap()
        .into_iter()
        .map(|e| (e.address, e.reason))
        .collect();
    v.sort();
    v
}

fn assert_effects(f: &Fixture, s: &Seeded) {
    let store = &f.store;
    let mut want = vec![
        (s.taro.clone(), "unsubscribed".to_owned()),
        (s.unknown.clone(), "bounced".to_owned()),
    ];
    want.sort();
    assert_eq!(suppressed(store), want);
    let bounces = mailbox::bounces(store, CAMPAIGN).unwrap();
    let status: Vec<(&str, &str)> = bounces
        .iter()
        .map(|(e, st, _)| (e.as_str(), st.as_str()))
        .collect();
    assert_eq!(
        status,
        [(s.hanako.as_str(), "4.2.2"), (s.unknown.as_str(), "5.1.1")]
    );
    for (org, id) in [
        ("google.com", "1780272000-google"),
        ("mail.example", "me-20260602"),
        ("outlook.example", "ol-20260603"),
    ] {
        assert!(
            mergeguard::dmarc_report::is_stored(store, org, id).unwrap(),
            "{org}"
        );
    }
    // Each message acted on once: one receipt per unsubscribe mail, one per bounce.
    assert_eq!(kinds(store, "unsubscribe_received").len(), 2);
    let refused = kinds(store, "unsubscribe_refused");
    let why: Vec<(String, Option<&str>)> = refused
        .iter()
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            (d["why"].as_str().unwrap().to_owned(), e.campaign.as_deref())
        })
        .collect();
    assert_eq!(
        why,
        [
            ("unknown_token".to_owned(), None),
            ("not_unsubscribe_address".to_owned(), Some(CAMPAIGN))
        ]
    );
    assert_eq!(kinds(store, "bounce_received").len(), 2);
    assert_eq!(kinds(store, "dmarc_report_imported").len(), 3);
    // No address in the log, ever: not the people's, not where a request was mailed.
    for e in audit::entries(store, &Filter::default()).unwrap() {
        for a in [&s.taro, &s.unknown, &s.hanako, &s.elsewhere] {
            assert!(!e.details.contains(a.as_str()), "{} names {a}", e.kind);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_acts_on_each_kind_of_mail_once_and_touches_nothing() {
    let (f, s) = seed().await;
    let before = {
        let mut imap = bob().await;
        flags(&mut imap, &s.folder).await
    };
    assert_eq!(before.len(), s.messages);
    let r = mailbox::check_mailbox(
        &f.store,
        &f.admin,
        &f.profile,
        &SyncOptions::default(),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(r.read, s.messages as u64);
    assert_eq!(
        (
            r.unsubscribed,
            r.unsubscribe_repeated,
            r.unsubscribe_refused
        ),
        (1, 1, 2),
        "{r:?}"
    );
    assert_eq!(
        (r.hard_bounces, r.soft_bounces, r.bounces_unmatched),
        (1, 1, 0),
        "{r:?}"
    );
    assert_eq!(
        (r.suppressed, r.dmarc_reports, r.untouched),
        (2, 3, 2),
        "{r:?}"
    );
    assert_effects(&f, &s);

    // Nothing in the mailbox changed: same messages, same flags (no \Seen).
    let mut imap = bob().await;
    assert_eq!(flags(&mut imap, &s.folder).await, before);

    // A second sync finds nothing new and does nothing.
    let again = mailbox::check_mailbox(
        &f.store,
        &f.admin,
        &f.profile,
        &SyncOptions::default(),
        now(),
    )
    .await
    .unwrap();
    assert_eq!((again.read, again.last_uid), (0, r.last_uid));
    assert_effects(&f, &s);
    // Each sync's log entry names who asked for it.
    let synced = kinds(&f.store, "mailbox_synced");
    assert_eq!(synced.len(), 2);
    assert!(synced.iter().all(|e| e.operator == "admin"), "{synced:?}");

    // A soft bounce counts; the address is not suppressed below the limit.
    let conn = rusqlite::Connection::open(f.store.path()).unwrap();
    let count: i64 = conn
        .query_row(
            "SELECT count FROM soft_bounces WHERE address = ?1",
            [&s.hanako],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 1);
    drop(f.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_sync_then_synced_again_acts_on_each_message_once() {
    let (f, s) = seed().await;
    let data = f.dir.path().to_owned();
    let spawn = || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mergeguard"))
            .args([
                "mailbox",
                "sync",
                "--profile",
                &f.profile,
                "--operator",
                "admin",
                "--pin-stdin",
                "--chunk",
                "1",
                "--json",
            ])
            .env("MERGEGUARD_DATA_DIR", &data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"999999\n").unwrap();
        child
    };
    let db = rusqlite::Connection::open_with_flags(
        f.store.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let last_uid = || -> u32 {
        db.query_row(
            "SELECT COALESCE(MAX(last_uid), 0) FROM mailbox_sync",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    // Kill -9 as soon as the committed position passes each mark: mid-sync, between or
    // during a chunk's transaction.
    let mut partial = Vec::new();
    for mark in [1u32, 3, 6] {
        let mut child = spawn();
        loop {
            if last_uid() >= mark || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // SIGKILL: no destructor, no rollback handler runs.
        let _ = child.kill();
        let _ = child.wait();
        partial.push(last_uid());
    }
    eprintln!("last UID after each kill: {partial:?} of {}", s.messages);
    assert!(
        partial.iter().any(|&u| u > 0 && (u as usize) < s.messages),
        "no kill landed mid-sync: {partial:?}"
    );
    let out = spawn().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_effects(&f, &s);
    let total = mailbox::last_sync(&f.store, &f.profile).unwrap().unwrap();
    assert_eq!(
        flags(&mut bob().await, &s.folder).await.last().unwrap().0,
        total.2
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_untrusted_certificate_are_plain_errors() {
    let mut imap = bob().await;
    let folder = new_folder(&mut imap, "err").await;
    let f = fixture(&folder, &[]);
    let profile = profiles::get(&f.store, &f.profile).unwrap();
    let settings = mailbox::settings(&f.store, &f.profile).unwrap().unwrap();
    let wrong = mailbox::Credentials::Password {
        user: "bob@mail.test".into(),
        password: Secret::new("not-the-password"),
    };
    let e = mailbox::sync(
        &f.store,
        &profile,
        &settings,
        &wrong,
        &SyncOptions::default(),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), mergeguard::error::ErrorCode::AuthFailed);
    assert!(!e.to_string().contains("not-the-password"));
    // Without the profile's CA the test server's certificate is not trusted.
    let mut no_ca = profile.clone();
    no_ca.ca = None;
    let right = mailbox::stored_credentials(&profile).unwrap();
    let e = mailbox::sync(
        &f.store,
        &no_ca,
        &settings,
        &right,
        &SyncOptions::default(),
        now(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not trusted"), "{e}");
    // STARTTLS on 127.0.0.2 (where Dovecot requires TLS before AUTH) works too.
    let starttls = mailbox::MailboxSettings {
        host: "127.0.0.2".into(),
        port: 3143,
        security: mergeguard::campaign::Security::Starttls,
        folder: folder.clone(),
    };
    let r = mailbox::sync(
        &f.store,
        &profile,
        &starttls,
        &right,
        &SyncOptions::default(),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(r.read, 0);
    // Plain text cannot be chosen.
    let admin = operators::sign_in(&f.store, "admin", &Secret::new("999999"), now()).unwrap();
    let e = mailbox::set_settings(
        &f.store,
        &admin,
        &f.profile,
        Some(&MailboxInput {
            host: "127.0.0.1".into(),
            port: Some(3143),
            security: "plain".into(),
            folder: "INBOX".into(),
        }),
        now(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("only read over TLS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_syncs_only_for_a_signed_in_sender_or_admin() {
    let mut imap = bob().await;
    let folder = new_folder(&mut imap, "cli").await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let taro = format!("taro-{id}@example.jp");
    let f = fixture(
        &folder,
        &[(&taro, &format!("<taro-{id}.spring@shop.test>"))],
    );
    let token = UnsubscribeKey::of(&f.store).token(CAMPAIGN, &taro);
    let to = UNSUBSCRIBE_TO.replace("{token}", &token);
    append(&mut imap, &folder, &mail(&to, &taro, "unsubscribe", "")).await;
    let _ = imap.logout().await;
    // An approver, who may not add to the suppression list.
    operators::add_operator(
        &f.store,
        &f.admin,
        "ben",
        &[operators::Role::Approver].into(),
        &Secret::new("135792"),
        now(),
    )
    .unwrap();
    let sync = |operator: &str, pin: &str| {
        common_cli::mg(
            f.dir.path(),
            &[
                "mailbox",
                "sync",
                "--profile",
                &f.profile,
                "--operator",
                operator,
                "--pin-stdin",
                "--json",
            ],
            &format!("{pin}\n"),
        )
    };
    let nothing_read = || {
        mailbox::last_sync(&f.store, &f.profile).unwrap().is_none()
            && mergeguard::suppression::list(&f.store).unwrap().is_empty()
            && kinds(&f.store, "mailbox_synced").is_empty()
    };
    for (who, pin) in [("admin", "000000"), ("ben", "135792"), ("nobody", "999999")] {
        let out = sync(who, pin);
        assert_ne!(out.status.code(), Some(0), "{who}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{who}: {err}");
        assert!(err.starts_with("error: "), "{who}: {err}");
        assert!(out.stdout.is_empty(), "{who}");
        assert!(nothing_read(), "{who}: the mailbox was read");
    }
    // Without --operator the command does not run at all.
    let out = common_cli::mg(
        f.dir.path(),
        &["mailbox", "sync", "--profile", &f.profile],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(nothing_read());
    // The admin with the right PIN: read, acted on, and the log names them.
    let out = sync("admin", "999999");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["read"].as_u64(), r["unsubscribed"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(mergeguard::suppression::contains(&f.store, &taro).unwrap());
    let synced = kinds(&f.store, "mailbox_synced");
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0].operator, "admin");
}
