//! Crash safety: a 2,000-message send in a child process is killed with SIGKILL at
//! several points and resumed; every recipient ends up delivered exactly once or marked
//! unknown, none twice, none missing.
//!
//! The child is this same test binary re-invoked with `MG_SEND_CRASH_CHILD` set, running
//! only the ignored `crash_child_sender` test (no extra binary or example needed).

mod common_send;

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common_send::*;
use mergeguard::send::{
    send_campaign, state, Control, SendJob, SendOptions, SmtpRelay, State, SystemClock,
};

const N: u64 = 2_000;

/// Child side: only acts when re-invoked by the parent test.
#[test]
#[ignore = "run by crash_kill_9_at_several_points_then_resume as a child process"]
fn crash_child_sender() {
    let db = std::env::var("MG_SEND_CRASH_CHILD").expect("only run as the crash test's child");
    let cid = std::env::var("MG_SEND_CRASH_CID").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = rusqlite::Connection::open(db).unwrap();
        state::migrate(&conn).unwrap();
        let relay = Arc::new(SmtpRelay::new(starttls_settings()).unwrap());
        let cid2 = cid.clone();
        let job = SendJob {
            campaign_id: cid.clone(),
            recipients: recipients(N, "example.test"),
            render: move |row| Ok(build(&cid2, row, &format!("customer{row}@example.test"))),
            dkim: None,
            options: options(),
        };
        let (_tx, rx) = tokio::sync::watch::channel(Control::Run);
        send_campaign(job, relay, &conn, &SystemClock, rx, &Allow, &|_| {})
            .await
            .unwrap();
    });
}

fn spawn_child(db: &std::path::Path, cid: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_sender",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MG_SEND_CRASH_CHILD", db)
        .env("MG_SEND_CRASH_CID", cid)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn options() -> SendOptions {
    SendOptions {
        batch: 50,
        ..Default::default()
    }
}

/// Rows in `state` on disk right now (0 while the child has not created the file).
fn rows_in(db: &std::path::Path, cid: &str, state: &str) -> u64 {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    c.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE campaign_id = ?1 AND state = ?2",
        [cid, state],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .unwrap_or(0)
}

#[test]
fn crash_kill_9_at_several_points_then_resume() {
    let _ = starttls_settings(); // fail early and clearly if Postfix is not up
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let cid = unique("crash");
    let mut kills = 0;
    let mut inside_batch = 0;
    // Kill points: after N rows are sent; the last two also wait until a claimed batch
    // is on disk (several rows `sending` at once, most of them not yet handed to the
    // relay), so the kill lands inside a batch.
    for (target, min_sending) in [(150, 0), (700, 0), (1100, 2), (1500, 4)] {
        let mut child = spawn_child(&db, &cid);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("child ended before the kill point {target}: {status}");
            }
            if rows_in(&db, &cid, "sent") >= target
                && (min_sending == 0 || rows_in(&db, &cid, "sending") >= min_sending)
            {
                inside_batch += usize::from(min_sending > 0);
                break;
            }
            assert!(Instant::now() < deadline, "no progress to {target}");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no flush, no QUIT
        child.wait().unwrap();
        kills += 1;
    }
    // Resume to the end.
    let status = spawn_child(&db, &cid).wait().unwrap();
    assert!(status.success(), "resumed child failed: {status}");
    assert_eq!(kills, 4);
    assert_eq!(inside_batch, 2);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows = state::report(&conn, &cid).unwrap();
    assert_eq!(rows.len() as u64, N);
    let unknown: Vec<u64> = rows
        .iter()
        .filter(|r| r.state == State::Unknown)
        .map(|r| r.row)
        .collect();
    assert!(
        rows.iter()
            .all(|r| matches!(r.state, State::Sent | State::Unknown)),
        "every row finished"
    );
    // At most the rows `sending` at each kill (the engine's in-flight window: queued
    // for a connection or being sent) can be unknown.
    let window = mergeguard::send::in_flight_window(&options());
    assert!(
        unknown.len() <= window * kills,
        "unknown rows (window {window}): {unknown:?}"
    );

    let sent = rows.len() - unknown.len();
    let got = wait_delivered(&cid, sent);
    for r in &rows {
        let n = got.get(&message_id(&cid, r.row)).copied().unwrap_or(0);
        match r.state {
            State::Sent => assert_eq!(
                n, 1,
                "row {} sent must be in the maildir exactly once",
                r.row
            ),
            _ => assert!(n <= 1, "row {} unknown delivered {n} times", r.row),
        }
    }
    assert!(got.values().all(|n| *n == 1), "no Message-ID twice");
    eprintln!(
        "crash test: {sent} sent, {} unknown ({:?}) after {kills} kills",
        unknown.len(),
        unknown
    );
}
