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
use Status::{Fail, Pass, Skipped, Warning};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// A fixed clock: the checks must not depend on when the tests run.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dkim")
        .join(name)
}

fn key(name: &str) -> DkimKey {
    load_dkim_key(key_path(name)).unwrap_or_else(|e| panic!("test key {name}: {e}"))
}

/// The test DNS server's address; fails the test with instructions when it is down.
fn dns_server() -> SocketAddr {
    let text = std::env::var("MG_TEST_DNS").unwrap_or_else(|_| "127.0.0.1:5353".into());
    let addr: SocketAddr = text
        .parse()
        .unwrap_or_else(|_| panic!("MG_TEST_DNS={text} is not an IP:port"));
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
        panic!(
            "no check {id} in {:#?}",
            checks.iter().map(|c| (&c.id, c.status)).collect::<Vec<_>>()
        )
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
fn check(
    domain: &str,
    selector: Option<&str>,
    key_file: Option<&str>,
    expected: &[(&str, Status)],
) -> Vec<Check> {
    let mut c = DomainCheck::new(domain);
    c.selector = selector.map(str::to_string);
    c.dkim_key = key_file.map(key);
    c.relay_ips = vec![LOOPBACK];
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, expected);
    checks
}

const ALL_IDS: [&str; 17] = [
    "spf.record",
    "spf.syntax",
    "spf.lookups",
    "spf.ptr",
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
    assert!(status_of(&checks, "dkim.key_length")
        .detail
        .contains("2048"));
}

#[test]
fn good_domain_ed25519_selector_passes() {
    check(
        "good.test",
        Some("sel-ed"),
        Some("ed25519.pem"),
        &[("dkim.key_length", Pass), ("dkim.verify", Pass)],
    );
}

#[test]
fn no_spf_record_fails() {
    check("nospf.test", None, None, &[("spf.record", Fail)]);
}

#[test]
fn two_spf_records_fail() {
    let checks = check("twospf.test", None, None, &[("spf.record", Fail)]);
    assert!(status_of(&checks, "spf.record")
        .detail
        .contains("2 SPF records"));
}

#[test]
fn plus_all_fails() {
    check(
        "plusall.test",
        None,
        None,
        &[("spf.all", Fail), ("spf.relay", Pass)],
    );
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
    check(
        "badsyntax.test",
        None,
        None,
        &[("spf.record", Pass), ("spf.syntax", Fail)],
    );
}

#[test]
fn more_than_ten_lookups_fail() {
    let checks = check(
        "toomany.test",
        None,
        None,
        &[("spf.lookups", Fail), ("spf.relay", Pass)],
    );
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("13 DNS lookups"),
        "{checks:#?}"
    );
}

#[test]
fn exactly_ten_lookups_pass() {
    let checks = check("ten.test", None, None, &[("spf.lookups", Pass)]);
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("10 of at most 10"),
        "{checks:#?}"
    );
}

#[test]
fn relay_not_covered_by_spf_fails() {
    let checks = check(
        "norelay.test",
        None,
        None,
        &[("spf.record", Pass), ("spf.relay", Fail)],
    );
    assert!(
        status_of(&checks, "spf.relay")
            .detail
            .contains("127.0.0.1 gets fail"),
        "{checks:#?}"
    );
}

#[test]
fn missing_dkim_selector_fails() {
    check(
        "nodkim.test",
        Some("sel1"),
        Some("rsa2048.pem"),
        &[("dkim.record", Fail)],
    );
}

#[test]
fn rsa1024_key_warns() {
    check(
        "rsa1024.test",
        Some("sel1"),
        None,
        &[("dkim.record", Pass), ("dkim.key_length", Warning)],
    );
}

#[test]
fn rsa512_key_fails() {
    let checks = check(
        "rsa512.test",
        Some("sel1"),
        None,
        &[("dkim.key_length", Fail)],
    );
    assert!(status_of(&checks, "dkim.key_length")
        .detail
        .contains("512 bits"));
}

#[test]
fn ed25519_key_passes() {
    check(
        "ed25519.test",
        Some("sel1"),
        Some("ed25519.pem"),
        &[("dkim.key_length", Pass), ("dkim.verify", Pass)],
    );
}

