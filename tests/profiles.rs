//! Relay profiles against real servers: the OS keychain (GNOME Keyring in a private
//! D-Bus session), Postfix with STARTTLS + AUTH and the test CA, and the fault server's
//! relay without STARTTLS. Run with:
//!   tests/servers/keyring-session.sh cargo test -p mergeguard --test profiles

mod common_cli;
use common_cli::mg;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mergeguard::audit::{self, Filter};
use mergeguard::campaign::{Campaign, Security};
use mergeguard::error::ErrorCode;
use mergeguard::operators::{self, Role, Session};
use mergeguard::preflight::campaign::stored_relay_password;
use mergeguard::profiles::{self, Error, ProfileInput, TestOutcome};
use mergeguard::secrets::{self, Secret};
use mergeguard::store::Store;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn test_dir() -> String {
    env("MG_TEST_DIR", "/tmp/mergeguard-test")
}

fn ca_path() -> PathBuf {
    PathBuf::from(env("MG_TEST_CA", &format!("{}/certs/ca.crt", test_dir())))
}

/// (host, port) of a server from its variable, e.g. `127.0.0.1:2525`.
fn server(var: &str, default: &str) -> (String, u32) {
    let v = env(var, default);
    let (h, p) = v.rsplit_once(':').expect("HOST:PORT");
    (h.to_owned(), p.parse().expect("port"))
}

fn smtp_password() -> String {
    env("MG_TEST_SMTP_PASSWORD", "secret")
}

/// Fails (never skips) outside a keyring session, saying how to run the tests.
fn require_session() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "relay profile tests need a real Secret Service: run them with\n  \
             tests/servers/keyring-session.sh cargo test -p mergeguard --test profiles"
        );
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    admin: Session,
    sender: Session,
}

fn fixture() -> Fixture {
    require_session();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), NOW).unwrap();
    let admin = operators::sign_in(&store, "admin", &Secret::new("999999"), NOW).unwrap();
    let roles: std::collections::BTreeSet<Role> = [Role::Sender, Role::Approver].into();
    operators::add_operator(&store, &admin, "sam", &roles, &Secret::new("123456"), NOW).unwrap();
    let sender = operators::sign_in(&store, "sam", &Secret::new("123456"), NOW).unwrap();
    Fixture {
        dir,
        store,
        admin,
        sender,
    }
}

