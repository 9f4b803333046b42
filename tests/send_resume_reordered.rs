//! Issue 10, item 3: delivery state is keyed by the person, not the row. A send is
//! killed with SIGKILL mid-run; the recipient file is then re-exported in another order
//! with one person inserted, checked, approved again and resumed against Postfix. Per
//! address at Postfix: no duplicates, no losses; the report names the right person on
//! every line.
//!
//! The killed sender is this test binary re-invoked with `MG_RESUME_CHILD` set, running
//! only the ignored `resume_child_sender` test (the pattern of tests/send_crash.rs).

mod common_flow;

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common_flow::*;
use mergeguard::send::{Control, RateLimit, SendOptions, State};
use mergeguard::workflow::{self, SendRequest};

const N: usize = 240;

fn csv_of(people: &[(String, String)]) -> String {
    let mut csv = String::from("email,name\n");
    for (email, name) in people {
        csv.push_str(&format!("{email},{name}\n"));
    }
    csv
}

fn send_options() -> SendOptions {
    SendOptions {
        parallel: 2,
        batch: 20,
        // Slow enough to be killed in the middle.
        rate: RateLimit {
            per_second: Some(60),
            ..RateLimit::default()
        },
        ..SendOptions::default()
    }
}

/// Child side: sends the campaign at `MG_RESUME_CHILD` with the data folder at
/// `MG_RESUME_DATA` until killed.
#[test]
#[ignore = "run by a_killed_send_resumed_after_a_reordered_file_mails_each_person_once"]
fn resume_child_sender() {
    let path = std::env::var("MG_RESUME_CHILD").expect("only run as the test's child");
    let data = std::env::var("MG_RESUME_DATA").unwrap();
    let (store, _root) = store_with_people(std::path::Path::new(&data));
    let prepared = prepare(std::path::Path::new(&path));
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let request = SendRequest {
        operator: "root".into(),
        password: Some(password()),
        options: send_options(),
    };
    workflow::send(&store, &prepared, request, control, &|_| {}).unwrap();
}

fn spawn_child(path: &std::path::Path, data: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resume_child_sender",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MG_RESUME_CHILD", path)
        .env("MG_RESUME_DATA", data)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn count(db: &std::path::Path, cid: &str, state: &str) -> usize {
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
    .map(|n| n as usize)
    .unwrap_or(0)
}

#[test]
fn a_killed_send_resumed_after_a_reordered_file_mails_each_person_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (store, root) = store_with_people(&data);
    let id = unique("resume");
    let mut people: Vec<(String, String)> = (0..N)
        .map(|i| (format!("person{i}@example.test"), format!("Person {i}")))
        .collect();
    let path = relay_campaign(tmp.path(), &id, &csv_of(&people), "");
    let prepared = prepare(&path);
    approve(&store, &root, &prepared);

    // Killed mid-send, with messages in flight.
    let db = data.join(mergeguard::store::DB_FILE);
    let mut child = spawn_child(&path, &data);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sender ended before the kill point: {status}");
        }
        if count(&db, &id, "sent") >= N / 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let sent_before = count(&db, &id, "sent");
    assert!(sent_before < N, "killed mid-send");

    // Re-exported: reversed, and a new person inserted in the middle.
    people.reverse();
    people.insert(
        N / 2,
        ("newcomer@example.test".to_owned(), "Newcomer".to_owned()),
    );
    std::fs::write(tmp.path().join("r.csv"), csv_of(&people)).unwrap();
    // The old approval no longer fits the new file.
    let changed = prepare(&path);
    assert_ne!(changed.fingerprint, prepared.fingerprint);
    approve(&store, &root, &changed);
    let (_tx, control) = tokio::sync::watch::channel(Control::Run);
    let request = SendRequest {
        operator: "root".into(),
        password: Some(password()),
        options: SendOptions::default(),
    };
    let summary = workflow::send(&store, &changed, request.clone(), control, &|_| {}).unwrap();
    assert_eq!(summary.counts.queued + summary.counts.deferred, 0);

    // The report names the person of each row of the NEW file.
    let by_row: HashMap<u64, &str> = people
        .iter()
        .enumerate()
        .map(|(i, (e, _))| (i as u64 + 2, e.as_str()))
        .collect();
    let report = workflow::report(&store, &id).unwrap();
    assert_eq!(report.len(), N + 1);
    for line in &report {
        assert_eq!(
            by_row.get(&line.row).copied(),
            Some(line.email.as_str()),
            "row {} names the wrong person",
            line.row
        );
    }

    // Rows the kill left `unknown`: the operator looks at the relay (here: Postfix's
    // Maildir) and requeues only those that never arrived.
    let ids: HashMap<String, String> = people
        .iter()
        .map(|(e, _)| (message_id(&id, e), e.clone()))
        .collect();
    let all: Vec<String> = ids.keys().cloned().collect();
    let arrived = wait_delivered(&all, summary.counts.sent as usize);
    let lost_unknown: Vec<u64> = report
        .iter()
        .filter(|r| r.state == State::Unknown && !arrived.contains_key(&message_id(&id, &r.email)))
        .map(|r| r.row)
        .collect();
    if !lost_unknown.is_empty() {
        workflow::requeue_unknown(&store, &id, &lost_unknown, "root").unwrap();
        let (_tx, control) = tokio::sync::watch::channel(Control::Run);
        workflow::send(&store, &changed, request, control, &|_| {}).unwrap();
    }

    // Per address at Postfix: exactly one message each.
    let got = wait_delivered(&all, N + 1);
    let mut duplicates = 0;
    let mut losses = 0;
    for (mid, email) in &ids {
        match got.get(mid).map(Vec::len).unwrap_or(0) {
            0 => {
                losses += 1;
                eprintln!("lost: {email}");
            }
            1 => {}
            n => {
                duplicates += n - 1;
                eprintln!("{email} got {n} copies");
            }
        }
    }
    eprintln!(
        "resume test: {sent_before} sent before the kill, {} unknown requeued, \
         {duplicates} duplicates, {losses} losses",
        lost_unknown.len()
    );
    assert_eq!((duplicates, losses), (0, 0));
    // Each delivered message is addressed to the person its Message-ID belongs to.
    for (mid, email) in &ids {
        let file = &got[mid][0];
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.lines()
                .take_while(|l| !l.is_empty())
                .any(|l| l.eq_ignore_ascii_case(&format!("To: {email}"))),
            "{mid} not addressed to {email}"
        );
    }
}
