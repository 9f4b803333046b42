//! DMARC aggregate reports: import from xml, xml.gz and zip files, the refusals of
//! malformed and hostile files (exit 2, one line, nothing stored, bounded memory), and
//! the per-source summary with its plain-words warnings.
//!
//! The command-line tests that store a report need the keychain: run this file with
//!   tests/servers/keyring-session.sh cargo test -p mergeguard --test dmarc_report
//! The PTR names of the summary are looked up at the test DNS server (tests/servers/dns.sh,
//! 127.0.0.1:5353 or $MG_TEST_DNS) and at a hostile one this file runs itself.

mod common_cli;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use mergeguard::dmarc_report::{self, MAX_FILE_BYTES};
use mergeguard::preflight::dns::{PtrLimits, Resolver, PTR_NAME_MAX};
use mergeguard::secrets::install::MemoryKeys;
use mergeguard::store::Store;
use time::OffsetDateTime;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dmarc")
        .join(name)
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-06-05 10:00 UTC)
}

fn memory_store(dir: &Path) -> Store {
    Store::open_with(dir, &MemoryKeys::new()).unwrap()
}

fn reports_stored(store: &Store) -> u64 {
    dmarc_report::summarize(store, None, None, &[], &|_| None)
        .unwrap()
        .reports
}

#[test]
fn xml_gzip_and_zip_reports_are_read_with_every_record() {
    let google =
        dmarc_report::parse_file_bytes(&std::fs::read(data("google.xml")).unwrap()).unwrap();
    assert_eq!(google.org, "google.com");
    assert_eq!(google.report_id, "1780272000-google");
    assert_eq!((google.begin, google.end), (1780272000, 1780358399));
    assert_eq!(google.domain, "shop.test");
    assert_eq!(google.policy, "none");
    assert_eq!(google.records.len(), 3);
    let spoof = &google.records[2];
    assert_eq!(
        (
            spoof.source_ip.as_str(),
            spoof.count,
            spoof.disposition.as_str(),
            spoof.dkim.as_str(),
            spoof.spf.as_str()
        ),
        ("203.0.113.66", 5, "none", "fail", "fail")
    );
    let gz =
        dmarc_report::parse_file_bytes(&std::fs::read(data("example.xml.gz")).unwrap()).unwrap();
    assert_eq!((gz.org.as_str(), gz.records.len()), ("mail.example", 2));
    let zip = dmarc_report::parse_file_bytes(&std::fs::read(data("outlook.zip")).unwrap()).unwrap();
    assert_eq!(
        (zip.org.as_str(), zip.records.len()),
        ("outlook.example", 1)
    );
}

#[test]
fn hostile_and_damaged_files_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = memory_store(dir.path());
    for (file, says) in [
        ("truncated.zip", "zip file is damaged"),
        ("bomb.xml", "declares a DTD"),
        ("zipbomb.zip", "more than 20 MB"),
        ("gzipbomb.xml.gz", "more than 20 MB"),
        ("not-a-report.xml", "not a DMARC aggregate report"),
    ] {
        let err = dmarc_report::import_file(&store, &data(file), now()).unwrap_err();
        assert!(err.to_string().contains(says), "{file}: {err}");
        assert_eq!(err.code(), mergeguard::error::ErrorCode::InvalidInput);
    }
    // A huge file is refused before it is read (sparse: no disk is used).
    let huge = dir.path().join("huge.xml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    let err = dmarc_report::import_file(&store, &huge, now()).unwrap_err();
    assert!(err.to_string().contains("larger than 10 MB"), "{err}");
    assert_eq!(reports_stored(&store), 0);
}

