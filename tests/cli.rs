//! The `mergeguard` binary: exit codes and JSON shapes of `import` and `preview`.
//!
//! Tests marked "needs import" exercise the real recipient import
//! (`recipients::import_path`); the rest only need the binary.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mergeguard"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run mergeguard")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn import_missing_file_exits_2_with_one_line() {
    let o = mg(&["import", "tests/data/compose/no-such-file.csv", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.starts_with("error: ") && e.contains("no-such-file.csv"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn import_rejects_unknown_encoding_and_delimiter_with_exit_2() {
    let o = mg(&["import", "examples/customers.csv", "--encoding", "latin9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("latin9"));
    let o = mg(&["import", "examples/customers.csv", "--delimiter", "|"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn preview_unloadable_campaign_exits_2() {
    for (file, needle) in [
        (
            "tests/data/compose/no-such.toml",
            "cannot read the campaign file",
        ),
        ("tests/data/compose/bad/unknown-key.toml", "colour"),
    ] {
        let o = mg(&["preview", "--campaign", file, "--json"]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        let e = stderr(&o);
        assert!(e.contains(needle), "{file}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    }
}

#[test]
fn no_subcommand_or_bad_flag_exits_2_and_help_exits_0() {
    assert_eq!(mg(&[]).status.code(), Some(2));
    assert_eq!(
        mg(&["preview"]).status.code(),
        Some(2),
        "--campaign is required"
    );
    assert_eq!(mg(&["--help"]).status.code(), Some(0));
}

// ---- needs import (recipients::import_path) ----

#[test]
fn import_example_json_shape() {
    let o = mg(&["import", "examples/customers.csv", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["encoding"], "shift_jis");
    assert_eq!(v["delimiter"], ",");
    assert_eq!(v["email_column"], "メールアドレス");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        fields[..5],
        ["会員番号", "氏名", "フリガナ", "会社名", "メールアドレス"]
    );
    let first = &v["recipients"][0];
    assert_eq!(first["row"], 2);
    assert_eq!(first["email"], "taro.yamada@example.jp");
    assert_eq!(first["fields"]["氏名"], "山田 太郎");
    // The fields object keeps header order.
    let raw = String::from_utf8_lossy(&o.stdout);
    let obj = &raw[raw.find("\"fields\":{").unwrap()..];
    assert!(obj.find("会員番号").unwrap() < obj.find("氏名").unwrap());
    assert!(obj.find("氏名").unwrap() < obj.find("ポイント").unwrap());
    let rejected: Vec<(u64, &str)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (6, "empty_address"),
            (7, "multiple_addresses"),
            (11, "duplicate")
        ]
    );
    for r in v["rejected"].as_array().unwrap() {
        assert!(!r["detail"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        v["recipients"].as_array().unwrap().len() + rejected.len(),
        12
    );
}

#[test]
fn import_summary_without_json() {
    let o = mg(&["import", "examples/customers.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("9 recipients, 3 rejected"), "{out}");
    assert!(out.contains("row 7: multiple_addresses"), "{out}");
}

#[test]
fn preview_example_campaign_every_message_has_one_recipient() {
    let o = mg(&["preview", "--campaign", "examples/campaign.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let msgs = v.as_array().expect("an array without --row");
    assert_eq!(msgs.len(), 9);
    for m in msgs {
        let to = m["to"].as_str().unwrap();
        assert_eq!(m["envelope_to"], serde_json::json!([to]));
        let raw = m["raw"].as_str().unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        let to_lines: Vec<&str> = head.lines().filter(|l| l.starts_with("To:")).collect();
        assert_eq!(to_lines, vec![format!("To: {to}")]);
        assert!(!head
            .lines()
            .any(|l| l.starts_with("Cc:") || l.starts_with("Bcc:")));
        assert!(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(m["subject"].as_str().unwrap().contains("冬のセール"));
    }
}

#[test]
fn preview_one_row_json_object() {
    let o = mg(&[
        "preview",
        "--campaign",
        "examples/campaign.toml",
        "--row",
        "4",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["row"], 4);
    assert_eq!(v["to"], "ichiro@suzuki-kogyo.example.jp");
    assert_eq!(v["subject"], "鈴木 一郎様 冬のセールのご案内");
    assert!(v["raw"].as_str().unwrap().contains("Subject: =?utf-8?b?"));
    // A rejected row is not a message.
    let o = mg(&[
        "preview",
        "--campaign",
        "examples/campaign.toml",
        "--row",
        "6",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("row 6 is not a recipient"));
}

#[test]
fn preview_missing_field_exits_1_with_error_objects() {
    let o = mg(&[
        "preview",
        "--campaign",
        "tests/data/compose/missing-field.toml",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let e = &v[0];
    assert_eq!(e["row"], 2);
    assert_eq!(e["error"]["code"], "missing_field");
    assert_eq!(
        e["error"]["message"],
        "row 2: the field \"会員番号\" is not in the recipient file"
    );
    assert!(e.get("raw").is_none());
}

#[test]
fn preview_template_syntax_error_exits_2() {
    let o = mg(&[
        "preview",
        "--campaign",
        "tests/data/compose/syntax-error.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("subject template has a syntax error"),
        "{}",
        stderr(&o)
    );
}

/// Runs the binary with `stdin` piped in.
fn mg_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mergeguard"))
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mergeguard");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("mergeguard finishes")
}

#[test]
fn suppress_add_list_and_an_import_of_the_campaign_leaves_the_address_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = mg_with_stdin(
        &["operator", "add", "root", "--pin-stdin", "--data-dir", d],
        "246802\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        list.path(),
        "# unsubscribed by phone\nTaro.Yamada@Example.jp\n\n",
    )
    .unwrap();
    let o = mg_with_stdin(
        &[
            "suppress",
            "add",
            "--file",
            list.path().to_str().unwrap(),
            "x@example.jp",
            "--operator",
            "root",
            "--pin-stdin",
            "--data-dir",
            d,
        ],
        "246802\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "2 added (0 already listed)"
    );
    // A wrong PIN changes nothing.
    let o = mg_with_stdin(
        &[
            "suppress",
            "add",
            "y@example.jp",
            "--operator",
            "root",
            "--pin-stdin",
            "--data-dir",
            d,
        ],
        "000000\n",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = mg(&["suppress", "list", "--json", "--data-dir", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed: Vec<String> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap().to_string())
        .collect();
    let mut listed = listed;
    listed.sort();
    assert_eq!(listed, ["taro.yamada@example.jp", "x@example.jp"]);
    // Submitting the example campaign now counts that customer out.
    let o = mg_with_stdin(
        &[
            "submit",
            "--campaign",
            "examples/campaign.toml",
            "--operator",
            "root",
            "--pin-stdin",
            "--data-dir",
            d,
        ],
        "246802\n",
    );
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(o.status.success(), "{out}");
    // Row 2 and its duplicate row 11 (same address, other case) are both suppressed now:
    // 9 recipients become 8.
    assert!(out.contains("Recipients   8\n"), "{out}");
    assert!(out.contains("suppressed 2"), "{out}");
}
