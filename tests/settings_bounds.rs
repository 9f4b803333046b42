//! `settings set` with values no duration can hold: a plain error naming the allowed
//! range, in the core and through the real binary, never a panic (issue 10, item 8).

mod common_cli;
use common_cli::mg;

use mergeguard::duration_input::{whole, Unit};
use mergeguard::error::ErrorCode;
use mergeguard::secrets::Secret;
use mergeguard::store::Store;
use mergeguard::{approval, operators};
use time::{macros::datetime, Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);
/// Digits only and eight of them, so it satisfies any PIN policy the store may require.
const PIN: &str = "13572468";

fn admin(store: &Store) -> operators::Session {
    operators::create_first_admin(store, "root", &Secret::new(PIN), T0).unwrap();
    operators::sign_in(store, "root", &Secret::new(PIN), T0).unwrap()
}

#[test]
fn huge_approval_validity_is_refused_in_plain_words_by_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let root = admin(&store);
    for hours in [i64::MAX, i64::MIN, 24 * 31, 0] {
        let e = approval::set_validity(&store, &root, whole(hours, Unit::Hours), T0)
            .expect_err("out of range");
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{hours}: {e}");
        assert!(e.to_string().contains("30 days"), "{hours}: {e}");
    }
    // Nothing was stored: the default still holds, and an ordinary value still works.
    assert_eq!(approval::validity(&store).unwrap(), Duration::hours(24));
    approval::set_validity(&store, &root, whole(720, Unit::Hours), T0).unwrap();
    assert_eq!(approval::validity(&store).unwrap(), Duration::days(30));
}

#[test]
fn huge_idle_time_is_refused_in_plain_words_by_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let root = admin(&store);
    for minutes in [i64::MAX, i64::MIN, 481] {
        let e = operators::set_idle_timeout(&store, &root, whole(minutes, Unit::Minutes), T0)
            .expect_err("out of range");
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{minutes}: {e}");
        assert!(e.to_string().contains("8 hours"), "{minutes}: {e}");
    }
    assert_eq!(
        operators::idle_timeout(&store).unwrap(),
        operators::DEFAULT_IDLE_TIMEOUT
    );
}

#[test]
fn settings_set_with_a_huge_value_exits_with_a_plain_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let add = mg(
        data,
        &["operator", "add", "root", "--pin-stdin"],
        &format!("{PIN}\n"),
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    // `--flag=value`, so a negative number is not read as another flag.
    let set = |flag: &str, value: &str| {
        mg(
            data,
            &[
                "settings",
                "set",
                &format!("{flag}={value}"),
                "--operator",
                "root",
                "--pin-stdin",
            ],
            &format!("{PIN}\n"),
        )
    };
    for (flag, value, range) in [
        ("--approval-hours", "9223372036854775807", "30 days"),
        ("--approval-hours", "-9223372036854775808", "30 days"),
        ("--idle-minutes", "9223372036854775807", "8 hours"),
    ] {
        let o = set(flag, value);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flag} {value} was accepted");
        assert_ne!(o.status.code(), Some(101), "{flag} {value} panicked: {err}");
        assert!(!err.contains("panicked"), "{flag} {value}: {err}");
        assert!(err.contains(range), "{flag} {value}: {err}");
    }
    // A number past i64 is refused by the argument parser, also without a panic.
    let o = set("--approval-hours", "99999999999999999999");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The settings are unchanged.
    let show = mg(data, &["settings", "show"], "");
    let out = String::from_utf8_lossy(&show.stdout);
    assert!(out.contains("approval-hours  24"), "{out}");
    assert!(out.contains("idle-minutes    10"), "{out}");
}