#[test]
fn a_report_is_stored_once_and_summarised_per_source_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let store = memory_store(dir.path());
    for f in ["google.xml", "example.xml.gz", "outlook.zip", "google.xml"] {
        dmarc_report::import_file(&store, &data(f), now()).unwrap();
    }
    let relay: IpAddr = "192.0.2.10".parse().unwrap();
    let s = dmarc_report::summarize(&store, None, None, &[relay], &|ip| {
        (ip == relay).then(|| "relay.shop.test".to_owned())
    })
    .unwrap();
    assert_eq!(s.reports, 3, "the second google.xml is the same report");
    let by_ip = |ip: &str| s.sources.iter().find(|x| x.source_ip == ip).unwrap();
    let ours = by_ip("192.0.2.10");
    assert_eq!(ours.messages, 240);
    assert_eq!(ours.ptr.as_deref(), Some("relay.shop.test"));
    assert_eq!(
        (ours.spf_pass, ours.dkim_pass, ours.dmarc_pass),
        (1.0, 1.0, 1.0)
    );
    assert!(ours.warnings.is_empty(), "{:?}", ours.warnings);
    let spoofer = by_ip("203.0.113.66");
    assert_eq!((spoofer.messages, spoofer.dmarc_pass), (17, 0.0));
    assert!(spoofer.warnings[0].starts_with("Someone else is sending as shop.test"));
    let unlisted = by_ip("198.51.100.7");
    assert_eq!((unlisted.spf_pass, unlisted.dkim_pass), (0.0, 1.0));
    assert!(unlisted.warnings[0].starts_with("Your relay is not in SPF"));
    // Per day: three days, the spoofer on two of them.
    let days: std::collections::BTreeSet<_> = s.days.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2026-06-01", "2026-06-02", "2026-06-03"]
    );
    assert_eq!(
        s.days
            .iter()
            .filter(|d| d.source_ip == "203.0.113.66")
            .count(),
        2
    );
    assert_eq!(s.warnings.len(), 2);
    // Each new report is logged (without addresses: there are none in a report).
    let log = mergeguard::audit::entries(&store, &mergeguard::audit::Filter::default()).unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.kind == "dmarc_report_imported")
            .count(),
        3
    );
}

#[test]
fn the_command_refuses_a_malformed_file_with_exit_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["truncated.zip", "bomb.xml", "zipbomb.zip"] {
        let out = common_cli::mg(
            dir.path(),
            &[
                "dmarc-report",
                "import",
                data("google.xml").to_str().unwrap(),
                data(file).to_str().unwrap(),
                "--operator",
                "aiko",
                "--pin-stdin",
                "--json",
            ],
            "246813\n",
        );
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(file), "{err}");
        assert!(out.stdout.is_empty());
        // Nothing stored: not even the good file named before it (no database was made:
        // every file is read before the store is opened and the PIN asked).
        assert!(!dir.path().join(mergeguard::store::DB_FILE).exists());
    }
}

#[test]
fn the_command_needs_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let out = common_cli::mg(
        dir.path(),
        &[
            "dmarc-report",
            "import",
            data("google.xml").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--operator"));
    assert!(!dir.path().join(mergeguard::store::DB_FILE).exists());
}

fn require_keyring() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "this test stores reports in a real data folder: run it with\n  \
             tests/servers/keyring-session.sh cargo test -p mergeguard --test dmarc_report"
        );
    }
}

/// A data folder whose first admin is aiko (PIN 246813), made with the command line.
fn data_folder_with_admin() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = common_cli::mg(
        dir.path(),
        &["operator", "add", "aiko", "--pin-stdin"],
        "246813\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn import_as(dir: &Path, operator: &str, pin: &str) -> std::process::Output {
    common_cli::mg(
        dir,
        &[
            "dmarc-report",
            "import",
            data("google.xml").to_str().unwrap(),
            data("outlook.zip").to_str().unwrap(),
            "--operator",
            operator,
            "--pin-stdin",
            "--json",
        ],
        &format!("{pin}\n"),
    )
}

#[test]
fn a_wrong_pin_or_unknown_operator_stores_nothing() {
    require_keyring();
    let dir = data_folder_with_admin();
    for (who, pin) in [("aiko", "000000"), ("nobody", "246813")] {
        let out = import_as(dir.path(), who, pin);
        assert_ne!(out.status.code(), Some(0), "{who}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{who}: {err}");
        assert!(err.starts_with("error: "), "{who}: {err}");
        assert!(out.stdout.is_empty(), "{who}");
        let summary = common_cli::mg(dir.path(), &["dmarc-report", "summary", "--json"], "");
        let v: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
        assert_eq!(v["reports"], 0, "{who}");
    }
}