#[test]
fn revoked_key_fails() {
    check(
        "revoked.test",
        Some("sel1"),
        Some("rsa2048.pem"),
        &[("dkim.record", Pass), ("dkim.revoked", Fail)],
    );
}

#[test]
fn mismatched_private_key_fails() {
    let checks = check(
        "mismatch.test",
        Some("sel1"),
        Some("mismatch.pem"),
        &[("dkim.key_length", Pass), ("dkim.verify", Fail)],
    );
    assert!(
        status_of(&checks, "dkim.verify")
            .detail
            .contains("does not match"),
        "{checks:#?}"
    );
}

#[test]
fn ed25519_private_key_against_rsa_record_fails() {
    check(
        "good.test",
        Some("sel1"),
        Some("ed25519.pem"),
        &[("dkim.verify", Fail)],
    );
}

/// Was a warning before issue 13: a check that could not run now says so.
#[test]
fn no_private_key_skips_dkim_verify() {
    let checks = check(
        "good.test",
        Some("sel1"),
        None,
        &[("dkim.verify", Skipped), ("dmarc.alignment", Pass)],
    );
    assert!(
        status_of(&checks, "dkim.verify")
            .detail
            .starts_with("Not checked"),
        "{checks:#?}"
    );
}

#[test]
fn sha1_only_key_record_fails() {
    check(
        "sha1only.test",
        Some("sel1"),
        Some("rsa2048.pem"),
        &[("dkim.hash", Fail)],
    );
}

#[test]
fn missing_dmarc_fails() {
    check("nodmarc.test", None, None, &[("dmarc.record", Fail)]);
}

#[test]
fn p_none_warns() {
    check(
        "pnone.test",
        None,
        None,
        &[
            ("dmarc.record", Pass),
            ("dmarc.policy", Warning),
            ("dmarc.rua", Pass),
        ],
    );
}

#[test]
fn p_reject_passes() {
    check(
        "preject.test",
        None,
        None,
        &[
            ("dmarc.policy", Pass),
            ("dmarc.rua", Pass),
            ("dmarc.alignment", Pass),
        ],
    );
}

#[test]
fn p_quarantine_passes() {
    check("pquarantine.test", None, None, &[("dmarc.policy", Pass)]);
}

#[test]
fn missing_rua_warns() {
    check(
        "norua.test",
        None,
        None,
        &[("dmarc.policy", Pass), ("dmarc.rua", Warning)],
    );
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
        ..DomainCheck::default()
    };
    run(&c, Resolver::At(dns_server()))
}

#[test]
fn strict_alignment_with_subdomain_signature_fails() {
    let checks = subdomain_signer("unaligned.test");
    assert_statuses(
        &checks,
        &[
            ("dkim.verify", Pass),
            ("spf.relay", Pass),
            ("dmarc.alignment", Fail),
        ],
    );
    assert!(
        status_of(&checks, "dmarc.alignment")
            .detail
            .contains("adkim=strict"),
        "{checks:#?}"
    );
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
        ..DomainCheck::default()
    };
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(
        &checks,
        &[
            ("dmarc.record", Pass),
            ("dmarc.policy", Pass),
            ("dmarc.alignment", Pass),
            ("dns.mx", Warning),
        ],
    );
    assert!(
        status_of(&checks, "dmarc.record")
            .detail
            .contains("_dmarc.good.test"),
        "{checks:#?}"
    );
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
    assert_statuses(
        &checks,
        &[
            ("spf.record", Fail),
            ("dkim.record", Fail),
            ("dmarc.record", Fail),
            ("dns.mx", Warning),
        ],
    );
    assert!(
        status_of(&checks, "spf.record")
            .detail
            .starts_with("Could not read"),
        "{checks:#?}"
    );
}

