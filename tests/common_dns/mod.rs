//! The test DNS server (Knot, changed at run time with `knotc`) and the independent DKIM
//! verifier (dkimpy), shared by the core's domain tests and the app's end-to-end test.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

pub fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub fn test_dir() -> String {
    env("MG_TEST_DIR", "/tmp/mergeguard-test")
}

pub fn dns_addr() -> SocketAddr {
    env("MG_TEST_DNS", "127.0.0.1:5353")
        .parse()
        .expect("MG_TEST_DNS is IP:PORT")
}

/// The running test Knot's configuration, for `knotc`.
pub fn knot_conf() -> PathBuf {
    PathBuf::from(env(
        "MG_TEST_KNOT_CONF",
        &format!("{}/dns/knot.conf", test_dir()),
    ))
}

pub fn require_session() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "domain setup tests need a real Secret Service: run them with\n  \
             tests/servers/keyring-session.sh cargo test -p mergeguard --test domain_setup"
        );
    }
}

/// One knotc zone transaction at a time: Knot refuses a second `zone-begin` on a zone.
static ZONE: Mutex<()> = Mutex::new(());

/// Runs knotc; the error is its output.
pub fn knotc(args: &[&str]) -> Result<(), String> {
    let conf = knot_conf();
    let out = Command::new("knotc")
        .arg("-c")
        .arg(&conf)
        .args(args)
        .output()
        .map_err(|e| format!("knotc: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !stdout.contains("error") {
        Ok(())
    } else {
        Err(format!(
            "knotc {args:?} (config {}): {stdout}{}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Changes the running test zone in one transaction; aborts it on any failure, so a
/// failed test never leaves the zone locked for the next one.
pub fn zone_edit(edits: &[Vec<String>]) {
    let _lock = ZONE.lock().unwrap_or_else(|p| p.into_inner());
    knotc(&["zone-begin", "test."]).unwrap();
    for edit in edits {
        if let Err(e) = knotc(&edit.iter().map(String::as_str).collect::<Vec<_>>()) {
            let _ = knotc(&["zone-abort", "test."]);
            panic!("{e}");
        }
    }
    if let Err(e) = knotc(&["zone-commit", "test."]) {
        let _ = knotc(&["zone-abort", "test."]);
        panic!("{e}");
    }
}

/// dkimpy verifies the message, asking the test Knot for the key with dnspython.
pub fn dkimpy_verifies(message: &[u8]) -> String {
    let python = env("MG_TEST_PYTHON", &format!("{}/venv/bin/python", test_dir()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, message).unwrap();
    let dns = dns_addr();
    let script = r#"
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[2]]
r.port = int(sys.argv[3])
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    answer = r.resolve(name, 'TXT', lifetime=timeout)
    return b''.join(answer[0].strings)
print('PASS' if dkim.verify(open(sys.argv[1], 'rb').read(), dnsfunc=txt) else 'FAIL')
"#;
    let out = Command::new(&python)
        .args([
            "-c",
            script,
            file.to_str().unwrap(),
            &dns.ip().to_string(),
            &dns.port().to_string(),
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("python with dkimpy ({python}, MG_TEST_PYTHON) not runnable: {e}")
        });
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
