//! Sender-domain checks against a real authoritative DNS server (Knot, started by
//! `tests/servers/dns.sh start`, address in MG_TEST_DNS, default 127.0.0.1:5353): one
//! test per zone case, asserting the exact status of the check ids the case is about.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mergeguard::error::ErrorCode;
use mergeguard::preflight::domain::{
    check_domain, load_dkim_key, DkimKey, DomainCheck, KeyAlgorithm, Resolver,
};
use mergeguard::preflight::{Check, Status};
use Status::{Fail, Pass, Warning};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// A fixed clock: the checks must not depend on when the tests run.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim").join(name)
}

fn key(name: &str) -> DkimKey {
    load_dkim_key(key_path(name)).unwrap_or_else(|e| panic!("test key {name}: {e}"))
}

/// The test DNS server's address; fails the test with instructions when it is down.
fn dns_server() -> SocketAddr {
    let text = std::env::var("MG_TEST_DNS").unwrap_or_else(|_| "127.0.0.1:5353".into());
    let addr: SocketAddr = text.parse().unwrap_or_else(|_| panic!("MG_TEST_DNS={text} is not an IP:port"));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!(
            "the test DNS server (Knot) is not answering at {addr}: start it with `tests/servers/dns.sh start` \
             (MG_TEST_DNS={text}, state under MG_TEST_DIR/dns)"
        );
    }
    addr
}

fn run(check: &DomainCheck, resolver: Resolver) -> Vec<Check> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(check_domain(check, &resolver, now()))
}

fn status_of<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks.iter().find(|c| c.id == id).unwrap_or_else(|| {
        panic!("no check {id} in {:#?}", checks.iter().map(|c| (&c.id, c.status)).collect::<Vec<_>>())
    })
}

fn assert_statuses(checks: &[Check], expected: &[(&str, Status)]) {
    for (id, status) in expected {
        let found = status_of(checks, id);
        assert_eq!(found.status, *status, "{id}: {found:#?}");
        assert!(!found.detail.is_empty(), "{id} says nothing: {found:#?}");
        if found.status != Pass {
            assert!(!found.fix.is_empty(), "{id} gives no fix: {found:#?}");
        }
    }
}

/// Checks `domain` (also the From domain) with the relay at 127.0.0.1.
fn check(domain: &str, selector: Option<&str>, key_file: Option<&str>, expected: &[(&str, Status)]) -> Vec<Check> {
    let mut c = DomainCheck::new(domain);
    c.selector = selector.map(str::to_string);
    c.dkim_key = key_file.map(key);
    c.relay_ips = vec![LOOPBACK];
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, expected);
    checks
}

const ALL_IDS: [&str; 16] = [
    "spf.record",
    "spf.syntax",
    "spf.lookups",
    "spf.all",
    "spf.relay",
    "dkim.record",
    "dkim.revoked",
    "dkim.key_length",
    "dkim.hash",
    "dkim.verify",
    "dmarc.record",
    "dmarc.policy",
    "dmarc.rua",
    "dmarc.alignment",
    "dns.mx",
    "dns.fcrdns",
];

#[test]
fn good_domain_passes_every_check() {
    let expected: Vec<(&str, Status)> = ALL_IDS.iter().map(|id| (*id, Pass)).collect();
    let checks = check("good.test", Some("sel1"), Some("rsa2048.pem"), &expected);
    assert_eq!(checks.len(), ALL_IDS.len(), "{checks:#?}");
    assert!(status_of(&checks, "dkim.key_length").detail.contains("2048"));
}

#[test]
fn good_domain_ed25519_selector_passes() {
    check("good.test", Some("sel-ed"), Some("ed25519.pem"), &[("dkim.key_length", Pass), ("dkim.verify", Pass)]);
}

#[test]
fn no_spf_record_fails() {
    check("nospf.test", None, None, &[("spf.record", Fail)]);
}

#[test]
fn two_spf_records_fail() {
    let checks = check("twospf.test", None, None, &[("spf.record", Fail)]);
    assert!(status_of(&checks, "spf.record").detail.contains("2 SPF records"));
}

#[test]
fn plus_all_fails() {
    check("plusall.test", None, None, &[("spf.all", Fail), ("spf.relay", Pass)]);
}

#[test]
fn question_all_fails() {
    check("qall.test", None, None, &[("spf.all", Fail)]);
}

