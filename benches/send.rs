//! Throughput of the sending engine: 2,000 personalised messages to the loopback Postfix
//! over STARTTLS + AUTH with reused connections, state committed to a WAL file with
//! synchronous=FULL exactly as in production. Prints messages per second (a plain
//! bench, not criterion: one run of a real relay is the measurement;
//! `scripts/bench-send.sh` runs the peers beside it).
//!
//! Env: MG_TEST_SMTP_STARTTLS, MG_TEST_CA, MG_TEST_SMTP_USER/PASSWORD (test contract),
//! MG_BENCH_N (2000), MG_BENCH_PARALLEL (comma list, default "2,4").

use std::sync::Arc;
use std::time::{Duration, Instant};

use mergeguard::compose::BuiltMessage;
use mergeguard::secrets::Secret;
use mergeguard::send::{
    send_campaign, state, ApprovalGate, Control, Security, SendJob, SendOptions, SmtpRelay,
    SmtpSettings, SystemClock,
};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

struct Allow;
impl ApprovalGate for Allow {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

fn build(cid: &str, row: u64) -> BuiltMessage {
    let to = format!("customer{row}@example.test");
    let mid = format!("<{cid}.{row}@mergeguard.test>");
    let text = format!(
        "Dear customer number {row},\r\n\r\n{}\r\n",
        "Our autumn catalogue is out; this line pads the message to about one KiB. ".repeat(12)
    );
    let raw = format!(
        "From: Shop News <news@shop.test>\r\nTo: <{to}>\r\nSubject: Autumn news for customer {row}\r\nMessage-ID: {mid}\r\nDate: Sat, 28 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
    );
    BuiltMessage {
        row,
        to: to.clone(),
        envelope_to: vec![to],
        envelope_from: "news@shop.test".into(),
        subject: String::new(),
        text,
        html: None,
        attachments: vec![],
        message_id: mid,
        raw: raw.into_bytes(),
    }
}

fn main() {
    // `cargo bench` passes --bench; criterion-style filters are ignored here.
    // MG_BENCH_SECURITY=tls measures implicit TLS (port 465 style) instead of STARTTLS.
    let (security, addr) = match env("MG_BENCH_SECURITY", "starttls").as_str() {
        "tls" => (Security::ImplicitTls, env("MG_TEST_SMTP_TLS", "127.0.0.1:2465")),
        _ => (Security::StartTls, env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")),
    };
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let ca_path = env(
        "MG_TEST_CA",
        &format!(
            "{}/certs/ca.crt",
            env("MG_TEST_DIR", "/tmp/mergeguard-test")
        ),
    );
    let ca =
        std::fs::read(&ca_path).unwrap_or_else(|e| panic!("test CA {ca_path} (MG_TEST_CA): {e}"));
    let n: u64 = env("MG_BENCH_N", "2000").parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for parallel in env("MG_BENCH_PARALLEL", "2,4")
        .split(',')
        .map(|p| p.trim().parse::<usize>().unwrap())
    {
        let mut s = SmtpSettings::new(host, port.parse().unwrap(), security);
        s.username = Some(env("MG_TEST_SMTP_USER", "mailer"));
        s.password = Some(Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret")));
        s.extra_ca_pem = Some(ca.clone());
        s.timeout = Duration::from_secs(30);
        let relay = Arc::new(SmtpRelay::new(s).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("bench.sqlite")).unwrap();
        state::migrate(&conn).unwrap();
        let cid = format!("bench{}-{}", parallel, std::process::id());
        let cid2 = cid.clone();
        let job = SendJob {
            campaign_id: cid,
            recipients: (1..=n)
                .map(|r| (r, format!("customer{r}@example.test")))
                .collect(),
            render: move |row| Ok(build(&cid2, row)),
            dkim: None,
            options: SendOptions {
                parallel,
                ..Default::default()
            },
        };
        let (_tx, rx) = tokio::sync::watch::channel(Control::Run);
        let t = Instant::now();
        let summary = rt
            .block_on(send_campaign(
                job,
                relay,
                &conn,
                &SystemClock,
                rx,
                &Allow,
                &|_| {},
            ))
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(summary.counts.sent, n, "{summary:?}");
        println!(
            "mergeguard {security:?} parallel={parallel}: N={n} sent={} wall={secs:.2}s -> {:.1} msg/s",
            summary.counts.sent,
            n as f64 / secs
        );
    }
}
