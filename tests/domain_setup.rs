//! Sender-domain setup end to end: a DKIM key generated into a real keychain, the
//! records MergeGuard prints published into the test DNS zone (Knot, changed at run
//! time with `knotc zone-set`), then the pre-flight domain checks and an independent
//! verifier (dkimpy) prove that mail signed with the key verifies through DNS. Run with:
//!   tests/servers/keyring-session.sh cargo test -p mergeguard --test domain_setup
//! Needs the test DNS server (tests/servers/dns.sh start; MG_TEST_DNS, default
//! 127.0.0.1:5353) and the venv with dkimpy (tests/servers/faults.sh builds it).

mod common_cli;
mod common_dns;
use common_cli::mg;
use common_dns::*;

use std::net::IpAddr;
use std::time::SystemTime;

use mergeguard::domain_setup::{self, DnsRecord, DomainSetupRequest, KeyKind, RecordKind};
use mergeguard::error::ErrorCode;
use mergeguard::operators::{self, Role};
use mergeguard::preflight::domain::{check_domain, parse_dkim_key, DomainCheck, Resolver};
use mergeguard::preflight::{Check, Status};
use mergeguard::secrets::{self, Secret};
use mergeguard::store::Store;
use time::macros::datetime;

/// A fresh domain under the test zone, so runs never see each other's records.
fn fresh_domain() -> String {
    format!("d{}.test", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Publishes records exactly as MergeGuard printed them: name, TXT, the split strings.
fn publish(records: &[DnsRecord]) {
    let edits: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            assert_eq!(r.rtype, "TXT");
            let mut edit = vec![
                "zone-set".to_owned(),
                "test.".into(),
                format!("{}.", r.name),
                "60".into(),
                "TXT".into(),
            ];
            edit.extend(r.strings.iter().map(|s| format!("\"{s}\"")));
            edit
        })
        .collect();
    zone_edit(&edits);
}

fn unpublish(records: &[DnsRecord]) {
    let edits: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                "zone-unset".to_owned(),
                "test.".into(),
                format!("{}.", r.name),
                "TXT".into(),
            ]
        })
        .collect();
    zone_edit(&edits);
}

fn by_id<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id} in {checks:#?}"))
}

/// The pre-flight domain checks with the key from the keychain: SPF, DKIM and DMARC
/// must have no failure, and the DKIM probe must verify through DNS.
async fn assert_domain_checks_pass(domain: &str, selector: &str) {
    let pem = secrets::dkim_key(domain, selector).unwrap();
    let mut check = DomainCheck::new(domain);
    check.selector = Some(selector.to_owned());
    check.dkim_key = Some(parse_dkim_key(pem.expose().as_bytes()).unwrap());
    check.relay_ips = vec![IpAddr::from([127, 0, 0, 1])];
    let checks = check_domain(&check, &Resolver::At(dns_addr()), SystemTime::now()).await;
    for c in checks.iter().filter(|c| {
        c.id.starts_with("spf.") || c.id.starts_with("dkim.") || c.id.starts_with("dmarc.")
    }) {
        assert_ne!(c.status, Status::Fail, "{c:#?}");
    }
    for id in [
        "spf.record",
        "spf.relay",
        "dkim.record",
        "dkim.key_length",
        "dkim.verify",
        "dmarc.record",
        "dmarc.alignment",
    ] {
        assert_eq!(
            by_id(&checks, id).status,
            Status::Pass,
            "{:#?}",
            by_id(&checks, id)
        );
    }
    // p=none is the deliberate starting point: a warning that says what comes next.
    assert_eq!(by_id(&checks, "dmarc.policy").status, Status::Warning);
}

