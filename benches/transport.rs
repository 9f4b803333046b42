//! Benchmark: one full transport pre-flight probe (connect, STARTTLS, certificate
//! validation, EHLO, AUTH, QUIT) against the local Postfix from tests/servers/postfix.sh.
//! Target: well under 300 ms per probe. Needs `tests/servers/postfix.sh start`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use mergeguard::campaign::Security;
use mergeguard::preflight::tls::{probe_relay, RelayProbe};
use mergeguard::preflight::Status;
use mergeguard::secrets::Secret;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn relay(var: &str, default: &str, security: Security) -> RelayProbe {
    let addr: std::net::SocketAddr = env(var, default).parse().expect("HOST:PORT");
    let dir = PathBuf::from(env("MG_TEST_DIR", "/tmp/mergeguard-test"));
    RelayProbe {
        host: addr.ip().to_string(),
        port: addr.port(),
        security,
        ca: Some(
            std::env::var("MG_TEST_CA")
                .map(PathBuf::from)
                .unwrap_or_else(|_| dir.join("certs/ca.crt")),
        ),
        credentials: Some((
            env("MG_TEST_SMTP_USER", "mailer"),
            Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret")),
        )),
        timeout: Duration::from_secs(5),
    }
}

fn transport(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, var, default, security) in [
        (
            "tls_probe_postfix_starttls",
            "MG_TEST_SMTP_STARTTLS",
            "127.0.0.1:2525",
            Security::Starttls,
        ),
        (
            "tls_probe_postfix_implicit_tls",
            "MG_TEST_SMTP_TLS",
            "127.0.0.1:2465",
            Security::Tls,
        ),
    ] {
        let relay = relay(var, default, security);
        // A benchmark of a failing probe would measure the wrong thing: insist on success.
        let first = rt.block_on(probe_relay(&relay, SystemTime::now()));
        assert!(
            first.checks.iter().all(|c| c.status == Status::Pass),
            "the probe of {default} does not pass (is `tests/servers/postfix.sh start` running?): {:#?}",
            first.checks
        );
        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(probe_relay(&relay, SystemTime::now())))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = transport
}
criterion_main!(benches);
