//! Keychain tests against a real Secret Service (GNOME Keyring in a private D-Bus session).
//! Run them with: `tests/servers/keyring-session.sh cargo test -p mergeguard --test keychain`.

use std::path::Path;
use std::process::Command;

use mergeguard::audit::{self, Filter};
use mergeguard::error::ErrorCode;
use mergeguard::operators::{self, Role};
use mergeguard::secrets::{self, Secret};
use mergeguard::store::Store;
use time::macros::datetime;

const CHILD_ENV: &str = "MG_KEYCHAIN_CHILD";

/// Fails (never skips) outside a keyring session, saying how to run the tests.
fn require_session() {
    if std::env::var("MG_TEST_KEYRING").as_deref() != Ok("1") {
        panic!(
            "keychain tests need a real Secret Service: run them inside a D-Bus session with \
             an unlocked GNOME Keyring:\n  tests/servers/keyring-session.sh cargo test -p \
             mergeguard --test keychain\n(MG_TEST_KEYRING=1 is set by that script)"
        );
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn assert_absent_in_dir(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_absent_in_dir(&path, secret);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "the secret is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn relay_password_round_trip_and_never_on_disk() {
    require_session();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = datetime!(2026-11-28 09:00 UTC);
    let secret = format!("s3cret-{}", uuid::Uuid::new_v4());
    let profile = format!("relay-{}", uuid::Uuid::new_v4());
    operators::create_first_admin(&store, "admin", &Secret::new("999999"), now).unwrap();
    let admin = operators::sign_in(&store, "admin", &Secret::new("999999"), now).unwrap();
    let sender: std::collections::BTreeSet<Role> = [Role::Sender].into();
    operators::add_operator(&store, &admin, "sam", &sender, &Secret::new("123456"), now).unwrap();
    let sam = operators::sign_in(&store, "sam", &Secret::new("123456"), now).unwrap();
    // Only an admin stores credentials, whatever front end asks.
    let refused =
        secrets::save_relay_password(&store, &sam, &profile, "mailer", &Secret::new("x"), now)
            .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    assert!(
        secrets::relay_password(&profile, "mailer").is_err(),
        "nothing was stored"
    );

    secrets::save_relay_password(
        &store,
        &admin,
        &profile,
        "mailer",
        &Secret::new(&secret),
        now,
    )
    .unwrap();
    assert_eq!(
        secrets::relay_password(&profile, "mailer")
            .unwrap()
            .expose(),
        secret
    );
    // Replacing keeps one entry with the new value.
    let secret2 = format!("{secret}-2");
    secrets::store_relay_password(&profile, "mailer", &Secret::new(&secret2)).unwrap();
    assert_eq!(
        secrets::relay_password(&profile, "mailer")
            .unwrap()
            .expose(),
        secret2
    );

    // Absent from the log exports and from every file the store wrote (db, WAL, shm).
    let mut csv = Vec::new();
    audit::export_csv(&store, &Filter::default(), &mut csv).unwrap();
    let mut json = Vec::new();
    audit::export_json(&store, &Filter::default(), &mut json).unwrap();
    for out in [&csv, &json] {
        assert!(
            contains(out, profile.as_bytes()),
            "the log names the profile"
        );
        assert!(!contains(out, secret.as_bytes()) && !contains(out, secret2.as_bytes()));
    }
    assert_absent_in_dir(dir.path(), &secret);

    secrets::forget_relay_password(&store, &admin, &profile, "mailer", now).unwrap();
    let err = secrets::relay_password(&profile, "mailer").unwrap_err();
    assert!(matches!(err, secrets::Error::NotFound { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::Keychain);
    drop(store);
    assert_absent_in_dir(dir.path(), &secret);
    let kinds: Vec<String> = {
        let store = Store::open(dir.path()).unwrap();
        audit::entries(&store, &Filter::default())
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .filter(|k| k.starts_with("credential_"))
            .collect()
    };
    assert_eq!(kinds, ["credential_stored", "credential_removed"]);
}

#[test]
fn reading_a_missing_password_is_a_keychain_error() {
    require_session();
    let err = secrets::relay_password(&format!("none-{}", uuid::Uuid::new_v4()), "u").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Keychain);
    assert!(err.to_string().contains("no password is stored"), "{err}");
}

/// Runs in a child process whose D-Bus address points nowhere: the keychain is missing.
#[test]
fn missing_keychain_is_a_clear_error_not_a_panic() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let err = secrets::store_relay_password("p", "u", &Secret::new("x")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Keychain);
        let err2 = secrets::relay_password("p", "u").unwrap_err();
        assert_eq!(err2.code(), ErrorCode::Keychain);
        // Without the keychain no data folder opens: its key lives there.
        let dir = tempfile::tempdir().unwrap();
        let err3 = Store::open(dir.path()).unwrap_err();
        assert_eq!(err3.code(), ErrorCode::Keychain);
        println!("CHILD-STORE: {err3}");
        println!("CHILD-OK: {err}");
        return;
    }
    let nowhere = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "missing_keychain_is_a_clear_error_not_a_panic",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", nowhere.path().display()),
        )
        .env("XDG_RUNTIME_DIR", nowhere.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("CHILD-OK: the system keychain"), "{stdout}");
    assert!(
        stdout.contains("CHILD-STORE: the data folder's key could not be read from or stored in the system keychain: the system keychain is not available"),
        "{stdout}"
    );
}
