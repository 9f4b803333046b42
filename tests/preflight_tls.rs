//! Transport pre-flight against real servers: the private Postfix (tests/servers/postfix.sh)
//! and the fault-injection server (tests/servers/faults.sh); and the one trust builder
//! (`mergeguard::trust`): the probe, STARTTLS sending and implicit-TLS sending accept and
//! refuse the same certificates. Each test fails with a clear
//! message naming the server to start when it is not reachable.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use mergeguard::campaign::Security;
use mergeguard::preflight::tls::{ids, probe_relay, RelayProbe, TransportReport};
use mergeguard::preflight::Status;
use mergeguard::secrets::Secret;
use mergeguard::send::relay::OpenErrorKind;
use mergeguard::send::{Relay, SmtpRelay, SmtpSettings};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn test_dir() -> PathBuf {
    PathBuf::from(env("MG_TEST_DIR", "/tmp/mergeguard-test"))
}

fn ca() -> PathBuf {
    std::env::var("MG_TEST_CA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| test_dir().join("certs/ca.crt"))
}

fn credentials(password: &str) -> Option<(String, Secret)> {
    Some((env("MG_TEST_SMTP_USER", "mailer"), Secret::new(password)))
}

fn good_credentials() -> Option<(String, Secret)> {
    credentials(&env("MG_TEST_SMTP_PASSWORD", "secret"))
}

/// The address of a server from its env variable; panics with the start command when
/// nothing listens there.
fn server(var: &str, default: &str, script: &str) -> SocketAddr {
    let value = env(var, default);
    let addr: SocketAddr = value
        .parse()
        .unwrap_or_else(|_| panic!("{var}={value} is not HOST:PORT"));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!("the test server {var}={addr} is not reachable; start it with `tests/servers/{script} start`");
    }
    addr
}

fn postfix_starttls() -> SocketAddr {
    server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525", "postfix.sh")
}

fn postfix_tls() -> SocketAddr {
    server("MG_TEST_SMTP_TLS", "127.0.0.1:2465", "postfix.sh")
}

/// Fault server port `MG_TEST_FAULT_BASE + offset` (see tests/servers/faultsmtp.py).
fn fault(offset: u16) -> SocketAddr {
    let base: u16 = env("MG_TEST_FAULT_BASE", "2601")
        .parse()
        .expect("MG_TEST_FAULT_BASE is a port number");
    let addr = format!("127.0.0.1:{}", base + offset);
    server("MG_TEST_FAULT_BASE", &addr, "faults.sh");
    addr.parse().unwrap()
}

fn probe(addr: SocketAddr, security: Security) -> RelayProbe {
    RelayProbe {
        host: addr.ip().to_string(),
        port: addr.port(),
        security,
        ca: Some(ca()),
        credentials: good_credentials(),
        timeout: Duration::from_secs(5),
    }
}

fn run(relay: &RelayProbe) -> TransportReport {
    run_at(relay, SystemTime::now())
}

fn run_at(relay: &RelayProbe, now: SystemTime) -> TransportReport {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(probe_relay(relay, now))
}

fn status(report: &TransportReport, id: &str) -> Status {
    report
        .check(id)
        .unwrap_or_else(|| panic!("no {id} check in {:#?}", report.checks))
        .status
}

fn detail<'a>(report: &'a TransportReport, id: &str) -> &'a str {
    &report
        .check(id)
        .unwrap_or_else(|| panic!("no {id} check in {:#?}", report.checks))
        .detail
}

fn ids_of(report: &TransportReport) -> Vec<&str> {
    report.checks.iter().map(|c| c.id.as_str()).collect()
}

