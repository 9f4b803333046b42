//! Benchmark: syncing 10,000 new messages from the local Dovecot (tests/servers/mailbox.sh)
//! into a fresh store: IMAPS, EXAMINE, UID FETCH in chunks of 500, classify, commit.
//! The folder `bench-10k` of the test user bob is seeded once (kept between runs): 80%
//! ordinary replies, 10% unsubscribe mails with tokens this install never issued, 10%
//! non-standard bounces of unknown messages. Target: ≤ 10 s (issue 15).
//!   MG_TEST_DIR=... cargo bench -p mergeguard --bench mailbox

#[path = "../tests/common_mailbox/mod.rs"]
mod common_mailbox;

use criterion::{criterion_group, criterion_main, Criterion};
use mergeguard::mailbox::{self, Credentials, MailboxSettings, SyncOptions};
use mergeguard::operators;
use mergeguard::profiles::{self, ProfileInput};
use mergeguard::secrets::install::MemoryKeys;
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use time::OffsetDateTime;

const FOLDER: &str = "bench-10k";
const MESSAGES: usize = 10_000;

fn message(i: usize) -> Vec<u8> {
    let head = format!(
        "From: customer{i}@example.jp\r\nTo: news@shop.test\r\nDate: Tue, 02 Jun 2026 09:00:00 +0000\r\n\
         Message-ID: <m{i}@example.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    let rest = match i % 10 {
        0 => format!(
            "To: unsubscribe+{:032x}@shop.test\r\nSubject: unsubscribe\r\n\r\nPlease remove me.\r\n",
            i as u128 * 7919
        ),
        1 => format!(
            "Subject: Mail delivery failed: returning message to sender\r\n\r\n\
             user{i}@example.jp\r\n  550 5.1.1 User unknown\r\nMessage-ID: <gone{i}.spring@shop.test>\r\n"
        ),
        _ => format!(
            "Subject: Re: Spring sale\r\n\r\nThank you for the offer, message {i}.\r\n\
             I will come by on Saturday with my family.\r\n\r\n> Spring sale: 20% off everything\r\n"
        ),
    };
    let head = if i % 10 == 1 {
        head.replacen(
            &format!("customer{i}@example.jp"),
            "MAILER-DAEMON@mx.example.jp",
            1,
        )
    } else {
        head
    };
    format!("{head}{rest}").into_bytes()
}

async fn seed() {
    let mut imap = common_mailbox::bob().await;
    let exists = match imap.examine(FOLDER).await {
        Ok(m) => m.exists as usize,
        Err(_) => {
            imap.create(FOLDER).await.unwrap();
            0
        }
    };
    for i in exists..MESSAGES {
        common_mailbox::append(&mut imap, FOLDER, &message(i)).await;
    }
    let _ = imap.logout().await;
}

fn bench_sync(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    rt.block_on(seed());
    eprintln!("seeded {FOLDER} in {:?}", t.elapsed());
    let env = common_mailbox::env();
    let now = OffsetDateTime::now_utc();
    let mut g = c.benchmark_group("mailbox_sync");
    g.sample_size(10);
    g.bench_function(
        "sync 10,000 messages from local Dovecot (IMAPS) into a fresh store",
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let store = Store::open_with(dir.path(), &MemoryKeys::new()).unwrap();
                    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now)
                        .unwrap();
                    let admin =
                        operators::sign_in(&store, "admin", &Secret::new("999999"), now).unwrap();
                    let profile = profiles::add(
                        &store,
                        &admin,
                        &ProfileInput {
                            name: "bench".into(),
                            provider: "other".into(),
                            host: "127.0.0.1".into(),
                            port: Some(3125),
                            security: "starttls".into(),
                            username: env["OAUTH_MAILBOX_USER2"].clone(),
                            ca_file: Some(common_mailbox::ca()),
                            ..ProfileInput::default()
                        },
                        None,
                        now,
                    )
                    .unwrap();
                    (dir, store, profile)
                },
                |(dir, store, profile)| {
                    let settings = MailboxSettings {
                        host: "127.0.0.1".into(),
                        port: 3193,
                        security: mergeguard::campaign::Security::Tls,
                        folder: FOLDER.into(),
                    };
                    let credentials = Credentials::Password {
                        user: env["OAUTH_MAILBOX_USER2"].clone(),
                        password: Secret::new(env["OAUTH_MAILBOX_PASSWORD2"].clone()),
                    };
                    let r = rt
                        .block_on(mailbox::sync(
                            &store,
                            &profile,
                            &settings,
                            &credentials,
                            &SyncOptions::default(),
                            now,
                        ))
                        .unwrap();
                    assert_eq!(r.read, MESSAGES as u64);
                    (dir, store)
                },
                criterion::BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

criterion_group!(benches, bench_sync);
criterion_main!(benches);
