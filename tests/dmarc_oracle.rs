//! checkdmarc as an independent oracle: every case below is checked by MergeGuard and by
//! checkdmarc (PyPI, pinned in tests/servers/oracle-requirements.txt, installed by
//! tests/servers/oracle.sh) against the same Knot test server (tests/servers/dns.sh,
//! MG_TEST_DNS), and every verdict both tools give must agree, except the deliberate
//! differences listed in [`DIFFERENCES`], which are asserted too so the list stays true.
//!
//! Shared verdicts: SPF has exactly one record; SPF is valid (syntax, the ten-lookup and
//! two-void-lookup limits, every include/redirect readable, no loop); the number of DNS
//! lookups and of void lookups (when both call the record valid); the qualifier of the
//! `all` that decides, after redirect=; whether `ptr` is used; a DMARC record is found;
//! it is valid; its policy p= (when both call it valid); whether an external rua=
//! address lacks its RFC 7489 §7.1 authorisation record.
//!
//! Where MergeGuard is stricter by design and the shared verdict still agrees (so these
//! are not in the table):
//! - `+all` and `?all` (and no `all`, which means `?all`): both read the same qualifier,
//!   but MergeGuard fails `spf.all`: such a record authorises everyone or nobody, and
//!   a campaign should not be sent under it. checkdmarc calls the record valid.
//! - `pct` below 100: checkdmarc follows RFC 9989 (DMARCbis), which removed pct, and
//!   only warns that the tag is obsolete; MergeGuard warns that only that share of
//!   failing mail gets the policy, because receivers implementing RFC 7489 apply it.
//! - DKIM: checkdmarc does not look at DKIM, so no DKIM verdict is shared.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use mergeguard::preflight::domain::{check_domain, DomainCheck, Resolver};
use mergeguard::preflight::{Check, Status};
use serde_json::Value;

/// Every test-zone domain with SPF or DMARC records (46 cases).
const CASES: &[&str] = &[
    "good.test",
    "nospf.test",
    "twospf.test",
    "plusall.test",
    "qall.test",
    "softall.test",
    "badsyntax.test",
    "toomany.test",
    "ten.test",
    "norelay.test",
    "redirplus.test",
    "redirgood.test",
    "redirnone.test",
    "void3.test",
    "void2.test",
    "diamond.test",
    "diamondok.test",
    "loop.test",
    "ptr.test",
    "inclmissing.test",
    "noall.test",
    "nodkim.test",
    "rsa1024.test",
    "rsa512.test",
    "ed25519.test",
    "revoked.test",
    "mismatch.test",
    "sha1only.test",
    "testing.test",
    "nodmarc.test",
    "pnone.test",
    "preject.test",
    "pquarantine.test",
    "norua.test",
    "badmarc.test",
    "pct50.test",
    "pct100.test",
    "badpct.test",
    "extrua.test",
    "extruaok.test",
    "ruanoscheme.test",
    "nop.test",
    "nopnorua.test",
    "spnone.test",
    "unaligned.test",
    "relaxed.test",
];

/// (domain, verdict, MergeGuard's value, checkdmarc's value, why they differ).
const DIFFERENCES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "nopnorua.test",
        "dmarc.valid",
        "false",
        "true",
        "a record without p= and without a valid rua= is no DMARC record under RFC 7489 §6.6.3, \
         which receivers implement today; checkdmarc follows RFC 9989, which reads a missing p= as none",
    ),
    (
        "ruanoscheme.test",
        "dmarc.valid",
        "true",
        "false",
        "RFC 7489 §6.6.3 discards a tag with a syntax error and keeps the rest, so p=reject still \
         applies; MergeGuard warns on dmarc.rua that reports will not arrive, checkdmarc rejects the \
         whole record",
    ),
];

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn dns_server() -> SocketAddr {
    let text = std::env::var("MG_TEST_DNS").unwrap_or_else(|_| "127.0.0.1:5353".into());
    let addr: SocketAddr = text
        .parse()
        .unwrap_or_else(|_| panic!("MG_TEST_DNS={text} is not an IP:port"));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!("the test DNS server (Knot) is not answering at {addr}: start it with `tests/servers/dns.sh start`");
    }
    addr
}