/// AUTH attempts the fault server logged for `port` (faultsmtp.py writes one JSON line
/// per AUTH command before processing it).
fn auth_attempts(port: u16) -> usize {
    let log = test_dir().join("faults/auth.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "attempt" && v["port"] == port)
        .count()
}

/// Asserts the probe never sent AUTH to this fault port (so no password left the machine).
fn assert_no_auth_sent(addr: SocketAddr, report: &TransportReport, before: usize) {
    assert_eq!(
        auth_attempts(addr.port()),
        before,
        "the probe sent AUTH to {addr}; checks: {:#?}",
        report.checks
    );
    assert!(report.check(ids::LOGIN).is_none(), "{:#?}", report.checks);
}

#[test]
fn postfix_starttls_with_the_test_ca_passes_every_check() {
    let report = run(&probe(postfix_starttls(), Security::Starttls));
    assert_eq!(
        ids_of(&report),
        [
            ids::CONNECT,
            ids::STARTTLS,
            ids::CERTIFICATE,
            ids::VERSION,
            ids::AUTH_AFTER_TLS,
            ids::LOGIN
        ]
    );
    assert!(
        report.checks.iter().all(|c| c.status == Status::Pass),
        "{:#?}",
        report.checks
    );
    assert_eq!(
        report.size_limit,
        Some(52_428_800),
        "Postfix's message_size_limit"
    );
    assert!(
        matches!(report.tls_version.as_deref(), Some("TLS 1.2" | "TLS 1.3")),
        "{:?}",
        report.tls_version
    );
    assert!(detail(&report, ids::VERSION).starts_with(report.tls_version.as_deref().unwrap()));
}

#[test]
fn postfix_login_also_works_with_the_realm_qualified_user_name() {
    let mut relay = probe(postfix_starttls(), Security::Starttls);
    relay.credentials = Some((
        "mailer@mail.test".into(),
        Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret")),
    ));
    assert_eq!(status(&run(&relay), ids::LOGIN), Status::Pass);
}

#[test]
fn postfix_implicit_tls_passes_every_check() {
    let report = run(&probe(postfix_tls(), Security::Tls));
    assert_eq!(
        ids_of(&report),
        [
            ids::CONNECT,
            ids::IMPLICIT,
            ids::CERTIFICATE,
            ids::VERSION,
            ids::AUTH_AFTER_TLS,
            ids::LOGIN
        ]
    );
    assert!(
        report.checks.iter().all(|c| c.status == Status::Pass),
        "{:#?}",
        report.checks
    );
}

#[test]
fn postfix_wrong_password_fails_the_login() {
    let mut relay = probe(postfix_starttls(), Security::Starttls);
    relay.credentials = credentials("not-the-password");
    let report = run(&relay);
    assert_eq!(status(&report, ids::LOGIN), Status::Fail);
    assert_eq!(
        detail(&report, ids::LOGIN),
        "the relay refused the user name or password"
    );
    assert_eq!(status(&report, ids::CERTIFICATE), Status::Pass);
}

#[test]
fn missing_password_fails_the_login_without_trying() {
    let mut relay = probe(postfix_starttls(), Security::Starttls);
    relay.credentials = None;
    let report = run(&relay);
    assert_eq!(status(&report, ids::LOGIN), Status::Fail);
    assert_eq!(
        detail(&report, ids::LOGIN),
        "no password stored for this relay"
    );
}

#[test]
fn postfix_without_the_test_ca_fails_the_certificate_as_unknown_issuer() {
    let mut relay = probe(postfix_starttls(), Security::Starttls);
    relay.ca = None;
    let report = run(&relay);
    assert_eq!(status(&report, ids::CERTIFICATE), Status::Fail);
    assert!(
        detail(&report, ids::CERTIFICATE).contains("unknown issuer"),
        "{:#?}",
        report.checks
    );
    assert!(
        report.check(ids::LOGIN).is_none(),
        "no AUTH after a refused certificate"
    );
}

#[test]
fn a_clock_past_the_certificate_expiry_fails_it_as_expired() {
    // Time is a parameter: the good certificate is valid for 825 days from today.
    let later = SystemTime::now() + Duration::from_secs(900 * 24 * 3600);
    let report = run_at(&probe(postfix_starttls(), Security::Starttls), later);
    assert_eq!(status(&report, ids::CERTIFICATE), Status::Fail);
    assert!(
        detail(&report, ids::CERTIFICATE).contains("expired"),
        "{:#?}",
        report.checks
    );
}

#[test]
fn implicit_tls_against_a_starttls_port_fails_clearly() {
    let report = run(&probe(postfix_starttls(), Security::Tls));
    assert_eq!(
        status(&report, ids::IMPLICIT),
        Status::Fail,
        "{:#?}",
        report.checks
    );
    assert!(
        detail(&report, ids::IMPLICIT).contains("STARTTLS"),
        "{:#?}",
        report.checks
    );
}

#[test]
fn no_starttls_fails_and_no_password_is_sent() {
    let addr = fault(0);
    let before = auth_attempts(addr.port());
    let report = run(&probe(addr, Security::Starttls));
    assert_eq!(status(&report, ids::CONNECT), Status::Pass);
    assert_eq!(status(&report, ids::STARTTLS), Status::Fail);
    assert!(detail(&report, ids::STARTTLS).contains("does not offer STARTTLS"));
    // The relay offers AUTH in clear: that is worth a warning of its own.
    assert_eq!(status(&report, ids::AUTH_AFTER_TLS), Status::Warning);
    assert_no_auth_sent(addr, &report, before);
}

fn bad_certificate(offset: u16, expected: &str) {
    let addr = fault(offset);
    let before = auth_attempts(addr.port());
    let report = run(&probe(addr, Security::Starttls));
    assert_eq!(
        status(&report, ids::CERTIFICATE),
        Status::Fail,
        "{:#?}",
        report.checks
    );
    let d = detail(&report, ids::CERTIFICATE);
    assert!(d.contains(expected), "expected {expected:?} in {d:?}");
    assert!(report
        .check(ids::STARTTLS)
        .is_none_or(|c| c.status == Status::Fail));
    assert_no_auth_sent(addr, &report, before);
}

#[test]
fn self_signed_certificate_fails_and_no_password_is_sent() {
    bad_certificate(1, "self-signed");
}

#[test]
fn expired_certificate_fails_and_no_password_is_sent() {
    bad_certificate(2, "expired on 2020-02-01");
}

#[test]
fn wrong_host_certificate_fails_and_no_password_is_sent() {
    bad_certificate(3, "wrong host");
}

#[test]
fn fault_server_good_certificate_passes_and_logs_auth_over_tls() {
    let addr = fault(4);
    let before = auth_attempts(addr.port());
    let report = run(&probe(addr, Security::Starttls));
    assert!(
        report.checks.iter().all(|c| c.status == Status::Pass),
        "{:#?}",
        report.checks
    );
    // The server saw exactly one AUTH, and it came over TLS.
    assert_eq!(auth_attempts(addr.port()), before + 1);
    let log = std::fs::read_to_string(test_dir().join("faults/auth.log")).unwrap();
    let last = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["event"] == "attempt" && v["port"] == addr.port())
        .unwrap();
    assert_eq!(last["tls"], true);
}