#[test]
fn tilde_all_passes_with_note() {
    let checks = check("softall.test", None, None, &[("spf.all", Pass)]);
    assert!(status_of(&checks, "spf.all").detail.contains("~all"));
}

#[test]
fn invalid_spf_syntax_fails() {
    check("badsyntax.test", None, None, &[("spf.record", Pass), ("spf.syntax", Fail)]);
}

#[test]
fn more_than_ten_lookups_fail() {
    let checks = check("toomany.test", None, None, &[("spf.lookups", Fail), ("spf.relay", Pass)]);
    assert!(status_of(&checks, "spf.lookups").detail.contains("13 DNS lookups"), "{checks:#?}");
}

#[test]
fn exactly_ten_lookups_pass() {
    let checks = check("ten.test", None, None, &[("spf.lookups", Pass)]);
    assert!(status_of(&checks, "spf.lookups").detail.contains("10 of at most 10"), "{checks:#?}");
}

#[test]
fn relay_not_covered_by_spf_fails() {
    let checks = check("norelay.test", None, None, &[("spf.record", Pass), ("spf.relay", Fail)]);
    assert!(status_of(&checks, "spf.relay").detail.contains("127.0.0.1 gets fail"), "{checks:#?}");
}

#[test]
fn missing_dkim_selector_fails() {
    check("nodkim.test", Some("sel1"), Some("rsa2048.pem"), &[("dkim.record", Fail)]);
}

#[test]
fn rsa1024_key_warns() {
    check("rsa1024.test", Some("sel1"), None, &[("dkim.record", Pass), ("dkim.key_length", Warning)]);
}

#[test]
fn rsa512_key_fails() {
    let checks = check("rsa512.test", Some("sel1"), None, &[("dkim.key_length", Fail)]);
    assert!(status_of(&checks, "dkim.key_length").detail.contains("512 bits"));
}

#[test]
fn ed25519_key_passes() {
    check("ed25519.test", Some("sel1"), Some("ed25519.pem"), &[("dkim.key_length", Pass), ("dkim.verify", Pass)]);
}

#[test]
fn revoked_key_fails() {
    check("revoked.test", Some("sel1"), Some("rsa2048.pem"), &[("dkim.record", Pass), ("dkim.revoked", Fail)]);
}

#[test]
fn mismatched_private_key_fails() {
    let checks = check(
        "mismatch.test",
        Some("sel1"),
        Some("mismatch.pem"),
        &[("dkim.key_length", Pass), ("dkim.verify", Fail)],
    );
    assert!(status_of(&checks, "dkim.verify").detail.contains("does not match"), "{checks:#?}");
}

#[test]
fn ed25519_private_key_against_rsa_record_fails() {
    check("good.test", Some("sel1"), Some("ed25519.pem"), &[("dkim.verify", Fail)]);
}

#[test]
fn no_private_key_is_a_warning_for_dkim_verify() {
    check("good.test", Some("sel1"), None, &[("dkim.verify", Warning), ("dmarc.alignment", Pass)]);
}

#[test]
fn sha1_only_key_record_fails() {
    check("sha1only.test", Some("sel1"), Some("rsa2048.pem"), &[("dkim.hash", Fail)]);
}

#[test]
fn missing_dmarc_fails() {
    check("nodmarc.test", None, None, &[("dmarc.record", Fail)]);
}

#[test]
fn p_none_warns() {
    check("pnone.test", None, None, &[("dmarc.record", Pass), ("dmarc.policy", Warning), ("dmarc.rua", Pass)]);
}

#[test]
fn p_reject_passes() {
    check("preject.test", None, None, &[("dmarc.policy", Pass), ("dmarc.rua", Pass), ("dmarc.alignment", Pass)]);
}

#[test]
fn p_quarantine_passes() {
    check("pquarantine.test", None, None, &[("dmarc.policy", Pass)]);
}

#[test]
fn missing_rua_warns() {
    check("norua.test", None, None, &[("dmarc.policy", Pass), ("dmarc.rua", Warning)]);
}

#[test]
fn invalid_dmarc_record_fails() {
    check("badmarc.test", None, None, &[("dmarc.record", Fail)]);
}