fn input(name: &str, host: &str, port: u32, user: &str, ca: Option<&Path>) -> ProfileInput {
    ProfileInput {
        name: name.into(),
        provider: "other".into(),
        host: host.into(),
        port: Some(port),
        security: "starttls".into(),
        username: user.into(),
        ca_file: ca.map(Path::to_path_buf),
        ..ProfileInput::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` (database, WAL, shm), byte by byte.
fn assert_absent_in_dir(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_absent_in_dir(&path, secret);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "the password is in {}",
                path.display()
            );
        }
    }
}

fn log_kinds(store: &Store) -> Vec<String> {
    audit::entries(store, &Filter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn run_test(profile: &profiles::Profile) -> profiles::ConnectionTest {
    profiles::test_connection_with(
        profile,
        profiles::stored_password(profile),
        SystemTime::now(),
        Duration::from_secs(10),
    )
    .await
}

#[test]
fn add_list_remove_and_the_password_stays_in_the_keychain() {
    let f = fixture();
    let host = format!("{}.test", unique("relay"));
    let password = unique("pw");
    let mut form = input("Office relay", &host, 587, "mailer@shop.test", None);

    // A sender cannot add a profile; nothing reaches the keychain or the store.
    let refused = profiles::add(
        &f.store,
        &f.sender,
        &form,
        Some(&Secret::new(&password)),
        NOW,
    )
    .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden, "{refused}");
    assert!(profiles::list(&f.store).unwrap().is_empty());
    assert!(matches!(
        secrets::relay_password(&format!("{host}:587"), "mailer@shop.test"),
        Err(secrets::Error::NotFound { .. })
    ));

    let profile = profiles::add(
        &f.store,
        &f.admin,
        &form,
        Some(&Secret::new(&password)),
        NOW,
    )
    .unwrap();
    assert_eq!(
        (profile.host.as_str(), profile.port, profile.security),
        (host.as_str(), 587, Security::Starttls)
    );
    assert_eq!(
        profiles::stored_password(&profile)
            .unwrap()
            .unwrap()
            .expose(),
        password
    );
    let listed = profiles::list(&f.store).unwrap();
    assert_eq!(listed, std::slice::from_ref(&profile));
    assert_eq!(
        profiles::get(&f.store, "OFFICE RELAY").unwrap(),
        profile,
        "names ignore case"
    );

    // The name is unique whatever its case.
    form.name = "office RELAY".into();
    let taken = profiles::add(&f.store, &f.admin, &form, None, NOW).unwrap_err();
    assert!(matches!(taken, Error::NameTaken(_)), "{taken}");
    assert_eq!(taken.code(), ErrorCode::InvalidInput);

    // The password is in no result, no file of the store and no log export.
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains(&password) && json.contains(&host));
    let mut export = Vec::new();
    audit::export_json(&f.store, &Filter::default(), &mut export).unwrap();
    assert!(contains(&export, b"relay_profile_saved") && !contains(&export, password.as_bytes()));
    assert_absent_in_dir(f.dir.path(), &password);

    // A sender cannot remove it either.
    let refused = profiles::remove(&f.store, &f.sender, "Office relay", NOW).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    profiles::remove(&f.store, &f.admin, "office relay", NOW).unwrap();
    assert!(profiles::list(&f.store).unwrap().is_empty());
    assert!(
        matches!(profiles::stored_password(&profile), Ok(None)),
        "the password left with the profile"
    );
    let kinds: Vec<String> = log_kinds(&f.store)
        .into_iter()
        .filter(|k| k.starts_with("credential_") || k.starts_with("relay_profile_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "credential_stored",
            "relay_profile_saved",
            "relay_profile_removed",
            "credential_removed"
        ]
    );
    assert!(audit::verify(&f.store).unwrap().is_intact());
    let missing = profiles::remove(&f.store, &f.admin, "office relay", NOW).unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)));
}

#[test]
fn a_shared_relay_login_keeps_its_password_until_the_last_profile_goes() {
    let f = fixture();
    let host = format!("{}.test", unique("shared"));
    let password = Secret::new(unique("pw"));
    let a = profiles::add(
        &f.store,
        &f.admin,
        &input("A", &host, 587, "u", None),
        Some(&password),
        NOW,
    )
    .unwrap();
    let mut slow = input("B", &host, 587, "u", None);
    slow.rate = "google-workspace".into();
    profiles::add(&f.store, &f.admin, &slow, None, NOW).unwrap();
    profiles::remove(&f.store, &f.admin, "A", NOW).unwrap();
    let b = profiles::get(&f.store, "B").unwrap();
    assert_eq!(
        profiles::stored_password(&b).unwrap().as_ref(),
        Some(&password),
        "B still signs in"
    );

    // Changing B's user moves the password to the new login and forgets the old one.
    let moved = profiles::update(
        &f.store,
        &f.admin,
        "B",
        &input("B", &host, 587, "v", None),
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(
        profiles::stored_password(&moved).unwrap().as_ref(),
        Some(&password)
    );
    assert!(matches!(profiles::stored_password(&a), Ok(None)));
    profiles::remove(&f.store, &f.admin, "B", NOW).unwrap();
    assert!(matches!(profiles::stored_password(&moved), Ok(None)));
}

#[test]
fn a_profile_is_the_relay_section_a_campaign_would_have() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let user = format!("{}@mail.test", unique("u"));
    let password = unique("pw");
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Campaign relay", &host, port, &user, Some(&ca_path())),
        Some(&Secret::new(&password)),
        NOW,
    )
    .unwrap();
    let relay = profiles::to_relay(&p).unwrap();
    let text = format!(
        "[sender]\nname = \"Shop\"\naddress = \"news@shop.test\"\n[recipients]\nfile = \"r.csv\"\n\
         [message]\nsubject = \"Hi\"\ntext = \"t.txt\"\n[relay]\nhost = \"{}\"\nport = {}\nsecurity = \"starttls\"\n\
         username = \"{}\"\nca = \"{}\"\n",
        relay.host,
        relay.port,
        relay.username,
        relay.ca.as_ref().unwrap().display()
    );
    let campaign = Campaign::parse(&text, PathBuf::from("/")).unwrap();
    // The campaign path finds the profile's password without knowing profiles exist.
    assert_eq!(
        stored_relay_password(&campaign).unwrap().unwrap().expose(),
        password
    );
    let fp = profiles::fingerprint_input(&p);
    assert_eq!(
        fp.ca_sha256.as_deref(),
        Some(p.ca.as_ref().unwrap().sha256.as_str())
    );
    profiles::remove(&f.store, &f.admin, "Campaign relay", NOW).unwrap();
}

#[tokio::test]
async fn test_connection_ok_against_postfix_with_the_company_ca() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let pw = smtp_password();
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Postfix", &host, port, "mailer", Some(&ca_path())),
        Some(&Secret::new(&pw)),
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::Ok, "{result:?}");
    assert!(result.message.contains("signed in"), "{}", result.message);
    assert!(result
        .tls_version
        .as_deref()
        .is_some_and(|v| v.starts_with("TLS 1.")));
    let json = serde_json::to_string(&result).unwrap();
    assert!(json.contains("\"outcome\":\"ok\"") && !json.contains(&pw));
    // The real entry point (stored password, default timeout) agrees.
    assert!(profiles::test_connection(&p, SystemTime::now())
        .await
        .is_ok());
}

#[tokio::test]
async fn test_connection_without_the_ca_says_certificate_not_trusted() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("No CA", &host, port, &unique("u"), None),
        None,
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(
        result.outcome,
        TestOutcome::CertificateNotTrusted,
        "{result:?}"
    );
    assert!(
        result.message.contains("unknown issuer"),
        "{}",
        result.message
    );
    assert!(!result.fix.is_empty());
}

#[tokio::test]
async fn test_connection_with_a_wrong_password_says_login_refused() {
    let f = fixture();
    let (_, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    // `localhost` (also in the certificate) keeps this keychain entry apart from the
    // correct password the other tests store for 127.0.0.1.
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Wrong", "localhost", port, "mailer", Some(&ca_path())),
        Some(&Secret::new(unique("wrong"))),
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::LoginRefused, "{result:?}");
    assert!(
        result.message.contains("refused the user name or password"),
        "{}",
        result.message
    );
    profiles::remove(&f.store, &f.admin, "Wrong", NOW).unwrap();
}

#[tokio::test]
async fn test_connection_without_a_stored_password_says_so() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Nopw", &host, port, &unique("nobody"), Some(&ca_path())),
        None,
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::NoPassword, "{result:?}");
}

#[tokio::test]
async fn test_connection_to_a_relay_without_starttls_says_starttls_missing() {
    let f = fixture();
    let base: u32 = env("MG_TEST_FAULT_BASE", "2601").parse().unwrap();
    let user = unique("u");
    let trap = unique("pw");
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Plain", "127.0.0.1", base, &user, Some(&ca_path())),
        Some(&Secret::new(&trap)),
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::StarttlsMissing, "{result:?}");
    assert!(
        result.message.contains("does not offer STARTTLS"),
        "{}",
        result.message
    );
    profiles::remove(&f.store, &f.admin, "Plain", NOW).unwrap();
}

#[tokio::test]
async fn test_connection_to_a_closed_port_says_cannot_connect() {
    let f = fixture();
    // Bind and drop a listener: the port is then free and refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Closed", "127.0.0.1", port.into(), &unique("u"), None),
        None,
        NOW,
    )
    .unwrap();
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::CannotConnect, "{result:?}");
}

#[tokio::test]
async fn a_ca_file_changed_after_saving_is_refused() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let ca = f.dir.path().join("company-ca.pem");
    std::fs::copy(ca_path(), &ca).unwrap();
    let p = profiles::add(
        &f.store,
        &f.admin,
        &input("Ca", &host, port, &unique("u"), Some(&ca)),
        None,
        NOW,
    )
    .unwrap();
    assert!(profiles::to_relay(&p).is_ok());
    let mut file = std::fs::OpenOptions::new().append(true).open(&ca).unwrap();
    file.write_all(b"\n# edited\n").unwrap();
    drop(file);
    let e = profiles::to_relay(&p).unwrap_err();
    assert!(e.to_string().contains("has changed"), "{e}");
    let result = run_test(&p).await;
    assert_eq!(result.outcome, TestOutcome::CaFileChanged, "{result:?}");
    assert!(
        result.checks.is_empty(),
        "nothing was probed with the changed file"
    );
}

// ---- the command line ----------------------------------------------------------------

#[test]
fn cli_relay_add_list_test_remove() {
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
    let out = mg(
        data.path(),
        &[
            "operator",
            "add",
            "sam",
            "--role",
            "sender",
            "--admin",
            "admin",
            "--pin-stdin",
        ],
        "999999\n123456\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let port = port.to_string();
    let ca = ca_path();
    let pw = smtp_password();
    let add = |operator: &str, stdin: &str| {
        mg(
            data.path(),
            &[
                "relay",
                "add",
                "--name",
                "Test Postfix",
                "--host",
                &host,
                "--port",
                &port,
                "--security",
                "starttls",
                "--user",
                "mailer@mail.test",
                "--ca",
                ca.to_str().unwrap(),
                "--operator",
                operator,
                "--pin-stdin",
                "--password-stdin",
                "--json",
            ],
            stdin,
        )
    };
    // A sender is refused, with one line and exit 2.
    let refused = add("sam", &format!("123456\n{pw}\n"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only an admin"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let added = add("admin", &format!("999999\n{pw}\n"));
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let profile: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(profile["security"], "starttls");
    assert_eq!(profile["rate"], "generic");

    // Plain text cannot even be asked for.
    let plain = mg(
        data.path(),
        &[
            "relay",
            "add",
            "--name",
            "P",
            "--host",
            "mail.shop.test",
            "--port",
            "25",
            "--security",
            "plain",
            "--user",
            "u",
            "--operator",
            "admin",
            "--pin-stdin",
            "--no-password",
        ],
        "999999\n",
    );
    assert_eq!(plain.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("never sends without encryption"));

    // A preset fills host, port and speed.
    let m365 = mg(
        data.path(),
        &[
            "relay",
            "add",
            "--name",
            "Office",
            "--preset",
            "microsoft365",
            "--user",
            "news@shop.test",
            "--operator",
            "admin",
            "--pin-stdin",
            "--no-password",
            "--json",
        ],
        "999999\n",
    );
    assert!(
        m365.status.success(),
        "{}",
        String::from_utf8_lossy(&m365.stderr)
    );
    let m365: serde_json::Value = serde_json::from_slice(&m365.stdout).unwrap();
    assert_eq!(
        (
            m365["host"].as_str(),
            m365["port"].as_u64(),
            m365["rate"].as_str()
        ),
        (Some("smtp.office365.com"), Some(587), Some("microsoft365"))
    );

    let list = mg(data.path(), &["relay", "list", "--json"], "");
    assert!(list.status.success());
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let test = mg(
        data.path(),
        &["relay", "test", "--name", "test postfix", "--json"],
        "",
    );
    assert_eq!(
        test.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
    let test: serde_json::Value = serde_json::from_slice(&test.stdout).unwrap();
    assert_eq!(test["outcome"], "ok");
    let nopw = mg(data.path(), &["relay", "test", "--name", "Office"], "");
    // No password is stored for it; whatever the network allows, it is not OK.
    assert_eq!(nopw.status.code(), Some(1));

    let removed = mg(
        data.path(),
        &[
            "relay",
            "remove",
            "--name",
            "Test Postfix",
            "--operator",
            "admin",
            "--pin-stdin",
        ],
        "999999\n",
    );
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let gone = mg(
        data.path(),
        &["relay", "test", "--name", "Test Postfix"],
        "",
    );
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no relay profile named"));

    // The password is nowhere in the data folder (database, WAL, log).
    assert_absent_in_dir(data.path(), &pw);
    let out = mg(
        data.path(),
        &[
            "relay",
            "remove",
            "--name",
            "Office",
            "--operator",
            "admin",
            "--pin-stdin",
        ],
        "999999\n",
    );
    assert!(out.status.success());
}

#[test]
fn changing_a_profile_keeps_its_mailbox_and_its_sign_in() {
    let f = fixture();
    let (host, port) = server("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525");
    let user = format!("{}@mail.test", unique("u"));
    profiles::add(
        &f.store,
        &f.admin,
        &input("Office", &host, port, &user, Some(&ca_path())),
        Some(&Secret::new(unique("pw"))),
        NOW,
    )
    .unwrap();
    let mailbox = mergeguard::mailbox::MailboxInput {
        host: "imap.shop.test".into(),
        port: Some(993),
        security: "tls".into(),
        folder: "INBOX".into(),
    };
    mergeguard::mailbox::set_settings(&f.store, &f.admin, "Office", Some(&mailbox), NOW).unwrap();
    let p = profiles::get(&f.store, "Office").unwrap();
    let oauth = mergeguard::oauth::OAuthInput {
        provider: "microsoft365".into(),
        client_id: "00000000-0000-0000-0000-000000000001".into(),
        tenant: "organizations".into(),
        ..Default::default()
    };
    mergeguard::oauth::configure(&f.store, &f.admin, &p, Some(&oauth), NOW).unwrap();
    // An admin changes the rate on the Sending server screen, whose form knows neither.
    let mut changed = input("Office", &host, port, &user, Some(&ca_path()));
    changed.rate = "microsoft365".into();
    let after = profiles::update(&f.store, &f.admin, "Office", &changed, None, NOW).unwrap();
    assert_eq!(after.auth.as_str(), "oauth2", "the sign-in method stays");
    let kept = mergeguard::mailbox::settings(&f.store, "Office")
        .unwrap()
        .unwrap();
    assert_eq!(kept.host, "imap.shop.test");
    let sign_in = mergeguard::oauth::settings(&f.store, "Office")
        .unwrap()
        .unwrap();
    assert_eq!(sign_in.client_id, "00000000-0000-0000-0000-000000000001");
}

#[test]
fn cli_oauth_google_client_secret_goes_to_the_keychain_only() {
    require_session();
    let data = tempfile::tempdir().unwrap();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(mg(
        data.path(),
        &["operator", "add", "admin", "--pin-stdin"],
        "999999\n",
    ));
    let name = unique("Gmail");
    ok(mg(
        data.path(),
        &[
            "relay",
            "add",
            "--name",
            &name,
            "--preset",
            "google",
            "--user",
            "news@shop.test",
            "--operator",
            "admin",
            "--pin-stdin",
            "--no-password",
        ],
        "999999\n",
    ));
    let secret = format!("GOCSPX-{}", uuid::Uuid::new_v4().simple());
    let set = |stdin: &str| {
        mg(
            data.path(),
            &[
                "oauth",
                "set",
                "--profile",
                &name,
                "--provider",
                "google",
                "--client-id",
                "123.apps.googleusercontent.com",
                "--with-client-secret",
                "--operator",
                "admin",
                "--pin-stdin",
            ],
            stdin,
        )
    };
    // The secret is the line after the PIN; without it, one plain line and nothing kept.
    let missing = set("999999\n");
    assert_ne!(missing.status.code(), Some(0));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("before the client secret"), "{err}");
    ok(set(&format!("999999\n{secret}\n")));
    let status = ok(mg(
        data.path(),
        &["oauth", "status", "--profile", &name],
        "",
    ));
    assert!(status.contains("google"), "{status}");
    assert!(status.contains("a client secret is kept"), "{status}");
    assert!(!status.contains(&secret), "{status}");
    assert_absent_in_dir(data.path(), &secret);
    let kept = keyring::Entry::new(
        mergeguard::oauth::CLIENT_SECRET_SERVICE,
        &format!("{}:news@shop.test", name.to_lowercase()),
    )
    .unwrap();
    assert_eq!(kept.get_password().unwrap(), secret);
    // Back to the password: the secret leaves the keychain too.
    ok(mg(
        data.path(),
        &[
            "oauth",
            "set",
            "--profile",
            &name,
            "--clear",
            "--operator",
            "admin",
            "--pin-stdin",
        ],
        "999999\n",
    ));
    let status = ok(mg(
        data.path(),
        &["oauth", "status", "--profile", &name],
        "",
    ));
    assert!(status.contains("password"), "{status}");
    assert!(matches!(kept.get_password(), Err(keyring::Error::NoEntry)));
    ok(mg(
        data.path(),
        &[
            "relay",
            "remove",
            "--name",
            &name,
            "--operator",
            "admin",
            "--pin-stdin",
        ],
        "999999\n",
    ));
}
