//! Sending against real servers: Postfix (STARTTLS+AUTH, implicit TLS) and the
//! fault-injection SMTP server, per the test-server contract in the brief.

mod common_send;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common_send::*;
use mergeguard::send::relay::OpenErrorKind;
use mergeguard::send::{
    report, send_campaign, ApprovalGate, Clock, Control, Finish, OutboxFolder, PinnedClock,
    RateLimit, Security, SendError, SendJob, SendOptions, SmtpRelay, State, SystemClock,
};
use tokio::sync::watch;

fn job(
    cid: &str,
    recipients: Vec<(u64, String)>,
    options: SendOptions,
) -> SendJob<impl FnMut(u64) -> Result<mergeguard::compose::BuiltMessage, String>> {
    let map: std::collections::HashMap<u64, String> = recipients.iter().cloned().collect();
    let cid2 = cid.to_string();
    SendJob {
        campaign_id: cid.to_string(),
        recipients,
        render: move |row| Ok(build(&cid2, row, &map[&row])),
        dkim: None,
        options,
    }
}

fn fault_relay(timeout: Duration) -> Arc<SmtpRelay> {
    let (h, p) = fault_port(4);
    let mut s = settings(h, p, Security::StartTls);
    s.timeout = timeout;
    Arc::new(SmtpRelay::new(s).unwrap())
}

#[tokio::test]
async fn campaign_of_200_arrives_complete_each_message_id_once() {
    let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
    let (_d, conn) = db();
    let cid = unique("c200");
    let (_tx, rx) = watch::channel(Control::Run);
    let last = std::cell::Cell::new(None);
    let summary = send_campaign(
        job(
            &cid,
            recipients(200, "example.test"),
            SendOptions::default(),
        ),
        relay,
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|p| last.set(Some(p)),
    )
    .await
    .unwrap();
    assert_eq!(summary.finish, Finish::Done);
    assert_eq!(summary.counts.sent, 200, "{summary:?}");
    let p = last.get().unwrap();
    assert_eq!((p.sent, p.remaining), (200, 0));
    let rows = report(&conn, &cid).unwrap();
    assert!(
        rows.iter()
            .all(|r| r.state == State::Sent && r.reply_code == Some(250) && r.queue_id.is_some()),
        "{:?}",
        &rows[0]
    );
    let got = wait_delivered(&cid, 200);
    assert_eq!(got.len(), 200, "distinct Message-IDs in the maildir");
    for r in 1..=200 {
        assert_eq!(got.get(&message_id(&cid, r)), Some(&1), "row {r}");
    }
}

#[tokio::test]
async fn implicit_tls_relay_delivers() {
    let (h, p) = server(
        "MG_TEST_SMTP_TLS",
        "127.0.0.1:2465",
        "Postfix (implicit TLS+AUTH)",
    );
    let relay = Arc::new(SmtpRelay::new(settings(h, p, Security::ImplicitTls)).unwrap());
    let (_d, conn) = db();
    let cid = unique("tls");
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, recipients(5, "example.test"), SendOptions::default()),
        relay,
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.counts.sent, 5);
    assert_eq!(wait_delivered(&cid, 5).len(), 5);
}