/// The oracle's Python: MG_TEST_ORACLE_PYTHON, else the venv tests/servers/oracle.sh builds.
fn oracle_python() -> PathBuf {
    if let Ok(p) = std::env::var("MG_TEST_ORACLE_PYTHON") {
        return PathBuf::from(p);
    }
    let dir = std::env::var("MG_TEST_DIR").unwrap_or_else(|_| "/tmp/mergeguard-test".into());
    let python = PathBuf::from(dir).join("oracle-venv/bin/python");
    assert!(
        python.exists(),
        "checkdmarc is not installed at {}: run `tests/servers/oracle.sh` (same MG_TEST_DIR)",
        python.display()
    );
    python
}

fn run_oracle(dns: SocketAddr) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/servers/dmarc_oracle.py");
    let out = Command::new(oracle_python())
        .arg(script)
        .arg(dns.to_string())
        .args(CASES)
        .output()
        .expect("the oracle runs");
    assert!(
        out.status.success(),
        "checkdmarc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the oracle prints JSON")
}

fn find<'a>(checks: &'a [Check], id: &str) -> Option<&'a Check> {
    checks.iter().find(|c| c.id == id)
}

fn passes(checks: &[Check], id: &str) -> bool {
    find(checks, id).is_some_and(|c| c.status == Status::Pass)
}