#[test]
fn loader_accepts_pem_and_der_rsa_and_ed25519() {
    for file in [
        "rsa2048.pem",
        "rsa2048-pkcs1.pem",
        "rsa2048.der",
        "rsa2048-pkcs1.der",
        "mismatch.pem",
    ] {
        assert_eq!(
            key(file).algorithm(),
            KeyAlgorithm::Rsa { bits: 2048 },
            "{file}"
        );
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
    assert!(
        !format!("{:?}", key("rsa2048.pem")).contains("BEGIN"),
        "Debug must not print the key"
    );
}

#[test]
fn sign_returns_a_dkim_signature_header_line() {
    let raw = b"From: a@good.test\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
    let header = key("rsa2048.pem")
        .sign(raw, "good.test", "sel1", now())
        .unwrap();
    assert!(header.starts_with("DKIM-Signature: "), "{header}");
    assert!(header.ends_with("\r\n"), "{header}");
    assert!(
        header.contains("d=good.test") && header.contains("s=sel1"),
        "{header}"
    );
    assert!(header.contains("a=rsa-sha256"), "{header}");
    let ed = key("ed25519.pem")
        .sign(raw, "good.test", "sel-ed", now())
        .unwrap();
    assert!(ed.contains("a=ed25519-sha256"), "{ed}");
}

/// Runs the checks of `domain` with the given relay addresses (none = no relay given).
fn check_with_relay(domain: &str, key_file: Option<&str>, relay: &[&str]) -> Vec<Check> {
    let mut c = DomainCheck::new(domain);
    c.selector = Some("sel1".into());
    c.dkim_key = key_file.map(key);
    c.relay_ips = relay.iter().map(|ip| ip.parse().unwrap()).collect();
    run(&c, Resolver::At(dns_server()))
}

#[test]
fn check_domain_without_relay_or_key_skips_and_fails_nothing() {
    // Issue 13: a good domain checked without --relay and --key used to fail spf.relay
    // and dmarc.alignment; what could not run is now "skipped" with the reason.
    let checks = check_with_relay("good.test", None, &[]);
    assert_statuses(
        &checks,
        &[
            ("spf.relay", Skipped),
            ("dns.fcrdns", Skipped),
            ("dkim.verify", Skipped),
            ("dmarc.alignment", Skipped),
        ],
    );
    assert!(
        checks
            .iter()
            .all(|c| c.status != Fail && c.status != Warning),
        "{checks:#?}"
    );
    for id in ["spf.relay", "dns.fcrdns", "dmarc.alignment"] {
        assert!(
            status_of(&checks, id).detail.starts_with("Not checked"),
            "{id}: {checks:#?}"
        );
    }
    assert!(status_of(&checks, "spf.relay").needs_acknowledgement());
    assert!(!status_of(&checks, "dns.fcrdns").needs_acknowledgement());
}

#[test]
fn check_domain_without_relay_but_with_key_aligns_through_dkim() {
    let checks = check_with_relay("good.test", Some("rsa2048.pem"), &[]);
    assert_statuses(
        &checks,
        &[
            ("spf.relay", Skipped),
            ("dkim.verify", Pass),
            ("dmarc.alignment", Pass),
        ],
    );
}

#[test]
fn redirect_to_plus_all_fails() {
    let checks = check(
        "redirplus.test",
        None,
        None,
        &[("spf.all", Fail), ("spf.lookups", Pass)],
    );
    let all = status_of(&checks, "spf.all");
    assert!(
        all.detail.contains("+all") && all.detail.contains("redirplus.test → plus.redirplus.test"),
        "{all:#?}"
    );
}

#[test]
fn redirect_to_strict_record_passes() {
    let checks = check(
        "redirgood.test",
        None,
        None,
        &[
            ("spf.all", Pass),
            ("spf.relay", Pass),
            ("spf.lookups", Pass),
        ],
    );
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("1 of at most 10"),
        "{checks:#?}"
    );
}

#[test]
fn redirect_to_missing_record_fails() {
    check(
        "redirnone.test",
        None,
        None,
        &[("spf.lookups", Fail), ("spf.all", Fail)],
    );
}

#[test]
fn three_void_lookups_fail() {
    let checks = check("void3.test", None, None, &[("spf.lookups", Fail)]);
    let c = status_of(&checks, "spf.lookups");
    assert!(
        c.detail.contains("3 void lookups") && c.detail.contains("§4.6.4"),
        "{c:#?}"
    );
}

#[test]
fn two_void_lookups_pass_with_note() {
    let checks = check("void2.test", None, None, &[("spf.lookups", Pass)]);
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("2 void lookup"),
        "{checks:#?}"
    );
}

