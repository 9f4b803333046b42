//! Benchmark: every DNS check of one fully configured domain (SPF, DKIM with a signed
//! probe, DMARC, MX, FCrDNS) against the local Knot test server (tests/servers/dns.sh).
//! Target: under 50 ms per domain (issue 13).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use mergeguard::preflight::domain::{check_domain, load_dkim_key, DomainCheck, Resolver};
use mergeguard::preflight::Status;

fn bench_domain(c: &mut Criterion) {
    let text = std::env::var("MG_TEST_DNS").unwrap_or_else(|_| "127.0.0.1:5353".into());
    let addr: SocketAddr = text.parse().expect("MG_TEST_DNS is IP:port");
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim/rsa2048.pem");
    let mut check = DomainCheck::new("good.test");
    check.selector = Some("sel1".into());
    check.dkim_key = Some(load_dkim_key(key).expect("test key"));
    check.relay_ips = vec!["127.0.0.1".parse().unwrap()];
    let resolver = Resolver::At(addr);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let now = SystemTime::now();
    // Benchmarking failures would measure timeouts, not checks: insist on a clean run.
    let first = rt.block_on(check_domain(&check, &resolver, now));
    let failed: Vec<_> = first.iter().filter(|c| c.status != Status::Pass).collect();
    assert!(
        failed.is_empty(),
        "good.test does not pass against {addr} (start tests/servers/dns.sh): {failed:#?}"
    );
    c.bench_function("check_domain good.test (17 checks, local Knot)", |b| {
        b.iter(|| rt.block_on(check_domain(&check, &resolver, now)))
    });
}

criterion_group!(benches, bench_domain);
criterion_main!(benches);
