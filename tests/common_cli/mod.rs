//! Running the `mergeguard` binary from integration tests: one helper instead of a
//! copy per test file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary on the data folder `data` with `stdin` as its standard input
/// (PINs and passwords are read from there, never from the arguments).
pub fn mg(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mergeguard"))
        .args(args)
        .env("MERGEGUARD_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mergeguard");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