#[test]
fn a_stalled_server_fails_within_the_timeout() {
    let addr = fault(5);
    let mut relay = probe(addr, Security::Starttls);
    relay.timeout = Duration::from_millis(800);
    let started = Instant::now();
    let report = run(&relay);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(status(&report, ids::CONNECT), Status::Fail);
    assert!(
        detail(&report, ids::CONNECT).contains("no greeting"),
        "{:#?}",
        report.checks
    );

    relay.security = Security::Tls;
    let started = Instant::now();
    let report = run(&relay);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        status(&report, ids::IMPLICIT),
        Status::Fail,
        "{:#?}",
        report.checks
    );
}

#[test]
fn auth_offered_before_tls_is_a_warning_and_login_still_happens_over_tls() {
    let addr = fault(6);
    let report = run(&probe(addr, Security::Starttls));
    assert_eq!(status(&report, ids::AUTH_AFTER_TLS), Status::Warning);
    assert!(
        detail(&report, ids::AUTH_AFTER_TLS).contains("offers AUTH on an unencrypted connection")
    );
    assert_eq!(
        status(&report, ids::LOGIN),
        Status::Pass,
        "{:#?}",
        report.checks
    );
}

#[test]
fn no_auth_after_tls_fails() {
    let addr = fault(7);
    let report = run(&probe(addr, Security::Starttls));
    assert_eq!(status(&report, ids::STARTTLS), Status::Pass);
    assert_eq!(
        status(&report, ids::AUTH_AFTER_TLS),
        Status::Fail,
        "{:#?}",
        report.checks
    );
    assert!(report.check(ids::LOGIN).is_none());
}

#[test]
fn tls_older_than_1_2_fails_the_version_check_and_no_password_is_sent() {
    let addr = fault(8);
    let before = auth_attempts(addr.port());
    let report = run(&probe(addr, Security::Starttls));
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", report.checks);
    // A relay that sends the protocol_version alert fails `tls.version`; this one (Python's
    // OpenSSL) just closes the connection, so the handshake itself fails - either way the
    // detail names the likely cause.
    assert!(
        [ids::VERSION, ids::STARTTLS].contains(&failed[0].id.as_str()),
        "{:#?}",
        failed
    );
    assert!(failed[0].detail.contains("older than 1.2"), "{:#?}", failed);
    assert_no_auth_sent(addr, &report, before);
}

#[test]
fn nothing_listening_fails_the_connect_check() {
    // A port that was free a moment ago: bind, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut relay = probe(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Security::Starttls,
    );
    relay.timeout = Duration::from_secs(2);
    let report = run(&relay);
    assert_eq!(ids_of(&report), [ids::CONNECT]);
    assert_eq!(status(&report, ids::CONNECT), Status::Fail);
}

// --- one trust builder: the probe and both send paths accept and refuse alike -----------

