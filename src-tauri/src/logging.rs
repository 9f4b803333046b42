//! The diagnostics file: `tracing` events of the core and of this shell go to
//! `logs/mergeguard.YYYY-MM-DD.log` in the data folder, rotated daily, the last
//! [`KEEP_DAYS`] kept. It is for support, not the record: the operation log is the record.
//!
//! What is written: event names, error codes, reason keys, counts, campaign ids. What is
//! never written: PINs, passwords, tokens, addresses, message text — every event here and
//! in the core is written with that rule (a command refusal logs its code and reason key
//! only, never its message, which may name a file or an address).

use std::path::Path;

use tracing_subscriber::fmt::time::UtcTime;

/// How many daily files are kept.
pub const KEEP_DAYS: usize = 14;

/// The file name prefix inside `logs/`.
pub const PREFIX: &str = "mergeguard";

/// Installs the subscriber writing into `dir` (created 0700 like the data folder). Errors
/// are returned, not fatal: the app runs without a diagnostics file rather than not at all.
pub fn init(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix("log")
        .max_log_files(KEEP_DAYS)
        .build(dir)
        .map_err(|e| e.to_string())?;
    tracing_subscriber::fmt()
        .with_writer(appender)
        .with_ansi(false)
        .with_timer(UtcTime::rfc_3339())
        .with_max_level(tracing::Level::INFO)
        .try_init()
        .map_err(|e| e.to_string())?;
    // A panic is an error nobody would see otherwise: record where it happened (the
    // payload could hold data, so only its location), then let the default hook run.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at, "a panic stopped a task");
        previous(info);
    }));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "MergeGuard started");
    Ok(())
}
