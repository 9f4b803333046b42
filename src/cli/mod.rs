//! Subcommands of the `mergeguard` binary and what they share: exit codes and the
//! one-line error printed when the input cannot be used.

use std::process::ExitCode;

pub mod approve;
pub mod audit;
pub mod check;
pub mod credential;
pub mod dkim;
pub mod dmarc_report;
pub mod flow;
pub mod import;
pub mod mailbox;
pub mod oauth;
pub mod operator;
pub mod preview;
pub mod relay;
pub mod send;
pub mod settings;
pub mod submit;
pub mod suppress;
pub mod test_send;

/// The input was read, but some of it failed (exit 1).
pub const EXIT_PARTIAL: u8 = 1;
/// The input could not be used at all (exit 2).
pub const EXIT_UNUSABLE: u8 = 2;

/// Prints `error: ...` on one line to stderr and returns exit code 2.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    let one_line = message.to_string().replace(['\r', '\n'], " ");
    eprintln!("error: {one_line}");
    ExitCode::from(EXIT_UNUSABLE)
}

/// Writes `value` as JSON to stdout with a trailing newline.
pub fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let ok = serde_json::to_writer(&mut out, value).is_ok() && writeln!(out).is_ok();
    if ok {
        ExitCode::SUCCESS
    } else {
        // A closed pipe (e.g. `| head`) is not worth a panic.
        ExitCode::from(EXIT_UNUSABLE)
    }
}