/// An implicit-TLS listener on loopback presenting `cert` (a file of the test set). It
/// completes the handshake if the client accepts the certificate, then answers 554 and
/// closes: enough to tell "certificate accepted" from "refused" without SMTP behind it.
fn implicit_tls_server(cert: &str) -> SocketAddr {
    let dir = test_dir().join("certs");
    let chain: Vec<_> =
        rustls_pemfile::certs(&mut &std::fs::read(dir.join(format!("{cert}.crt"))).unwrap()[..])
            .collect::<Result<_, _>>()
            .unwrap();
    let key_name = if cert == "server-chain" {
        "server"
    } else {
        cert
    };
    let key = rustls_pemfile::private_key(
        &mut &std::fs::read(dir.join(format!("{key_name}.key"))).unwrap()[..],
    )
    .unwrap()
    .expect("a private key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let _ = tls.write_all(b"554 test listener, no SMTP here\r\n").await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
    });
    addr
}

/// Whether the checklist's probe refused the relay's certificate.
fn probe_refuses(addr: SocketAddr, security: Security, with_ca: bool) -> bool {
    let mut relay = probe(addr, security);
    if !with_ca {
        relay.ca = None;
    }
    let report = run(&relay);
    report
        .check(ids::CERTIFICATE)
        .is_some_and(|c| c.status == Status::Fail)
}

/// Whether sending refused the relay's certificate (STARTTLS through lettre, implicit
/// TLS through our rustls session), opening a real session as a send does.
fn send_refuses(addr: SocketAddr, security: Security, with_ca: bool) -> bool {
    let security = match security {
        Security::Starttls => mergeguard::send::Security::StartTls,
        Security::Tls => mergeguard::send::Security::ImplicitTls,
    };
    let mut s = SmtpSettings::new(addr.ip().to_string(), addr.port(), security);
    s.username = Some(env("MG_TEST_SMTP_USER", "mailer"));
    s.password = Some(Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret")));
    s.timeout = Duration::from_secs(5);
    if with_ca {
        s.extra_ca_pem = Some(std::fs::read(ca()).unwrap());
    }
    let relay = SmtpRelay::new(s).expect("the relay's TLS settings build");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match relay.open().await {
            Ok(session) => {
                <SmtpRelay as Relay>::close(session).await;
                false
            }
            Err(e) => e.kind == OpenErrorKind::Tls,
        }
    })
}

#[test]
fn the_probe_and_both_send_paths_trust_exactly_the_same_certificates() {
    let starttls = postfix_starttls();
    let implicit = postfix_tls();
    // (what, server, security, trust the test CA, refused?)
    let cases: Vec<(&str, SocketAddr, Security, bool, bool)> = vec![
        (
            "good chain, STARTTLS, CA given",
            starttls,
            Security::Starttls,
            true,
            false,
        ),
        (
            "good chain, implicit TLS, CA given",
            implicit,
            Security::Tls,
            true,
            false,
        ),
        (
            "good chain, STARTTLS, no CA",
            starttls,
            Security::Starttls,
            false,
            true,
        ),
        (
            "good chain, implicit TLS, no CA",
            implicit,
            Security::Tls,
            false,
            true,
        ),
        (
            "self-signed, STARTTLS",
            fault(1),
            Security::Starttls,
            true,
            true,
        ),
        (
            "expired, STARTTLS",
            fault(2),
            Security::Starttls,
            true,
            true,
        ),
        (
            "wrong name, STARTTLS",
            fault(3),
            Security::Starttls,
            true,
            true,
        ),
        (
            "good chain, implicit TLS listener (control)",
            implicit_tls_server("server-chain"),
            Security::Tls,
            true,
            false,
        ),
        (
            "self-signed, implicit TLS",
            implicit_tls_server("selfsigned"),
            Security::Tls,
            true,
            true,
        ),
        (
            "expired, implicit TLS",
            implicit_tls_server("expired"),
            Security::Tls,
            true,
            true,
        ),
        (
            "wrong name, implicit TLS",
            implicit_tls_server("wrong"),
            Security::Tls,
            true,
            true,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, addr, security, with_ca, refused) in cases {
        let by_probe = probe_refuses(addr, security, with_ca);
        let by_send = send_refuses(addr, security, with_ca);
        if by_probe != refused || by_send != refused {
            wrong.push(format!(
                "{what}: expected refused={refused}, probe refused={by_probe}, send refused={by_send}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_by_the_probe_and_the_relay_alike() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let mut relay = probe(postfix_starttls(), Security::Starttls);
    relay.ca = Some(empty.clone());
    let report = run(&relay);
    assert_eq!(status(&report, ids::CERTIFICATE), Status::Fail);
    assert!(detail(&report, ids::CERTIFICATE).contains("no PEM certificate"));
    for security in [
        mergeguard::send::Security::StartTls,
        mergeguard::send::Security::ImplicitTls,
    ] {
        let mut s = SmtpSettings::new("127.0.0.1", 2525, security);
        s.extra_ca_pem = Some(std::fs::read(&empty).unwrap());
        let e = SmtpRelay::new(s).err().expect("refused");
        assert_eq!(e.kind, OpenErrorKind::Tls);
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
    }
}