#[test]
fn the_command_prints_the_reports_as_json() {
    require_keyring();
    let dir = data_folder_with_admin();
    let out = import_as(dir.path(), "aiko", "246813");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = v["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(
        reports[0],
        serde_json::json!({
            "org": "google.com", "report_id": "1780272000-google",
            "begin": 1780272000u64, "end": 1780358399u64, "domain": "shop.test", "policy": "none",
            "records": [
                {"source_ip": "192.0.2.10", "count": 120, "disposition": "none", "dkim": "pass", "spf": "pass"},
                {"source_ip": "198.51.100.7", "count": 30, "disposition": "none", "dkim": "pass", "spf": "fail"},
                {"source_ip": "203.0.113.66", "count": 5, "disposition": "none", "dkim": "fail", "spf": "fail"}
            ]
        })
    );
    let out = common_cli::mg(dir.path(), &["dmarc-report", "summary", "--json"], "");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reports"], 2);
    // Each new report's log entry names the operator who imported it.
    let store = Store::open(dir.path()).unwrap();
    let log = mergeguard::audit::entries(&store, &mergeguard::audit::Filter::default()).unwrap();
    let imported: Vec<_> = log
        .iter()
        .filter(|e| e.kind == "dmarc_report_imported")
        .collect();
    assert_eq!(imported.len(), 2);
    assert!(
        imported.iter().all(|e| e.operator == "aiko"),
        "{imported:?}"
    );
}

#[test]
fn the_command_line_summary_names_sources_at_the_dns_server_given() {
    require_keyring();
    let dir = data_folder_with_admin();
    let out = common_cli::mg(
        dir.path(),
        &[
            "dmarc-report",
            "import",
            data("loopback.xml").to_str().unwrap(),
            "--operator",
            "aiko",
            "--pin-stdin",
        ],
        "246813\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dns = test_dns().to_string();
    let out = common_cli::mg(dir.path(), &["dmarc-report", "summary", "--dns", &dns], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // tests/servers/dns/reverse.zone: 127.0.0.1 is mail.good.test, 127.0.0.3 has none.
    assert!(text.contains("127.0.0.1 (mail.good.test):"), "{text}");
    assert!(text.lines().any(|l| l.contains("127.0.0.3:")), "{text}");
    let out = common_cli::mg(
        dir.path(),
        &["dmarc-report", "summary", "--dns", &dns, "--json"],
        "",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let named: Vec<_> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source_ip"].as_str().unwrap().to_owned(),
                s["ptr"].clone(),
            )
        })
        .collect();
    assert!(
        named.contains(&("127.0.0.1".into(), serde_json::json!("mail.good.test"))),
        "{named:?}"
    );
}

fn test_dns() -> std::net::SocketAddr {
    std::env::var("MG_TEST_DNS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:5353".into())
        .parse()
        .expect("MG_TEST_DNS is IP:PORT")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_summary_names_sources_by_their_ptr_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = memory_store(dir.path());
    for f in ["loopback.xml", "google.xml"] {
        dmarc_report::import_file(&store, &data(f), now()).unwrap();
    }
    let resolver = Resolver::At(test_dns());
    let started = std::time::Instant::now();
    let s = runtime()
        .block_on(dmarc_report::summarize_with_names(
            &store,
            None,
            None,
            &[],
            &resolver,
            &PtrLimits::default(),
        ))
        .unwrap();
    let ptr = |ip: &str| {
        s.sources
            .iter()
            .find(|x| x.source_ip == ip)
            .unwrap()
            .ptr
            .clone()
    };
    // tests/servers/dns/reverse.zone: 127.0.0.1 is mail.good.test, 127.0.0.3 has none;
    // the documentation addresses of google.xml have no reverse zone there.
    assert_eq!(ptr("127.0.0.1").as_deref(), Some("mail.good.test"));
    assert_eq!(ptr("127.0.0.3"), None);
    assert_eq!(ptr("203.0.113.66"), None);
    // Per day too.
    assert!(s
        .days
        .iter()
        .filter(|d| d.source_ip == "127.0.0.1")
        .all(|d| d.ptr.as_deref() == Some("mail.good.test")));
    assert!(started.elapsed() < PtrLimits::default().total + std::time::Duration::from_secs(1));
    // Only the sources shown are looked up: a period without the loopback report.
    let june_1 = 1780272000;
    let s = runtime()
        .block_on(dmarc_report::summarize_with_names(
            &store,
            Some(june_1),
            Some(june_1 + 86_400),
            &[],
            &resolver,
            &PtrLimits::default(),
        ))
        .unwrap();
    assert!(s.sources.iter().all(|x| !x.source_ip.starts_with("127.")));
}