/// The number after `word` in `text` ("needs 6 of" → 6).
fn number_after(text: &str, word: &str) -> Option<u64> {
    let rest = &text[text.find(word)? + word.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The number just before `word` in `text` ("; 2 void lookup(s)" → 2).
fn number_before(text: &str, word: &str) -> Option<u64> {
    let head = &text[..text.find(word)?];
    let digits: String = head
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// MergeGuard's values of the shared verdicts, as strings ("-" where it gives none).
fn ours(checks: &[Check]) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let spf_valid = passes(checks, "spf.record")
        && passes(checks, "spf.syntax")
        && passes(checks, "spf.lookups");
    v.insert("spf.one_record", passes(checks, "spf.record").to_string());
    v.insert("spf.valid", spf_valid.to_string());
    if spf_valid {
        let detail = &find(checks, "spf.lookups").unwrap().detail;
        v.insert(
            "spf.lookups",
            number_after(detail, "needs").unwrap().to_string(),
        );
        let void = number_before(detail, " void lookup").unwrap_or(0);
        v.insert("spf.void_lookups", void.to_string());
    }
    if let Some(all) = find(checks, "spf.all") {
        let d = &all.detail;
        let q = if d.contains("ends with -all") {
            "fail"
        } else if d.contains("ends with ~all") {
            "softfail"
        } else if d.contains("ends with +all") {
            "pass"
        } else if d.contains("'neutral'") && !d.contains("could not be read") {
            "neutral"
        } else {
            "-"
        };
        v.insert("spf.all", q.to_string());
    }
    if let Some(ptr) = find(checks, "spf.ptr") {
        v.insert("spf.ptr", (ptr.status == Status::Warning).to_string());
    }
    let record = find(checks, "dmarc.record").expect("dmarc.record is always reported");
    let found = record.status == Status::Pass
        || !(record.detail.starts_with("There is no DMARC record")
            || record.detail.starts_with("Could not read"));
    v.insert("dmarc.found", found.to_string());
    v.insert("dmarc.valid", (record.status == Status::Pass).to_string());
    if let Some(policy) = find(checks, "dmarc.policy") {
        let p = ["reject", "quarantine", "none"]
            .into_iter()
            .find(|p| {
                policy.detail.starts_with(&format!("p={p}"))
                    || policy.detail.contains(&format!(" p={p}"))
            })
            .unwrap_or("-");
        v.insert("dmarc.p", p.to_string());
    }
    if let Some(rua) = find(checks, "dmarc.rua") {
        v.insert(
            "dmarc.rua_unauthorised",
            (rua.status == Status::Warning && rua.detail.contains("§7.1")).to_string(),
        );
    }
    v
}

/// checkdmarc's values of the same verdicts.
fn theirs(oracle: &Value) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let spf = &oracle["spf"];
    let dmarc = &oracle["dmarc"];
    let text = |x: &Value| match x {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "-".to_string(),
    };
    let spf_valid = spf["valid"] == Value::Bool(true);
    v.insert("spf.one_record", text(&spf["one_record"]));
    v.insert("spf.valid", text(&spf["valid"]));
    if spf_valid {
        v.insert("spf.lookups", text(&spf["lookups"]));
        v.insert("spf.void_lookups", text(&spf["void_lookups"]));
    }
    if spf["all"].is_string() {
        v.insert("spf.all", text(&spf["all"]));
    }
    if spf_valid {
        v.insert("spf.ptr", text(&spf["ptr"]));
    }
    v.insert("dmarc.found", text(&dmarc["found"]));
    v.insert("dmarc.valid", text(&dmarc["valid"]));
    if dmarc["p"].is_string() {
        v.insert("dmarc.p", text(&dmarc["p"]));
    }
    if dmarc["valid"] == Value::Bool(true) {
        v.insert("dmarc.rua_unauthorised", text(&dmarc["rua_unauthorised"]));
    }
    v
}

#[test]
fn mergeguard_and_checkdmarc_agree_on_every_shared_verdict() {
    assert!(CASES.len() >= 30, "at least 30 cases");
    let dns = dns_server();
    let oracle = run_oracle(dns);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut disagreements = Vec::new();
    let mut compared = 0usize;
    let mut seen_differences = Vec::new();
    for domain in CASES {
        let mut check = DomainCheck::new(*domain);
        check.relay_ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        let checks = rt.block_on(check_domain(&check, &Resolver::At(dns), now()));
        let mine = ours(&checks);
        let other = theirs(&oracle[*domain]);
        for (verdict, their_value) in &other {
            // A verdict only one side reaches (e.g. MergeGuard stops at an invalid
            // record) is not shared; the validity verdict covers it.
            let Some(my_value) = mine.get(verdict) else {
                continue;
            };
            // The policy is shared only when both read the record as valid.
            if *verdict == "dmarc.p"
                && (mine["dmarc.valid"] != "true" || other["dmarc.valid"] != "true")
            {
                continue;
            }
            if *verdict == "dmarc.rua_unauthorised" && mine["dmarc.valid"] != "true" {
                continue;
            }
            compared += 1;
            let known = DIFFERENCES
                .iter()
                .find(|(d, v, ..)| d == domain && v == verdict);
            match known {
                Some((_, _, expected_mine, expected_theirs, _)) => {
                    seen_differences.push((*domain, *verdict));
                    if my_value != expected_mine || their_value != expected_theirs {
                        disagreements.push(format!(
                            "{domain} {verdict}: the listed difference no longer holds (MergeGuard {my_value}, checkdmarc {their_value})"
                        ));
                    }
                }
                None if my_value != their_value => disagreements.push(format!(
                    "{domain} {verdict}: MergeGuard {my_value}, checkdmarc {their_value} ({:?})",
                    oracle[*domain]
                )),
                None => {}
            }
        }
    }
    for (domain, verdict, ..) in DIFFERENCES {
        assert!(
            seen_differences.contains(&(*domain, *verdict)),
            "the listed difference {domain} {verdict} was never compared"
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // Every case shares at least the SPF record, DMARC found/valid and most tags: about
    // eight verdicts a case (358 for 46 cases when first run); far fewer means the two
    // sides stopped reading the same zones.
    assert!(
        compared >= 7 * CASES.len(),
        "only {compared} verdicts were compared"
    );
}
