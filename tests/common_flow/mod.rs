//! Shared helpers of the approved-bytes tests: a data folder with two people, a relay
//! campaign for the fully good test domain (STARTTLS Postfix, DKIM key published in
//! the test DNS), the library flow prepare → submit → approve, and Maildir lookups by
//! Message-ID. Library-level: the checklist, the gate and the send are the real ones.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use mergeguard::operators::{self, Role, Session};
use mergeguard::preflight::campaign::CheckOptions;
use mergeguard::preflight::dns::Resolver;
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use mergeguard::workflow::{self, Prepared};
use time::OffsetDateTime;

/// PINs long enough for any PIN policy.
pub const ROOT_PIN: &str = "24681357";
pub const BOB_PIN: &str = "13572468";

pub fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub fn test_dir() -> String {
    env("MG_TEST_DIR", "/tmp/mergeguard-test")
}

pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A data folder with `root` (all roles) and `bob` (approver); root's session.
pub fn store_with_people(data: &Path) -> (Store, Session) {
    let store = Store::open(data).unwrap();
    let now = OffsetDateTime::now_utc();
    if operators::needs_first_admin(&store).unwrap() {
        operators::create_first_admin(&store, "root", &Secret::new(ROOT_PIN), now).unwrap();
        let root = operators::sign_in(&store, "root", &Secret::new(ROOT_PIN), now).unwrap();
        let roles: BTreeSet<Role> = [Role::Approver].into();
        operators::add_operator(&store, &root, "bob", &roles, &Secret::new(BOB_PIN), now).unwrap();
    }
    let root = operators::sign_in(&store, "root", &Secret::new(ROOT_PIN), now).unwrap();
    (store, root)
}

/// The checklist options of the test servers: the test DNS and the relay password.
pub fn options() -> CheckOptions {
    CheckOptions {
        resolver: Resolver::At(env("MG_TEST_DNS", "127.0.0.1:5353").parse().unwrap()),
        password: Some(password()),
        ..CheckOptions::default()
    }
}

pub fn password() -> Secret {
    Secret::new(env("MG_TEST_SMTP_PASSWORD", "secret"))
}

pub fn ca_path() -> String {
    env("MG_TEST_CA", &format!("{}/certs/ca.crt", test_dir()))
}

/// A relay campaign for good.test in `dir`: recipients `csv` (written to r.csv),
/// template "Dear {{ name }}", DKIM key dkim.pem, `extra` appended to `[message]`.
pub fn relay_campaign(dir: &Path, id: &str, csv: &str, extra: &str) -> PathBuf {
    let (host, port) = env("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    std::fs::copy("tests/data/dkim/rsa2048.pem", dir.join("dkim.pem")).unwrap();
    std::fs::write(dir.join("r.csv"), csv).unwrap();
    std::fs::write(dir.join("t.txt"), "Dear {{ name }},\nour news.\n").unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(
        &path,
        format!(
            "id = \"{id}\"\n[sender]\nname = \"Good Shop\"\naddress = \"news@good.test\"\n\
             [recipients]\nfile = \"r.csv\"\n[message]\nsubject = \"Hello {{{{ name }}}}\"\n\
             text = \"t.txt\"\n{extra}\n\
             [unsubscribe]\nmailto = \"unsubscribe@good.test?subject=u-{{token}}\"\n\
             [advertising]\nenabled = false\n\
             [relay]\nhost = \"{host}\"\nport = {port}\nsecurity = \"starttls\"\n\
             username = \"{user}\"\nca = \"{ca}\"\n\
             [dkim]\nselector = \"sel1\"\nprivate_key = \"dkim.pem\"\n",
            user = env("MG_TEST_SMTP_USER", "mailer"),
            ca = ca_path(),
        ),
    )
    .unwrap();
    path
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn prepare_with(path: &Path, options: &CheckOptions) -> Prepared {
    let p = runtime()
        .block_on(workflow::prepare(
            path,
            options,
            SystemTime::now(),
            &|_, _| {},
        ))
        .unwrap();
    assert!(
        p.failures().is_empty(),
        "checklist failures: {:?}",
        p.report
    );
    p
}

pub fn prepare(path: &Path) -> Prepared {
    prepare_with(path, &options())
}

/// Submitted by root and approved by bob, every warning acknowledged.
pub fn approve(store: &Store, root: &Session, p: &Prepared) {
    let now = OffsetDateTime::now_utc();
    workflow::submit(store, p, root, now).unwrap();
    workflow::approve(store, p, "bob", &Secret::new(BOB_PIN), &p.warnings(), now).unwrap();
}

/// The Message-ID compose gives `email` in campaign `cid` from news@good.test.
pub fn message_id(cid: &str, email: &str) -> String {
    mergeguard::compose::message_id(cid, email, "good.test")
}

/// Delivered files in the Postfix Maildir per Message-ID, for the given ids.
pub fn delivered(ids: &[String]) -> HashMap<String, Vec<PathBuf>> {
    let root = PathBuf::from(env("MG_TEST_MAILDIR", &format!("{}/maildir", test_dir())));
    let mut out: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let head = String::from_utf8_lossy(&bytes);
            for line in head.lines().take_while(|l| !l.is_empty()) {
                if line.len() > 11 && line[..11].eq_ignore_ascii_case("message-id:") {
                    let mid = line[11..].trim();
                    if ids.iter().any(|i| i == mid) {
                        out.entry(mid.to_owned()).or_default().push(e.path());
                    }
                }
            }
        }
    }
    out
}

/// Waits until `expected` of `ids` arrived (delivery is asynchronous), then a little
/// longer so a duplicate or a late message would show up too.
pub fn wait_delivered(ids: &[String], expected: usize) -> HashMap<String, Vec<PathBuf>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered(ids).len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    delivered(ids)
}
