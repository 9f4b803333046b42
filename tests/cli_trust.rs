//! The `operator` and `audit` command handlers, driven with real arguments and
//! PINs on standard input (the test re-runs itself as a child process to own its stdin).

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, Subcommand};
use mergeguard::audit;
use mergeguard::store::Store;

// At the crate root, as in the binary's `cli` module, so their `super::operator` resolves.
#[path = "../src/cli/audit.rs"]
pub mod audit_cmd;
#[path = "../src/cli/operator.rs"]
pub mod operator;

mod cli {
    pub use super::{audit_cmd as audit, operator};
}

#[derive(Parser)]
struct Top {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Operator(cli::operator::OperatorArgs),
    Audit(cli::audit::AuditArgs),
}

const CHILD_ARGS: &str = "MG_CLI_CHILD_ARGS";

fn dispatch(args: &[String]) -> ExitCode {
    let top =
        Top::try_parse_from(std::iter::once("mergeguard".to_string()).chain(args.iter().cloned()))
            .unwrap_or_else(|e| panic!("{e}"));
    match top.command {
        Cmd::Operator(a) => cli::operator::run(a),
        Cmd::Audit(a) => cli::audit::run(a),
    }
}

/// When this process is the child, runs the command from the environment and reports.
fn child() -> bool {
    let Ok(json) = std::env::var(CHILD_ARGS) else {
        return false;
    };
    let args: Vec<String> = serde_json::from_str(&json).unwrap();
    let ok = dispatch(&args) == ExitCode::SUCCESS;
    println!(
        "{}",
        if ok {
            "CHILD-EXIT-OK"
        } else {
            "CHILD-EXIT-FAIL"
        }
    );
    true
}

/// Runs `args` in a child with `stdin` piped in; returns (succeeded, stdout, stderr).
fn run_cli(test: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let json = serde_json::to_string(args).unwrap();
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ARGS, json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child test crashed:\n{stdout}\n{stderr}"
    );
    (stdout.contains("CHILD-EXIT-OK"), stdout, stderr)
}

#[test]
fn operator_commands_with_pins_on_stdin() {
    if child() {
        return;
    }
    let t = "operator_commands_with_pins_on_stdin";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();

    let (ok, out, err) = run_cli(
        t,
        &["operator", "add", "root", "--pin-stdin", "--data-dir", d],
        "246802\n",
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("root is the first operator and the admin"),
        "{out}"
    );

    let args = [
        "operator",
        "add",
        "bob",
        "--role",
        "approver",
        "--admin",
        "root",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, out, err) = run_cli(t, &args, "246802\n135791\n");
    assert!(ok, "{out}{err}");
    // A wrong admin PIN is refused.
    let args = [
        "operator",
        "add",
        "eve",
        "--role",
        "admin",
        "--admin",
        "root",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, _, err) = run_cli(t, &args, "000000\n111111\n");
    assert!(!ok);
    assert!(err.contains("wrong name or PIN"), "{err}");
    // A weak PIN is refused with the policy in plain words.
    let args = [
        "operator",
        "add",
        "weak",
        "--admin",
        "root",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, _, err) = run_cli(t, &args, "246802\n12\n");
    assert!(!ok);
    assert!(err.contains("at least 6 digits"), "{err}");
    // Five digits were enough before; not any more.
    let (ok, _, err) = run_cli(t, &args, "246802\n12345\n");
    assert!(!ok);
    assert!(err.contains("at least 6 digits"), "{err}");

    let (ok, _, err) = run_cli(
        t,
        &[
            "operator",
            "disable",
            "bob",
            "--admin",
            "root",
            "--pin-stdin",
            "--data-dir",
            d,
        ],
        "246802\n",
    );
    assert!(ok, "{err}");
    // Listing operators is an admin's business too.
    let list = [
        "operator",
        "list",
        "--admin",
        "root",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, out, _) = run_cli(t, &list, "246802\n");
    assert!(ok, "{out}");
    assert!(out.contains("bob\tapprover\tdisabled"), "{out}");
    assert!(out.contains("root\tsender,approver,admin\tactive"), "{out}");

    let (ok, out, _) = run_cli(t, &["audit", "verify", "--data-dir", d], "");
    assert!(ok, "{out}");
    assert!(out.contains("operation log intact"), "{out}");
    let (ok, out, _) = run_cli(
        t,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--kind",
            "operator_added",
            "--data-dir",
            d,
        ],
        "",
    );
    assert!(ok);
    assert_eq!(
        out.lines().filter(|l| l.contains("operator_added")).count(),
        2,
        "{out}"
    );
    assert!(!out.contains("246802") && !out.contains("135791"));
}

#[test]
fn audit_verify_command_names_the_broken_entry() {
    if child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 0..3 {
        audit::append(
            &store,
            time::OffsetDateTime::UNIX_EPOCH,
            "a",
            audit::Kind::Edit,
            None,
            serde_json::json!({"i": i}),
        )
        .unwrap();
    }
    let c = rusqlite::Connection::open(store.path()).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET operator = 'b' WHERE id = 2;",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out, _) = run_cli(
        "audit_verify_command_names_the_broken_entry",
        &["audit", "verify", "--data-dir", d],
        "",
    );
    assert!(!ok, "a tampered log must fail verification");
    assert!(
        out.contains("entry 2: content does not match its hash"),
        "{out}"
    );
}

#[test]
fn audit_verify_command_names_forged_rows_and_a_cut_tail() {
    if child() {
        return;
    }
    let t = "audit_verify_command_names_forged_rows_and_a_cut_tail";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out, err) = run_cli(
        t,
        &["operator", "add", "root", "--pin-stdin", "--data-dir", d],
        "246802\n",
    );
    assert!(ok, "{out}{err}");
    let args = [
        "operator",
        "add",
        "bob",
        "--role",
        "approver",
        "--admin",
        "root",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, out, err) = run_cli(t, &args, "246802\n135791\n");
    assert!(ok, "{out}{err}");
    let (ok, out, _) = run_cli(t, &["audit", "verify", "--data-dir", d], "");
    assert!(ok, "{out}");
    assert!(
        out.contains("every security record's seal verifies"),
        "{out}"
    );

    // Another program gives bob the admin role, and cuts the log's last entry together
    // with the database's own head row.
    let c = rusqlite::Connection::open(dir.path().join("mergeguard.sqlite3")).unwrap();
    c.execute_batch(
        "UPDATE operators SET roles = 'approver,admin' WHERE name = 'bob';
         DROP TRIGGER audit_log_no_delete;
         DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log);
         UPDATE audit_head SET id = (SELECT MAX(id) FROM audit_log),
                               hash = (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1);",
    )
    .unwrap();
    drop(c);
    let (ok, out, _) = run_cli(t, &["audit", "verify", "--data-dir", d], "");
    assert!(!ok, "a tampered folder must fail verification:\n{out}");
    assert!(out.contains("entries were cut off the end"), "{out}");
    assert!(
        out.contains("operators \"bob\": changed outside MergeGuard"),
        "{out}"
    );
    // And bob's forged admin role opens nothing.
    let list = [
        "operator",
        "list",
        "--admin",
        "bob",
        "--pin-stdin",
        "--data-dir",
        d,
    ];
    let (ok, _, err) = run_cli(t, &list, "135791\n");
    assert!(!ok);
    assert!(err.contains("changed outside MergeGuard"), "{err}");
}