#[test]
fn same_include_twice_is_counted_twice_and_is_no_loop() {
    let checks = check("diamond.test", None, None, &[("spf.lookups", Fail)]);
    let c = status_of(&checks, "spf.lookups");
    assert!(
        c.detail.contains("12 DNS lookups") && !c.detail.contains("loop"),
        "{c:#?}"
    );
    let checks = check(
        "diamondok.test",
        None,
        None,
        &[("spf.lookups", Pass), ("spf.relay", Pass)],
    );
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("6 of at most 10"),
        "{checks:#?}"
    );
}

#[test]
fn include_loop_fails() {
    let checks = check("loop.test", None, None, &[("spf.lookups", Fail)]);
    let c = status_of(&checks, "spf.lookups");
    assert!(
        c.detail
            .contains("loop.test → a.loop.test includes loop.test again, a loop"),
        "{c:#?}"
    );
}

#[test]
fn ptr_mechanism_warns() {
    let checks = check(
        "ptr.test",
        None,
        None,
        &[("spf.ptr", Warning), ("spf.lookups", Pass)],
    );
    assert!(
        status_of(&checks, "spf.ptr").detail.contains("§5.5"),
        "{checks:#?}"
    );
}

#[test]
fn include_of_domain_without_spf_fails() {
    let checks = check("inclmissing.test", None, None, &[("spf.lookups", Fail)]);
    assert!(
        status_of(&checks, "spf.lookups")
            .detail
            .contains("nothere.inclmissing.test"),
        "{checks:#?}"
    );
}

#[test]
fn no_all_term_fails() {
    check("noall.test", None, None, &[("spf.all", Fail)]);
}

#[test]
fn sha1_only_key_neither_verifies_nor_aligns() {
    // 127.0.0.3 is not in the SPF record, so only DKIM could align: it must not.
    let checks = check_with_relay("sha1only.test", Some("rsa2048.pem"), &["127.0.0.3"]);
    assert_statuses(
        &checks,
        &[
            ("dkim.hash", Fail),
            ("dkim.verify", Fail),
            ("spf.relay", Fail),
            ("dmarc.alignment", Fail),
        ],
    );
    // The control: the same key and relay at good.test aligns through DKIM.
    let good = check_with_relay("good.test", Some("rsa2048.pem"), &["127.0.0.3"]);
    assert_statuses(
        &good,
        &[
            ("dkim.verify", Pass),
            ("spf.relay", Fail),
            ("dmarc.alignment", Pass),
        ],
    );
}

#[test]
fn testing_mode_key_warns_and_does_not_align() {
    let checks = check_with_relay("testing.test", Some("rsa2048.pem"), &["127.0.0.3"]);
    assert_statuses(
        &checks,
        &[
            ("dkim.record", Warning),
            ("dkim.verify", Pass),
            ("dmarc.alignment", Fail),
        ],
    );
    assert!(
        status_of(&checks, "dkim.record").detail.contains("t=y"),
        "{checks:#?}"
    );
}

#[test]
fn pct_below_100_warns() {
    let checks = check(
        "pct50.test",
        None,
        None,
        &[("dmarc.record", Pass), ("dmarc.policy", Warning)],
    );
    assert!(
        status_of(&checks, "dmarc.policy").detail.contains("pct=50"),
        "{checks:#?}"
    );
    check("pct100.test", None, None, &[("dmarc.policy", Pass)]);
    check("badpct.test", None, None, &[("dmarc.policy", Warning)]);
}

#[test]
fn external_rua_needs_authorisation_record() {
    let checks = check("extrua.test", None, None, &[("dmarc.rua", Warning)]);
    let c = status_of(&checks, "dmarc.rua");
    assert!(
        c.detail.contains("extrua.test._report._dmarc.reports.test") && c.detail.contains("§7.1"),
        "{c:#?}"
    );
    check("extruaok.test", None, None, &[("dmarc.rua", Pass)]);
}

#[test]
fn rua_without_scheme_says_so() {
    let checks = check(
        "ruanoscheme.test",
        None,
        None,
        &[("dmarc.record", Pass), ("dmarc.rua", Warning)],
    );
    assert!(
        status_of(&checks, "dmarc.rua")
            .detail
            .contains("no URI scheme"),
        "{checks:#?}"
    );
}