/// A DNS server on a loopback UDP port of its own that answers every PTR question for
/// 127.0.0.5 with a hostile name (markup, a space, a NUL, long runs of markup),
/// and never answers anything else: a slow server and a lying one in one.
fn hostile_dns() -> std::net::SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let q = &buf[..n];
            // The question name starts at 12; answer only 5.0.0.127.in-addr.arpa.
            if n < 12 || q.get(12..14) != Some(&[1, b'5'][..]) {
                continue;
            }
            // Header and question only (an EDNS record after it is not echoed).
            let mut end = 12;
            while end < n && q[end] != 0 {
                end += 1 + q[end] as usize;
            }
            let mut r = q[..(end + 5).min(n)].to_vec();
            r[2] = 0x84 | (q[2] & 0x01); // QR, AA, RD as asked
            r[3] = 0x00;
            r[6..8].copy_from_slice(&[0, 1]); // one answer
            r[8..12].copy_from_slice(&[0, 0, 0, 0]);
            let mut name = Vec::new();
            for label in [
                &b"<img src=x onerror=alert(1)>"[..],
                &b"a b\x00c"[..],
                &[b'<'; 63][..],
                &[b'>'; 63][..],
                &[b'x'; 63][..],
                &b"evil"[..],
            ] {
                name.push(label.len() as u8);
                name.extend_from_slice(label);
            }
            name.push(0);
            r.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]); // PTR IN TTL 60
            r.extend_from_slice(&(name.len() as u16).to_be_bytes());
            r.extend_from_slice(&name);
            let _ = socket.send_to(&r, from);
        }
    });
    addr
}

#[test]
fn a_hostile_or_silent_dns_server_gives_text_or_no_name_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = memory_store(dir.path());
    dmarc_report::import_file(&store, &data("google.xml"), now()).unwrap();
    // Forty more sources the server never answers for, and 127.0.0.5 it lies about.
    let mut report =
        dmarc_report::parse_file_bytes(&std::fs::read(data("loopback.xml")).unwrap()).unwrap();
    let template = report.records[0].clone();
    report.records = (5..45)
        .map(|i| dmarc_report::ReportRecord {
            source_ip: format!("127.0.0.{i}"),
            ..template.clone()
        })
        .collect();
    dmarc_report::store_report(&store, &report, now()).unwrap();
    let limits = PtrLimits {
        per_lookup: std::time::Duration::from_millis(500),
        total: std::time::Duration::from_millis(1500),
        ..PtrLimits::default()
    };
    let started = std::time::Instant::now();
    let s = runtime()
        .block_on(dmarc_report::summarize_with_names(
            &store,
            None,
            None,
            &[],
            &Resolver::At(hostile_dns()),
            &limits,
        ))
        .unwrap();
    let took = started.elapsed();
    // 40 silent lookups, 8 at a time, 0.5 s each would be 2.5 s: the whole is cut at 1.5 s.
    assert!(
        took < std::time::Duration::from_millis(2500),
        "the summary took {took:?}"
    );
    let named: Vec<_> = s.sources.iter().filter(|x| x.ptr.is_some()).collect();
    assert_eq!(named.len(), 1, "{named:?}");
    let name = named[0].ptr.as_deref().unwrap();
    assert_eq!(named[0].source_ip, "127.0.0.5");
    assert!(name.chars().count() <= PTR_NAME_MAX, "{name}");
    assert!(name.ends_with('…'), "{name}");
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.?…".contains(c)),
        "{name}"
    );
    assert!(name.contains("img") && name.contains("onerror"), "{name}");
}