#[tokio::test]
async fn dkim_signature_on_received_mail_verifies_with_dkimpy() {
    use mail_auth::common::crypto::{RsaKey, Sha256};
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dkim::DkimSigner;
    let pem = std::fs::read_to_string("tests/data/send/dkim-rsa.pem").unwrap();
    let signer = DkimSigner::from_key(
        #[allow(deprecated)]
        RsaKey::<Sha256>::from_rsa_pem(&pem).unwrap(),
    )
    .domain("shop.test")
    .selector("sel1")
    .headers([
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "MIME-Version",
        "Content-Type",
    ]);
    let sign = move |raw: &[u8]| {
        signer
            .sign(raw)
            .map(|s| s.to_header())
            .map_err(|e| e.to_string())
    };

    let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
    let (_d, conn) = db();
    let cid = unique("dkim");
    let mut j = job(&cid, recipients(3, "example.test"), SendOptions::default());
    j.dkim = Some(Arc::new(sign));
    let (_tx, rx) = watch::channel(Control::Run);
    assert_eq!(
        send_campaign(j, relay, &conn, &SystemClock, rx, &Allow, &|_| {})
            .await
            .unwrap()
            .counts
            .sent,
        3
    );
    assert_eq!(wait_delivered(&cid, 3).len(), 3);

    // Independent verifier: dkimpy, with the public key served from the fixture.
    let python = env("MG_TEST_PYTHON", &format!("{}/venv/bin/python", test_dir()));
    let pubkey = std::fs::read_to_string("tests/data/send/dkim-rsa.pub.b64").unwrap();
    let files = files_of(&cid);
    assert_eq!(files.len(), 3);
    for f in files {
        let script = format!(
            "import dkim,sys\nm=open(sys.argv[1],'rb').read()\nassert b'DKIM-Signature' in m\nok=dkim.verify(m, dnsfunc=lambda n, timeout=5: b'v=DKIM1; k=rsa; p={}')\nprint('PASS' if ok else 'FAIL')\n",
            pubkey.trim()
        );
        let out = std::process::Command::new(&python)
            .args(["-c", &script, f.to_str().unwrap()])
            .output()
            .unwrap_or_else(|e| {
                panic!("python with dkimpy ({python}, MG_TEST_PYTHON) not runnable: {e}")
            });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.trim(),
            "PASS",
            "dkimpy on {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        // A tampered body must fail, so the check above can fail.
        let tampered = std::fs::read(&f)
            .unwrap()
            .iter()
            .map(|b| if *b == b'Z' { b'z' } else { *b })
            .collect::<Vec<_>>();
        let mut bad = std::fs::read(&f).unwrap();
        bad.extend_from_slice(b"tampered line\r\n");
        let bad_path = std::env::temp_dir().join(format!("{cid}.bad.eml"));
        std::fs::write(&bad_path, if tampered != bad { &bad } else { &tampered }).unwrap();
        let out = std::process::Command::new(&python)
            .args(["-c", &script, bad_path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "FAIL");
    }
}

fn files_of(cid: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![maildir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read_to_string(&p)
                .map(|t| t.contains(&format!("<{cid}.")))
                .unwrap_or(false)
            {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn tempfail_451_is_deferred_then_delivered_after_back_off() {
    let (_d, conn) = db();
    let cid = unique("tempfail");
    let clock = PinnedClock::new(1_000_000);
    // A fresh address each run: the fault server answers 451 once per address for as
    // long as it runs, so a fixed address would pass straight through on a re-run.
    let rcpts = vec![
        (1, format!("tempfail1.{cid}@example.test")),
        (2, "ok1@example.test".to_string()),
    ];
    let opts = SendOptions {
        wait_for_deferred: false,
        backoff_ms: 60_000,
        ..Default::default()
    };
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, rcpts.clone(), opts.clone()),
        fault_relay(Duration::from_secs(10)),
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((s.counts.deferred, s.counts.sent), (1, 1), "{s:?}");
    let r = &report(&conn, &cid).unwrap()[0];
    assert_eq!(
        (r.state, r.reply_code, r.attempts),
        (State::Deferred, Some(451), 1)
    );

    // Not due before the back-off has passed: a run now sends nothing.
    let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, rcpts.clone(), opts.clone()),
        Arc::clone(&relay),
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.counts.deferred, 1);
    // After the back-off the relay has recovered (here: the real Postfix): delivered.
    clock.advance(60_000);
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, rcpts, opts),
        relay,
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((s.counts.deferred, s.counts.sent), (0, 2), "{s:?}");
    assert_eq!(report(&conn, &cid).unwrap()[0].attempts, 2);
    assert_eq!(wait_delivered(&cid, 1).get(&message_id(&cid, 1)), Some(&1));
}

#[tokio::test]
async fn tempfail_gives_up_after_max_attempts_with_pinned_clock() {
    let (_d, conn) = db();
    let cid = unique("giveup");
    let clock = PinnedClock::new(0);
    let opts = SendOptions {
        max_attempts: 3,
        backoff_ms: 1_000,
        ..Default::default()
    };
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, vec![(1, "tempfail2@example.test".into())], opts),
        fault_relay(Duration::from_secs(10)),
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.counts.failed, 1);
    let r = &report(&conn, &cid).unwrap()[0];
    assert_eq!((r.attempts, r.reply_code), (3, Some(451)));
    // Back-off 1 s then 2 s, on the pinned clock.
    assert!(clock.now() >= 3_000, "{}", clock.now());
}