fn subdomain_signer(org: &str) -> Vec<Check> {
    let c = DomainCheck {
        domain: format!("mail.{org}"),
        selector: Some("sel1".into()),
        dkim_key: Some(key("rsa2048.pem")),
        relay_ips: vec![LOOPBACK],
        from_domain: org.into(),
    };
    run(&c, Resolver::At(dns_server()))
}

#[test]
fn strict_alignment_with_subdomain_signature_fails() {
    let checks = subdomain_signer("unaligned.test");
    assert_statuses(&checks, &[("dkim.verify", Pass), ("spf.relay", Pass), ("dmarc.alignment", Fail)]);
    assert!(status_of(&checks, "dmarc.alignment").detail.contains("adkim=strict"), "{checks:#?}");
}

#[test]
fn relaxed_alignment_with_subdomain_signature_passes() {
    let checks = subdomain_signer("relaxed.test");
    assert_statuses(&checks, &[("dkim.verify", Pass), ("dmarc.alignment", Pass)]);
}

#[test]
fn dmarc_falls_back_to_organisational_domain() {
    let c = DomainCheck {
        domain: "good.test".into(),
        selector: Some("sel1".into()),
        dkim_key: Some(key("rsa2048.pem")),
        relay_ips: vec![LOOPBACK],
        from_domain: "news.good.test".into(),
    };
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(
        &checks,
        &[("dmarc.record", Pass), ("dmarc.policy", Pass), ("dmarc.alignment", Pass), ("dns.mx", Warning)],
    );
    assert!(status_of(&checks, "dmarc.record").detail.contains("_dmarc.good.test"), "{checks:#?}");
}

#[test]
fn relay_without_forward_confirmed_reverse_dns_warns() {
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let mut c = DomainCheck::new("good.test");
        c.relay_ips = vec![ip.parse().unwrap()];
        let checks = run(&c, Resolver::At(dns_server()));
        assert_statuses(&checks, &[("dns.fcrdns", Warning)]);
    }
}

#[test]
fn unreachable_dns_server_gives_findings_not_errors() {
    // Nothing listens on the discard port of loopback; every lookup fails fast.
    let mut c = DomainCheck::new("good.test");
    c.selector = Some("sel1".into());
    c.relay_ips = vec![LOOPBACK];
    let checks = run(&c, Resolver::At("127.0.0.1:9".parse().unwrap()));
    assert_statuses(&checks, &[("spf.record", Fail), ("dkim.record", Fail), ("dmarc.record", Fail), ("dns.mx", Warning)]);
    assert!(status_of(&checks, "spf.record").detail.starts_with("Could not read"), "{checks:#?}");
}

#[test]
fn loader_accepts_pem_and_der_rsa_and_ed25519() {
    for file in ["rsa2048.pem", "rsa2048-pkcs1.pem", "rsa2048.der", "rsa2048-pkcs1.der", "mismatch.pem"] {
        assert_eq!(key(file).algorithm(), KeyAlgorithm::Rsa { bits: 2048 }, "{file}");
    }
    for file in ["ed25519.pem", "ed25519.der"] {
        assert_eq!(key(file).algorithm(), KeyAlgorithm::Ed25519, "{file}");
    }
}

#[test]
fn loader_refuses_short_rsa_and_missing_files() {
    // The signing library accepts RSA keys of 2048 bits and more only.
    let err = load_dkim_key(key_path("rsa1024.pem")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidCampaign);
    assert!(err.to_string().contains("rsa1024.pem"), "{err}");
    let err = load_dkim_key(key_path("no-such-key.pem")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
    assert!(!format!("{:?}", key("rsa2048.pem")).contains("BEGIN"), "Debug must not print the key");
}

#[test]
fn sign_returns_a_dkim_signature_header_line() {
    let raw = b"From: a@good.test\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
    let header = key("rsa2048.pem").sign(raw, "good.test", "sel1", now()).unwrap();
    assert!(header.starts_with("DKIM-Signature: "), "{header}");
    assert!(header.ends_with("\r\n"), "{header}");
    assert!(header.contains("d=good.test") && header.contains("s=sel1"), "{header}");
    assert!(header.contains("a=rsa-sha256"), "{header}");
    let ed = key("ed25519.pem").sign(raw, "good.test", "sel-ed", now()).unwrap();
    assert!(ed.contains("a=ed25519-sha256"), "{ed}");
}
