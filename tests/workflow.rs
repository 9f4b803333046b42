//! The whole flow through the real `mergeguard` binary, as a script or an operator would
//! run it: operators, keychain password, submit, approve by a second person, send, report,
//! audit — against the loopback Postfix (STARTTLS+AUTH), the Knot test DNS and the real
//! Secret Service (run inside `tests/servers/keyring-session.sh`, as `scripts/test.sh` does).

mod common_cli;
use common_cli::mg;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn test_dir() -> String {
    env("MG_TEST_DIR", "/tmp/mergeguard-test")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Two people: `root` (sender, approver, admin; PIN 1234) and `bob` (approver; PIN 2345),
/// plus `sam` (sender only; PIN 3456).
fn operators(data: &Path) {
    ok(mg(
        data,
        &[
            "operator",
            "add",
            "root",
            "--role",
            "sender,approver,admin",
            "--pin-stdin",
        ],
        "123456\n",
    ));
    ok(mg(
        data,
        &[
            "operator",
            "add",
            "bob",
            "--role",
            "approver",
            "--admin",
            "root",
            "--pin-stdin",
        ],
        "123456\n234567\n",
    ));
    ok(mg(
        data,
        &[
            "operator",
            "add",
            "sam",
            "--role",
            "sender",
            "--admin",
            "root",
            "--pin-stdin",
        ],
        "123456\n345678\n",
    ));
}

/// `root` stores the test relay's password in the keychain.
fn store_relay_password(data: &Path) {
    let relay = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let password = env("MG_TEST_SMTP_PASSWORD", "secret");
    let user = env("MG_TEST_SMTP_USER", "mailer");
    ok(mg(
        data,
        &[
            "credential",
            "set",
            "--relay",
            &relay,
            "--user",
            &user,
            "--operator",
            "root",
            "--stdin",
        ],
        &format!("123456\n{password}\n"),
    ));
}

/// The warnings an `approve` run listed as not acknowledged.
fn warnings_of(out: &str) -> String {
    out.lines()
        .filter_map(|l| l.trim().strip_suffix(": NOT acknowledged"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Delivered files in the Postfix maildir per Message-ID, for the given ids.
fn delivered(ids: &[String]) -> HashMap<String, Vec<PathBuf>> {
    let dir = PathBuf::from(env("MG_TEST_MAILDIR", &format!("{}/maildir", test_dir()))).join("new");
    let mut out: HashMap<String, Vec<PathBuf>> = HashMap::new();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("maildir {} ({e}): is Postfix running?", dir.display()));
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        let head = String::from_utf8_lossy(&bytes);
        for line in head.lines().take_while(|l| !l.is_empty()) {
            if line.len() > 11 && line[..11].eq_ignore_ascii_case("message-id:") {
                let mid = line[11..].trim();
                if ids.iter().any(|i| i == mid) {
                    out.entry(mid.to_owned()).or_default().push(e.path());
                }
            }
        }
    }
    out
}

fn wait_delivered(ids: &[String]) -> HashMap<String, Vec<PathBuf>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered(ids).len() < ids.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A little longer, so a duplicate would have time to show up too.
    std::thread::sleep(Duration::from_millis(500));
    delivered(ids)
}

/// The Message-IDs of the report CSV's sent rows.
fn sent_ids(report: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(report).unwrap();
    let headers = r.headers().unwrap().clone();
    let state = headers.iter().position(|h| h == "state").unwrap();
    let mid = headers.iter().position(|h| h == "message_id").unwrap();
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[state] == "sent")
        .map(|rec| rec[mid].to_owned())
        .collect()
}