#[tokio::test]
async fn reject_550_is_failed_with_the_reply_text() {
    let (_d, conn) = db();
    let cid = unique("reject");
    let (_tx, rx) = watch::channel(Control::Run);
    let rcpts = vec![
        (1, "reject1@example.test".to_string()),
        (2, "ok2@example.test".to_string()),
    ];
    let s = send_campaign(
        job(&cid, rcpts, SendOptions::default()),
        fault_relay(Duration::from_secs(10)),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((s.counts.failed, s.counts.sent), (1, 1));
    let r = &report(&conn, &cid).unwrap()[0];
    assert_eq!((r.state, r.reply_code), (State::Failed, Some(550)));
    assert!(
        r.reply_text.as_deref().unwrap().contains("No such user"),
        "{r:?}"
    );
}

#[tokio::test]
async fn shutdown_421_mid_session_reconnects_and_continues() {
    let (_d, conn) = db();
    let cid = unique("shutdown");
    let (_tx, rx) = watch::channel(Control::Run);
    let rcpts: Vec<(u64, String)> = ["ok1", "ok2", "shutdown1", "ok3", "ok4"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, format!("{l}@example.test")))
        .collect();
    let opts = SendOptions {
        parallel: 1,
        wait_for_deferred: false,
        ..Default::default()
    };
    let s = send_campaign(
        job(&cid, rcpts, opts),
        fault_relay(Duration::from_secs(10)),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((s.counts.sent, s.counts.deferred), (4, 1), "{s:?}");
    let r = &report(&conn, &cid).unwrap()[2];
    assert_eq!((r.state, r.reply_code), (State::Deferred, Some(421)));
}

#[tokio::test]
async fn connection_dropped_after_data_is_unknown_and_not_resent() {
    let (_d, conn) = db();
    let cid = unique("drop");
    let rcpts = vec![
        (1, "dropdata1@example.test".to_string()),
        (2, "ok5@example.test".to_string()),
    ];
    for _ in 0..2 {
        let (_tx, rx) = watch::channel(Control::Run);
        let s = send_campaign(
            job(&cid, rcpts.clone(), SendOptions::default()),
            fault_relay(Duration::from_secs(10)),
            &conn,
            &SystemClock,
            rx,
            &Allow,
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!((s.counts.unknown, s.counts.sent), (1, 1), "{s:?}");
    }
    let r = &report(&conn, &cid).unwrap()[0];
    assert_eq!(
        (r.state, r.attempts),
        (State::Unknown, 1),
        "never retried automatically: {r:?}"
    );
    // Only an explicit operator decision puts it back.
    assert_eq!(
        mergeguard::send::requeue_unknown(&conn, &cid, &[1, 2], 0).unwrap(),
        1
    );
}

/// Decision: a stall before the message is handed over (here at RCPT) times out and is
/// `deferred` (nothing can have been delivered), not `unknown`.
#[tokio::test]
async fn stalled_server_times_out_and_is_deferred() {
    let (_d, conn) = db();
    let cid = unique("slow");
    let (_tx, rx) = watch::channel(Control::Run);
    let opts = SendOptions {
        wait_for_deferred: false,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let s = send_campaign(
        job(&cid, vec![(1, "slow1@example.test".into())], opts),
        fault_relay(Duration::from_secs(2)),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert!(t.elapsed() < Duration::from_secs(15), "timeout honoured");
    assert_eq!(s.counts.deferred, 1, "{s:?}");
    assert!(report(&conn, &cid).unwrap()[0]
        .reply_text
        .as_deref()
        .unwrap()
        .contains("not sent"));
}

#[tokio::test]
async fn bad_tls_servers_get_nothing_and_no_login() {
    for (offset, want) in [
        (0, OpenErrorKind::NoStartTls),
        (1, OpenErrorKind::Tls),
        (2, OpenErrorKind::Tls),
        (3, OpenErrorKind::Tls),
    ] {
        let (h, p) = fault_port(offset);
        let relay = Arc::new(SmtpRelay::new(settings(h, p, Security::StartTls)).unwrap());
        let (_d, conn) = db();
        let cid = unique("badtls");
        let (_tx, rx) = watch::channel(Control::Run);
        let err = send_campaign(
            job(&cid, recipients(3, "example.test"), SendOptions::default()),
            relay,
            &conn,
            &SystemClock,
            rx,
            &Allow,
            &|_| {},
        )
        .await
        .unwrap_err();
        match err {
            // The session failed before AUTH (kind is not Auth) and before MAIL FROM.
            SendError::Relay(e) => assert_eq!(e.kind, want, "port offset {offset}: {e}"),
            other => panic!("port offset {offset}: {other}"),
        }
        let rows = report(&conn, &cid).unwrap();
        assert!(
            rows.iter()
                .all(|r| r.state == State::Queued && r.attempts == 0),
            "offset {offset}: {rows:?}"
        );
    }
}

/// Implicit TLS runs rustls on our own socket (for TCP_NODELAY), so its certificate
/// checking is ours to prove: without the test CA, Postfix's certificate is untrusted and
/// the session ends in the handshake, before any login or message. (Host names are
/// checked by rustls's default verifier, which nothing here replaces.)
#[tokio::test]
async fn implicit_tls_with_an_untrusted_certificate_gets_nothing() {
    let (h, p) = server(
        "MG_TEST_SMTP_TLS",
        "127.0.0.1:2465",
        "Postfix (implicit TLS+AUTH)",
    );
    let mut s = settings(h, p, Security::ImplicitTls);
    s.extra_ca_pem = None;
    let relay = Arc::new(SmtpRelay::new(s).unwrap());
    let (_d, conn) = db();
    let cid = unique("tlsbad");
    let (_tx, rx) = watch::channel(Control::Run);
    let err = send_campaign(
        job(&cid, recipients(2, "example.test"), SendOptions::default()),
        relay,
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap_err();
    match err {
        SendError::Relay(e) => {
            assert_eq!(e.kind, OpenErrorKind::Tls, "{e}");
            assert!(e.message.contains("TLS handshake"), "{e}");
        }
        other => panic!("{other}"),
    }
    let rows = report(&conn, &cid).unwrap();
    assert!(
        rows.iter()
            .all(|r| r.state == State::Queued && r.attempts == 0),
        "{rows:?}"
    );
}

struct RevokeAfter(AtomicUsize, usize);
impl ApprovalGate for RevokeAfter {
    fn check(&self) -> Result<(), String> {
        if self.0.fetch_add(1, Ordering::SeqCst) < self.1 {
            Ok(())
        } else {
            Err("the campaign changed after approval".into())
        }
    }
}

#[tokio::test]
async fn approval_revoked_mid_run_stops_sending() {
    let out = tempfile::tempdir().unwrap();
    let relay = Arc::new(OutboxFolder {
        dir: out.path().to_path_buf(),
    });
    let (_d, conn) = db();
    let cid = unique("gate");
    let (_tx, rx) = watch::channel(Control::Run);
    let gate = RevokeAfter(AtomicUsize::new(0), 3); // start + 2 batches
    let opts = SendOptions {
        batch: 10,
        ..Default::default()
    };
    let err = send_campaign(
        job(&cid, recipients(50, "example.test"), opts),
        relay,
        &conn,
        &SystemClock,
        rx,
        &gate,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SendError::NotApproved(_)), "{err}");
    // Nothing from the batch after the revocation goes out; messages of the approved
    // batches still queued for a connection when the gate said no are taken back
    // (stopping promptly beats finishing the batch), so 10..=20 are sent.
    let c = mergeguard::send::state::counts(&conn, &cid).unwrap();
    assert!((10..=20).contains(&c.sent), "{c:?}");
    assert_eq!(c.sent + c.queued, 50, "{c:?}");
    let rows = report(&conn, &cid).unwrap();
    assert!(
        rows.iter()
            .filter(|r| r.state == State::Sent)
            .all(|r| r.row <= 20),
        "a row of the unapproved third batch was sent"
    );
    assert!(
        rows.iter()
            .filter(|r| r.state == State::Queued)
            .all(|r| r.attempts == 0),
        "a row taken back counts as an attempt"
    );
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count() as u64,
        c.sent
    );
}

#[tokio::test]
async fn outbox_folder_writes_one_eml_per_message_and_cancel_sends_nothing() {
    let out = tempfile::tempdir().unwrap();
    let relay = Arc::new(OutboxFolder {
        dir: out.path().join("outbox"),
    });
    let (_d, conn) = db();
    let cid = unique("outbox");
    let (_tx, rx) = watch::channel(Control::Cancel);
    let s = send_campaign(
        job(&cid, recipients(4, "example.test"), SendOptions::default()),
        Arc::clone(&relay),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (s.finish, s.counts.sent, s.counts.queued),
        (Finish::Cancelled, 0, 4)
    );
    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, recipients(4, "example.test"), SendOptions::default()),
        relay,
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.counts.sent, 4);
    let eml = std::fs::read(
        out.path()
            .join("outbox")
            .join(OutboxFolder::file_name(&message_id(&cid, 2))),
    )
    .unwrap();
    assert_eq!(eml, build(&cid, 2, "customer2@example.test").raw);
}

#[tokio::test]
async fn rate_limits_hold_per_second_and_daily_quota_across_campaigns() {
    let out = tempfile::tempdir().unwrap();
    let relay = Arc::new(OutboxFolder {
        dir: out.path().to_path_buf(),
    });
    let (_d, conn) = db();
    let clock = PinnedClock::new(10_000_000);
    let start = clock.now();
    let opts = SendOptions {
        rate: RateLimit {
            per_second: Some(5),
            per_day: Some(30),
            ..Default::default()
        },
        ..Default::default()
    };
    let a = unique("rateA");
    let (_tx, rx) = watch::channel(Control::Run);
    send_campaign(
        job(&a, recipients(20, "example.test"), opts.clone()),
        Arc::clone(&relay),
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    // 20 at 5/s: the 20th cannot leave before 3 s have passed.
    assert!(clock.now() - start >= 3_000, "{}", clock.now() - start);
    let b = unique("rateB");
    let (_tx, rx) = watch::channel(Control::Run);
    send_campaign(
        job(&b, recipients(20, "example.test"), opts),
        relay,
        &conn,
        &clock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    // Campaign B shares the daily quota: 10 more today, the other 10 only a day after the first sends.
    assert!(clock.now() - start >= 86_400_000, "{}", clock.now() - start);
    let times: Vec<i64> = conn
        .prepare("SELECT at FROM send_quota ORDER BY at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(times.len(), 40);
    for (i, t) in times.iter().enumerate() {
        let in_sec = times[i..].iter().take_while(|u| **u < t + 1_000).count();
        let in_day = times[i..]
            .iter()
            .take_while(|u| **u < t + 86_400_000)
            .count();
        assert!(
            in_sec <= 5 && in_day <= 30,
            "window from {t}: {in_sec}/s {in_day}/day"
        );
    }
}

/// Messages claimed (`sending` on disk) but still waiting in a connection's queue when
/// the operator cancels are taken back, not sent: they return to `queued` without
/// counting as an attempt, and the resumed run sends each recipient exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_takes_back_queued_messages_and_resume_sends_each_once() {
    const N: u64 = 300;
    let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
    let (_d, conn) = db();
    let cid = unique("takeback");
    let (tx, rx) = watch::channel(Control::Run);
    let cancel_at_sent = 20;
    let s = send_campaign(
        job(&cid, recipients(N, "example.test"), SendOptions::default()),
        Arc::clone(&relay),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|p| {
            if p.sent >= cancel_at_sent {
                let _ = tx.send(Control::Cancel);
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(s.finish, Finish::Cancelled);
    let c = s.counts;
    assert_eq!((c.sending, c.unknown, c.failed), (0, 0, 0), "{c:?}");
    // No new claims after the cancel: at most one window beyond the cancel point.
    let window = mergeguard::send::in_flight_window(&SendOptions::default()) as u64;
    assert!(
        c.sent >= cancel_at_sent && c.sent <= cancel_at_sent + window,
        "{c:?}"
    );
    assert_eq!(c.sent + c.queued, N);
    let rows = report(&conn, &cid).unwrap();
    assert!(
        rows.iter()
            .filter(|r| r.state == State::Queued)
            .all(|r| r.attempts == 0),
        "a message taken back counted as an attempt"
    );
    // The cancel lands while each connection still has several claimed messages queued
    // (the queue is topped up long before it runs dry), so some are taken back.
    let taken_back = rows
        .iter()
        .filter(|r| {
            r.state == State::Queued
                && r.reply_text
                    .as_deref()
                    .is_some_and(|t| t.contains("taken back"))
        })
        .count();
    assert!(taken_back > 0, "no queued message was taken back: {c:?}");
    eprintln!("cancel: {} sent, {taken_back} taken back", c.sent);

    let (_tx, rx) = watch::channel(Control::Run);
    let s = send_campaign(
        job(&cid, recipients(N, "example.test"), SendOptions::default()),
        relay,
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((s.finish, s.counts.sent), (Finish::Done, N));
    let got = wait_delivered(&cid, N as usize);
    for row in 1..=N {
        assert_eq!(
            got.get(&message_id(&cid, row)).copied(),
            Some(1),
            "row {row} must arrive exactly once"
        );
    }
}

/// Pause stops new messages from going out (queued ones are taken back, as on cancel)
/// and keeps the run alive; resume carries on in the same run, and every recipient gets
/// the message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_the_run_and_resume_sends_each_once() {
    use std::sync::atomic::AtomicBool;
    const N: u64 = 300;
    let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
    let (dir, conn) = db();
    let cid = unique("pause");
    let (tx, rx) = watch::channel(Control::Run);
    let paused = Arc::new(AtomicBool::new(false));
    // Another operator's view of the same database while the run is paused: how many
    // are sent at two moments a second and a half apart.
    let resumer = {
        let (tx, paused, cid) = (tx.clone(), Arc::clone(&paused), cid.clone());
        let path = dir.path().join("state.sqlite");
        std::thread::spawn(move || {
            while !paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let reader = rusqlite::Connection::open(&path).unwrap();
            reader.busy_timeout(Duration::from_secs(10)).unwrap();
            let sent = || {
                report(&reader, &cid)
                    .unwrap()
                    .iter()
                    .filter(|r| r.state == State::Sent)
                    .count()
            };
            // In-flight messages finish first; then nothing may move.
            std::thread::sleep(Duration::from_millis(1500));
            let first = sent();
            std::thread::sleep(Duration::from_millis(1500));
            let second = sent();
            tx.send(Control::Run).unwrap();
            (first, second)
        })
    };
    let pause_at_sent = 20;
    let s = send_campaign(
        job(&cid, recipients(N, "example.test"), SendOptions::default()),
        Arc::clone(&relay),
        &conn,
        &SystemClock,
        rx,
        &Allow,
        &|p| {
            if p.sent >= pause_at_sent && !paused.load(Ordering::SeqCst) {
                let _ = tx.send(Control::Pause);
                paused.store(true, Ordering::SeqCst);
            }
        },
    )
    .await
    .unwrap();
    let (first, second) = resumer.join().unwrap();
    assert_eq!(first, second, "messages went out while paused");
    let window = mergeguard::send::in_flight_window(&SendOptions::default());
    assert!(
        first >= pause_at_sent as usize && first <= pause_at_sent as usize + window,
        "the pause let {first} out"
    );
    assert_eq!(
        (s.finish, s.counts.sent),
        (Finish::Done, N),
        "{:?}",
        s.counts
    );
    let rows = report(&conn, &cid).unwrap();
    assert!(
        rows.iter().all(|r| r.attempts == 1),
        "a taken-back message counted as an attempt"
    );
    let got = wait_delivered(&cid, N as usize);
    for row in 1..=N {
        assert_eq!(
            got.get(&message_id(&cid, row)).copied(),
            Some(1),
            "row {row} must arrive exactly once"
        );
    }
}