/// A small message, signed with the stored key, as campaign messages are.
fn signed_message(domain: &str, selector: &str) -> Vec<u8> {
    let pem = secrets::dkim_key(domain, selector).unwrap();
    let key = parse_dkim_key(pem.expose().as_bytes()).unwrap();
    let body = format!(
        "From: Shop <news@{domain}>\r\nTo: someone@example.test\r\nSubject: Hello\r\n\
         Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <1@{domain}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the newsletter.\r\n"
    );
    let header = key
        .sign(body.as_bytes(), domain, selector, SystemTime::now())
        .unwrap();
    let mut out = header.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[tokio::test]
async fn cli_generates_an_rsa_key_whose_records_verify_through_dns() {
    require_session();
    let data = tempfile::tempdir().unwrap();
    let out = mg(
        data.path(),
        &["operator", "add", "admin", "--pin-stdin"],
        "999999\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let domain = fresh_domain();
    let report_to = format!("dmarc@{domain}");
    let common = [
        "--domain",
        &domain,
        "--selector",
        "mg2026",
        "--relay-preset",
        "other",
        "--relay-ip",
        "127.0.0.1",
        "--report-to",
        &report_to,
        "--json",
    ];

    let mut args = vec!["dkim", "generate", "--operator", "admin", "--pin-stdin"];
    args.extend(common);
    let generated = mg(data.path(), &args, "999999\n");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&generated.stdout).unwrap();
    assert_eq!(printed["key"], "rsa2048");
    assert!(!String::from_utf8_lossy(&generated.stdout).contains("PRIVATE KEY"));

    // `domain records` prints the same records from the key in the keychain.
    let mut args = vec!["domain", "records"];
    args.extend(common);
    let again = mg(data.path(), &args, "");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again, printed);

    // Generating again under the same selector would break mail already in flight.
    let mut args = vec!["dkim", "generate", "--operator", "admin", "--pin-stdin"];
    args.extend(common);
    let twice = mg(data.path(), &args, "999999\n");
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already in the keychain"));

    let req = DomainSetupRequest {
        domain: domain.clone(),
        selector: "mg2026".into(),
        provider: "other".into(),
        relay_ips: vec![IpAddr::from([127, 0, 0, 1])],
        report_to: Some(report_to.clone()),
        ..DomainSetupRequest::default()
    };
    let records = domain_setup::domain_records(&req).unwrap();
    assert_eq!(serde_json::to_value(&records).unwrap(), printed);
    let kinds: Vec<RecordKind> = records.records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [RecordKind::Dkim, RecordKind::Spf, RecordKind::Dmarc]
    );
    assert!(
        records.records[0].strings.len() >= 2,
        "an RSA-2048 record needs two strings"
    );
    assert_eq!(records.records[1].value, "v=spf1 ip4:127.0.0.1 ~all");
    assert_eq!(
        records.records[2].value,
        format!("v=DMARC1; p=none; rua=mailto:{report_to}")
    );

    // Before publishing, the check says the DKIM record is missing.
    let pem = secrets::dkim_key(&domain, "mg2026").unwrap();
    let mut before = DomainCheck::new(domain.as_str());
    before.selector = Some("mg2026".into());
    before.dkim_key = Some(parse_dkim_key(pem.expose().as_bytes()).unwrap());
    let checks = check_domain(&before, &Resolver::At(dns_addr()), SystemTime::now()).await;
    assert_eq!(by_id(&checks, "dkim.record").status, Status::Fail);

    publish(&records.records);
    assert_domain_checks_pass(&domain, "mg2026").await;
    assert_eq!(dkimpy_verifies(&signed_message(&domain, "mg2026")), "PASS");
    // The verifier is not a rubber stamp: a changed body fails.
    let mut tampered = signed_message(&domain, "mg2026");
    let at = tampered.len() - 4;
    tampered[at] = b'X';
    assert_eq!(dkimpy_verifies(&tampered), "FAIL");
    unpublish(&records.records);
}

#[tokio::test]
async fn an_ed25519_key_verifies_through_dns_and_carries_its_caution() {
    require_session();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = datetime!(2026-12-01 09:00 UTC);
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now).unwrap();
    let admin = operators::sign_in(&store, "admin", &Secret::new("999999"), now).unwrap();
    let roles: std::collections::BTreeSet<Role> = [Role::Sender].into();
    operators::add_operator(&store, &admin, "sam", &roles, &Secret::new("123456"), now).unwrap();
    let sam = operators::sign_in(&store, "sam", &Secret::new("123456"), now).unwrap();

    let domain = fresh_domain();
    let req = DomainSetupRequest {
        domain: domain.clone(),
        selector: "ed1".into(),
        key: Some(KeyKind::Ed25519),
        provider: "other".into(),
        relay_ips: vec![IpAddr::from([127, 0, 0, 1])],
        report_to: Some(format!("reports@{domain}")),
        ..DomainSetupRequest::default()
    };
    // Only an admin generates keys; nothing is stored for a refused request.
    let refused = domain_setup::set_up_domain(&store, &sam, &req, now).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    assert!(matches!(
        secrets::dkim_key(&domain, "ed1"),
        Err(secrets::Error::NoDkimKey(_))
    ));
    // A relay without its addresses gets a plain sentence, and no key is left behind.
    let no_ips = DomainSetupRequest {
        relay_ips: Vec::new(),
        ..req.clone()
    };
    let e = domain_setup::set_up_domain(&store, &admin, &no_ips, now).unwrap_err();
    assert_eq!(e.field(), Some("relay_ips"));
    assert!(matches!(
        secrets::dkim_key(&domain, "ed1"),
        Err(secrets::Error::NoDkimKey(_))
    ));

    let records = domain_setup::set_up_domain(&store, &admin, &req, now).unwrap();
    let dkim = &records.records[0];
    assert!(
        dkim.value.starts_with("v=DKIM1; k=ed25519; p="),
        "{}",
        dkim.value
    );
    assert!(dkim.note.as_deref().unwrap().contains("Not every receiver"));
    // The log names the key, never holds it.
    let entries =
        mergeguard::audit::entries(&store, &mergeguard::audit::Filter::default()).unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.kind, "credential_stored");
    assert!(
        last.details.contains(&format!("ed1._domainkey.{domain}"))
            && !last.details.contains("PRIVATE")
    );

    publish(&records.records);
    assert_domain_checks_pass(&domain, "ed1").await;
    unpublish(&records.records);
}
