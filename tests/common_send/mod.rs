//! Shared helpers of the sending tests: the test-server contract (env vars), message
//! fixtures and Maildir counting.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mergeguard::compose::BuiltMessage;
use mergeguard::secrets::Secret;
use mergeguard::send::{Security, SmtpSettings};

pub fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub fn test_dir() -> String {
    env("MG_TEST_DIR", "/tmp/mergeguard-test")
}

/// `host:port` of a server from the contract; panics (never skips) when it is not up.
pub fn server(var: &str, default: &str, what: &str) -> (String, u16) {
    let addr = env(var, default);
    if std::net::TcpStream::connect_timeout(
        &addr.parse().expect("host:port"),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!("{what} is not reachable at {addr} ({var}); start it with tests/servers/*.sh start");
    }
    let (h, p) = addr.rsplit_once(':').unwrap();
    (h.to_string(), p.parse().unwrap())
}

pub fn fault_port(offset: u16) -> (String, u16) {
    let base: u16 = env("MG_TEST_FAULT_BASE", "2601").parse().unwrap();
    let port = base + offset;
    server(
        "__none__",
        &format!("127.0.0.1:{port}"),
        "the fault-injection SMTP server",
    )
}

pub fn ca_pem() -> Vec<u8> {
    let path = env("MG_TEST_CA", &format!("{}/certs/ca.crt", test_dir()));
    std::fs::read(&path).unwrap_or_else(|e| panic!("test CA {path} (MG_TEST_CA) unreadable: {e}"))
}

pub fn settings(host: String, port: u16, security: Security) -> SmtpSettings {
    let mut s = SmtpSettings::new(host, port, security);
    s.username = Some(env("MG_TEST_SMTP_USER", "mailer"));
    s.password = Some(Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret")));
    s.extra_ca_pem = Some(ca_pem());
    s.timeout = Duration::from_secs(10);
    s
}

pub fn starttls_settings() -> SmtpSettings {
    let (h, p) = server(
        "MG_TEST_SMTP_STARTTLS",
        "127.0.0.1:2525",
        "Postfix (STARTTLS+AUTH)",
    );
    settings(h, p, Security::StartTls)
}

pub fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{n}")
}

pub fn message_id(cid: &str, row: u64) -> String {
    format!("<{cid}.{row}@mergeguard.test>")
}

/// A personalised ~1 KiB message, as compose would build it.
pub fn build(cid: &str, row: u64, to: &str) -> BuiltMessage {
    let mid = message_id(cid, row);
    let text = format!(
        "Dear customer number {row},\r\n\r\n{}\r\nRegards,\r\nThe shop\r\n",
        "Our autumn catalogue is out; this line pads the message to a realistic size. ".repeat(10)
    );
    let raw = format!(
        "From: Shop News <news@shop.test>\r\nTo: <{to}>\r\nSubject: Autumn news for customer {row}\r\nMessage-ID: {mid}\r\nDate: Sat, 28 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{text}"
    );
    BuiltMessage {
        row,
        to: to.to_string(),
        envelope_to: vec![to.to_string()],
        envelope_from: "news@shop.test".into(),
        subject: format!("Autumn news for customer {row}"),
        text,
        html: None,
        attachments: vec![],
        message_id: mid,
        raw: raw.into_bytes(),
    }
}

pub fn recipients(n: u64, domain: &str) -> Vec<(u64, String)> {
    (1..=n)
        .map(|r| (r, format!("customer{r}@{domain}")))
        .collect()
}

pub fn maildir() -> PathBuf {
    PathBuf::from(env("MG_TEST_MAILDIR", &format!("{}/maildir", test_dir())))
}

/// Message-ID → number of delivered files, for ids of this campaign.
pub fn delivered(cid: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut stack = vec![maildir()];
    let needle = format!("<{cid}.");
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let text = String::from_utf8_lossy(&bytes);
                for line in text.lines() {
                    if line.is_empty() {
                        break;
                    }
                    if line.len() > 11
                        && line[..11].eq_ignore_ascii_case("message-id:")
                        && line.contains(&needle)
                    {
                        *out.entry(line[11..].trim().to_string()).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    out
}

/// Waits until Postfix has put `expected` distinct messages of the campaign in the
/// Maildir (delivery is asynchronous), then a little longer to catch duplicates.
pub fn wait_delivered(cid: &str, expected: usize) -> HashMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = delivered(cid);
        if d.len() >= expected || Instant::now() > deadline {
            std::thread::sleep(Duration::from_millis(300));
            return delivered(cid);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Allow;
impl mergeguard::send::ApprovalGate for Allow {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

pub fn db() -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("state.sqlite")).unwrap();
    mergeguard::send::state::migrate(&conn).unwrap();
    (dir, conn)
}