#[test]
fn missing_p_with_valid_rua_is_p_none() {
    let checks = check(
        "nop.test",
        None,
        None,
        &[("dmarc.record", Pass), ("dmarc.policy", Warning)],
    );
    assert!(
        status_of(&checks, "dmarc.policy").detail.contains("p=none"),
        "{checks:#?}"
    );
    let checks = check("nopnorua.test", None, None, &[("dmarc.record", Fail)]);
    assert!(
        status_of(&checks, "dmarc.record").detail.contains("§6.6.3"),
        "{checks:#?}"
    );
}

#[test]
fn subdomain_gets_the_organisational_sp() {
    let mut c = DomainCheck::new("spnone.test");
    c.from_domain = "news.spnone.test".into();
    c.relay_ips = vec![LOOPBACK];
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(
        &checks,
        &[("dmarc.record", Pass), ("dmarc.policy", Warning)],
    );
    assert!(
        status_of(&checks, "dmarc.policy")
            .detail
            .starts_with("sp=none"),
        "{checks:#?}"
    );
}

#[test]
fn every_domain_verdict_names_its_rfc_section() {
    let checks = check_with_relay("good.test", Some("rsa2048.pem"), &["127.0.0.1"]);
    for c in checks.iter().filter(|c| {
        c.id.starts_with("spf.") || c.id.starts_with("dkim.") || c.id.starts_with("dmarc.")
    }) {
        assert!(
            c.detail.contains("RFC "),
            "{} names no RFC section: {}",
            c.id,
            c.detail
        );
    }
}

// --- relay-aware SPF (issue 13 item 5) ---------------------------------------------------

/// `spf.relay` with declared outbound addresses: every one must pass, and the finding
/// says the addresses were declared rather than resolved.
#[test]
fn declared_outbound_addresses_must_all_pass_spf() {
    let mut c = DomainCheck::new("good.test");
    c.relay_ips = vec![LOOPBACK];
    c.relay_ips_declared = true;
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Pass)]);
    assert!(status_of(&checks, "spf.relay").detail.contains("declared"));

    c.relay_ips = vec![LOOPBACK, "192.0.2.1".parse().unwrap()];
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Fail)]);
    let relay = status_of(&checks, "spf.relay");
    assert!(relay.detail.contains("192.0.2.1 gets fail"), "{relay:#?}");
    assert!(relay.fix.contains("ip4:192.0.2.1"), "{relay:#?}");
    assert!(
        !relay.fix.contains("ip4:127.0.0.1"),
        "only the missing one: {relay:#?}"
    );
}

/// A provider relay (Microsoft 365, Google) without declared addresses: the record must
/// include the provider's SPF name; declared addresses, when given, decide instead.
#[test]
fn a_provider_relay_is_judged_by_its_include() {
    // diamondok.test includes x.diamondok.test (a name that resolves in the test zone).
    let mut c = DomainCheck::new("diamondok.test");
    c.relay_spf_include = Some("x.diamondok.test".into());
    c.relay_ips = vec!["192.0.2.99".parse().unwrap()]; // the submission host: not judged
    c.relay_host = Some("smtp.provider.test".into());
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Pass)]);
    assert!(status_of(&checks, "spf.relay")
        .detail
        .contains("includes x.diamondok.test"));

    let mut c = DomainCheck::new("good.test");
    c.relay_spf_include = Some("_spf.google.com".into());
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Fail)]);
    assert!(status_of(&checks, "spf.relay")
        .fix
        .contains("include:_spf.google.com"));

    c.relay_ips = vec![LOOPBACK];
    c.relay_ips_declared = true;
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Pass)]);
}

/// Without declared addresses or a provider, the host's resolved addresses are used,
/// and the finding names the host.
#[test]
fn resolved_relay_addresses_name_the_host() {
    let mut c = DomainCheck::new("norelay.test");
    c.relay_ips = vec![LOOPBACK];
    c.relay_host = Some("localhost".into());
    let checks = run(&c, Resolver::At(dns_server()));
    assert_statuses(&checks, &[("spf.relay", Fail)]);
    assert!(status_of(&checks, "spf.relay")
        .detail
        .contains("localhost resolves to"));
}