/// dkimpy (an independent verifier) checks a received message, fetching the public key
/// from the Knot test DNS through dnspython.
fn dkimpy_verifies(message: &Path) -> bool {
    let python = env("MG_TEST_PYTHON", &format!("{}/venv/bin/python", test_dir()));
    let (host, port) = env("MG_TEST_DNS", "127.0.0.1:5353")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    let script = format!(
        "import sys, dkim, dns.resolver\n\
         r = dns.resolver.Resolver(configure=False)\n\
         r.nameservers = ['{host}']\n\
         r.port = {port}\n\
         def txt(name, timeout=5):\n\
         \x20   a = r.resolve(name.decode().rstrip('.'), 'TXT', lifetime=timeout)\n\
         \x20   return b''.join(a[0].strings)\n\
         m = open(sys.argv[1], 'rb').read()\n\
         assert b'DKIM-Signature' in m, 'no DKIM-Signature header'\n\
         print('PASS' if dkim.verify(m, dnsfunc=txt) else 'FAIL')\n"
    );
    let out = Command::new(&python)
        .args(["-c", &script])
        .arg(message)
        .output()
        .unwrap_or_else(|e| {
            panic!("python with dkimpy ({python}, MG_TEST_PYTHON) not runnable: {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dkimpy: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim() == "PASS"
}

/// A campaign for the fully good test domain, sent through the STARTTLS Postfix and
/// signed with the key published at sel1._domainkey.good.test.
fn relay_campaign(dir: &Path, id: &str) -> PathBuf {
    let (host, port) = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    let ca = env("MG_TEST_CA", &format!("{}/certs/ca.crt", test_dir()));
    std::fs::copy("tests/data/dkim/rsa2048.pem", dir.join("dkim.pem")).unwrap();
    std::fs::write(
        dir.join("r.csv"),
        "email,name\na1@example.test,Aiko\nb2@example.test,Bunta\nc3@example.test,Chika\n",
    )
    .unwrap();
    std::fs::write(dir.join("t.txt"), "Dear {{ name }},\nour news.\n").unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(
        &path,
        format!(
            "id = \"{id}\"\n[sender]\nname = \"Good Shop\"\naddress = \"news@good.test\"\n\
             [recipients]\nfile = \"r.csv\"\n[message]\nsubject = \"Hello {{{{ name }}}}\"\ntext = \"t.txt\"\n\
             [unsubscribe]\nmailto = \"unsubscribe@good.test?subject=u-{{token}}\"\n\
             [advertising]\nenabled = false\n\
             [relay]\nhost = \"{host}\"\nport = {port}\nsecurity = \"starttls\"\nusername = \"{user}\"\nca = \"{ca}\"\n\
             [dkim]\nselector = \"sel1\"\nprivate_key = \"dkim.pem\"\n",
            user = env("MG_TEST_SMTP_USER", "mailer"),
        ),
    )
    .unwrap();
    path
}

#[test]
fn relay_campaign_needs_a_second_operator_then_arrives_once_and_dkim_verifies() {
    let dns = env("MG_TEST_DNS", "127.0.0.1:5353");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let id = unique("wf-relay");
    let campaign = relay_campaign(tmp.path(), &id);
    let c = campaign.to_str().unwrap();
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["--campaign".into(), c.into(), "--dns".into(), dns.clone()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |cmd: &str, extra: &[&'static str], stdin: &str| {
        let mut args = vec![cmd.to_owned()];
        args.extend(with(extra));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        mg(&data, &refs, stdin)
    };
    operators(&data);
    store_relay_password(&data);

    // Nothing is sent before approval.
    let refused = run("send", &["--operator", "root", "--pin-stdin"], "123456\n");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("no approval"), "{}", text(&refused));

    let submitted = ok(run(
        "submit",
        &["--operator", "root", "--pin-stdin"],
        "123456\n",
    ));
    assert!(submitted.contains("Recipients   3"), "{submitted}");
    // The preparer cannot approve their own campaign, even with the approver role.
    let own = run(
        "approve",
        &["--operator", "root", "--pin-stdin"],
        "123456\n",
    );
    assert!(
        !own.status.success() && text(&own).contains("different"),
        "{}",
        text(&own)
    );
    // A wrong PIN is refused.
    let wrong = run("approve", &["--operator", "bob", "--pin-stdin"], "999999\n");
    assert!(!wrong.status.success(), "{}", text(&wrong));

    let shown = text(&run(
        "approve",
        &["--operator", "bob", "--pin-stdin"],
        "999999\n",
    ));
    let acks = warnings_of(&shown);
    let mut args = vec!["approve".to_owned()];
    args.extend(with(&["--operator", "bob", "--pin-stdin"]));
    if !acks.is_empty() {
        args.push(format!("--acknowledge={acks}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(mg(&data, &refs, "234567\n"));

    // An approver without the sender role cannot start the send.
    let bob_sends = run("send", &["--operator", "bob", "--pin-stdin"], "234567\n");
    assert!(
        !bob_sends.status.success() && text(&bob_sends).contains("sender role"),
        "{}",
        text(&bob_sends)
    );

    let report = tmp.path().join("report.csv");
    let mut args = vec!["send".to_owned()];
    args.extend(with(&[
        "--operator",
        "root",
        "--pin-stdin",
        "--parallel",
        "2",
    ]));
    args.push(format!("--report={}", report.display()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let sent = ok(mg(&data, &refs, "123456\n"));
    assert!(sent.contains("sent 3 failed 0"), "{sent}");

    let ids = sent_ids(&report);
    assert_eq!(
        ids.len(),
        3,
        "{}",
        std::fs::read_to_string(&report).unwrap()
    );
    let got = wait_delivered(&ids);
    assert_eq!(got.len(), 3, "{got:?}");
    for (mid, files) in &got {
        assert_eq!(files.len(), 1, "{mid} delivered {} times", files.len());
        assert!(
            dkimpy_verifies(&files[0]),
            "DKIM signature of {mid} does not verify"
        );
    }

    // Sending again sends nothing twice.
    let again = ok(mg(&data, &refs, "123456\n"));
    assert!(again.contains("sent 3 failed 0"), "{again}");
    let got = wait_delivered(&ids);
    assert!(
        got.len() == 3 && got.values().all(|f| f.len() == 1),
        "{got:?}"
    );

    // The log is intact, names both people and every outcome, and never the password.
    let d = data.to_str().unwrap();
    ok(mg(&data, &["audit", "verify", "--data-dir", d], ""));
    let log = ok(mg(
        &data,
        &["audit", "export", "--format", "json", "--data-dir", d],
        "",
    ));
    for kind in [
        "check_run",
        "approval_requested",
        "approval_granted",
        "approval_refused",
        "send_start",
        "send_finish",
        "credential_stored",
    ] {
        assert!(log.contains(kind), "no {kind} entry in the log");
    }
    assert_eq!(log.matches("\"message_outcome\"").count(), 3, "{log}");
    let password = env("MG_TEST_SMTP_PASSWORD", "secret");
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the relay password is in {}",
            entry.path().display()
        );
    }
    assert!(!log.contains(&password) || password.len() < 4);
}

/// The bundled example (Outbox folder) copied to a temp dir.
fn outbox_example(dir: &Path) -> PathBuf {
    for f in [
        "campaign.toml",
        "customers.csv",
        "newsletter.txt",
        "newsletter.html",
        "coupon.txt",
    ] {
        std::fs::copy(Path::new("examples").join(f), dir.join(f)).unwrap();
    }
    dir.join("campaign.toml")
}

fn eml_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn outbox_example_runs_the_whole_flow_and_an_edit_after_approval_voids_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let campaign = outbox_example(tmp.path());
    let c = campaign.to_str().unwrap();
    let outbox = tmp.path().join("outbox");
    operators(&data);

    let approve = |data: &Path| {
        let shown = text(&mg(
            data,
            &[
                "approve",
                "--campaign",
                c,
                "--operator",
                "bob",
                "--pin-stdin",
            ],
            "999999\n",
        ));
        let acks = warnings_of(&shown);
        assert!(
            acks.contains("outbox.nothing_sent"),
            "the Outbox warning must be acknowledged: {shown}"
        );
        ok(mg(
            data,
            &[
                "approve",
                "--campaign",
                c,
                "--operator",
                "bob",
                "--pin-stdin",
                &format!("--acknowledge={acks}"),
            ],
            "234567\n",
        ));
    };
    ok(mg(
        &data,
        &[
            "submit",
            "--campaign",
            c,
            "--operator",
            "sam",
            "--pin-stdin",
        ],
        "345678\n",
    ));
    approve(&data);

    // One recipient's row edited on disk after the approval: the send is refused and
    // nothing is written.
    let csv = tmp.path().join("customers.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes.extend_from_slice(b"\r\nextra@example.jp,x\r\n");
    std::fs::write(&csv, &bytes).unwrap();
    let refused = mg(
        &data,
        &["send", "--campaign", c, "--operator", "sam", "--pin-stdin"],
        "345678\n",
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("changed"), "{}", text(&refused));
    assert_eq!(
        eml_count(&outbox),
        0,
        "a message was written without a valid approval"
    );

    // Undoing the edit does not bring the void approval back.
    bytes.truncate(bytes.len() - b"\r\nextra@example.jp,x\r\n".len());
    std::fs::write(&csv, &bytes).unwrap();
    let still = mg(
        &data,
        &["send", "--campaign", c, "--operator", "sam", "--pin-stdin"],
        "345678\n",
    );
    assert!(!still.status.success(), "{}", text(&still));
    assert_eq!(eml_count(&outbox), 0);

    // Submitted and approved again, it goes out: one .eml per recipient, once.
    ok(mg(
        &data,
        &[
            "submit",
            "--campaign",
            c,
            "--operator",
            "sam",
            "--pin-stdin",
        ],
        "345678\n",
    ));
    approve(&data);
    let sent = ok(mg(
        &data,
        &["send", "--campaign", c, "--operator", "sam", "--pin-stdin"],
        "345678\n",
    ));
    assert!(sent.contains("sent 9 failed 0"), "{sent}");
    assert_eq!(eml_count(&outbox), 9);
    let again = ok(mg(
        &data,
        &["send", "--campaign", c, "--operator", "sam", "--pin-stdin"],
        "345678\n",
    ));
    assert!(again.contains("sent 9 failed 0"), "{again}");
    assert_eq!(eml_count(&outbox), 9);
    let d = data.to_str().unwrap();
    let log = ok(mg(
        &data,
        &["audit", "export", "--format", "csv", "--data-dir", d],
        "",
    ));
    assert!(log.contains("approval_voided"), "{log}");
    assert_eq!(log.matches("message_outcome").count(), 9, "{log}");
}

#[test]
fn dkim_key_from_the_keychain_signs_and_passes_the_checklist() {
    let dns = env("MG_TEST_DNS", "127.0.0.1:5353");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let id = unique("wf-kc");
    let campaign = relay_campaign(tmp.path(), &id);
    // The key moves into the keychain and the file is gone.
    let key = tmp.path().join("dkim.pem");
    operators(&data);
    ok(mg(
        &data,
        &[
            "credential",
            "set-dkim",
            "--domain",
            "good.test",
            "--selector",
            "sel1",
            "--file",
            key.to_str().unwrap(),
            "--operator",
            "root",
            "--stdin",
        ],
        "123456\n",
    ));
    std::fs::remove_file(&key).unwrap();
    let text = std::fs::read_to_string(&campaign)
        .unwrap()
        .replace("private_key = \"dkim.pem\"", "keychain = true");
    std::fs::write(&campaign, text).unwrap();

    let out = mg(
        &data,
        &[
            "preflight",
            "--campaign",
            campaign.to_str().unwrap(),
            "--dns",
            &dns,
            "--json",
        ],
        "",
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text_of(&out)));
    let status = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status("dkim.private_key"), None, "{report}");
    assert_eq!(status("dkim.verify").as_deref(), Some("pass"), "{report}");

    // A key the keychain does not have is a clear checklist failure, not a crash.
    let other = std::fs::read_to_string(&campaign)
        .unwrap()
        .replace("selector = \"sel1\"", "selector = \"sel-ed\"");
    std::fs::write(&campaign, other).unwrap();
    let out = mg(
        &data,
        &[
            "preflight",
            "--campaign",
            campaign.to_str().unwrap(),
            "--dns",
            &dns,
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "no DKIM private key is stored in the keychain for sel-ed._domainkey.good.test"
        ),
        "{}",
        text_of(&out)
    );
}

fn text_of(o: &Output) -> String {
    text(o)
}

/// A test copy goes through the real relay to the operator's own recorded address only:
/// "[TEST]" in the subject, addressed to the tester alone with no customer address in
/// it, signed, and refused for a customer's address, or another address at the sender's
/// domain, before anything is sent.
#[test]
fn test_send_reaches_the_own_mailbox_only_and_carries_no_customer_address() {
    let dns = env("MG_TEST_DNS", "127.0.0.1:5353");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let id = unique("wf-test-send");
    let campaign = relay_campaign(tmp.path(), &id);
    let c = campaign.to_str().unwrap();
    operators(&data);
    store_relay_password(&data);
    let test_send = |to: &str, row: &str| {
        mg(
            &data,
            &[
                "test-send",
                "--campaign",
                c,
                "--dns",
                &dns,
                "--operator",
                "sam",
                "--to",
                to,
                "--row",
                row,
                "--pin-stdin",
            ],
            "345678\n",
        )
    };
    let refused = test_send("a1@example.test", "2");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("never to a customer"),
        "{}",
        text(&refused)
    );
    // The campaign file's sender domain is not a licence: the operator's own address
    // is what an admin recorded.
    let refused = test_send("me@good.test", "4");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("set-email"), "{}", text(&refused));
    ok(mg(
        &data,
        &[
            "operator",
            "set-email",
            "sam",
            "me@good.test",
            "--admin",
            "root",
            "--pin-stdin",
        ],
        "123456\n",
    ));
    let refused = test_send("other@good.test", "4");
    assert!(!refused.status.success(), "{}", text(&refused));

    let out = ok(test_send("me@good.test", "4"));
    assert!(
        out.contains("test copy of row 4 sent to me@good.test: 250"),
        "{out}"
    );
    let mid = out
        .lines()
        .find(|l| l.starts_with("test copy"))
        .unwrap_or_default()
        .trim_end()
        .rsplit_once('(')
        .and_then(|(_, m)| m.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no Message-ID in {out}"))
        .to_owned();
    let got = wait_delivered(std::slice::from_ref(&mid));
    let files = got
        .get(&mid)
        .unwrap_or_else(|| panic!("{mid} not delivered"));
    assert_eq!(files.len(), 1, "one copy");
    let message = std::fs::read_to_string(&files[0]).unwrap();
    assert!(message.contains("Subject: [TEST] Hello Chika"), "{message}");
    assert!(message.contains("To: me@good.test"), "{message}");
    assert!(
        !message.contains("c3@example.test"),
        "a customer address leaked: {message}"
    );
    assert!(
        dkimpy_verifies(&files[0]),
        "the test copy is signed like the real ones"
    );
}
