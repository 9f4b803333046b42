//! `mergeguard send`: the command-line face of the sending engine.
//!
//! TODO(lead): this file is not compiled in the `send` branch (no `src/cli/mod.rs`
//! here). Wiring left to the lead: load the campaign file, build a `Composer`, call
//! `approval::require_approval(...)` BEFORE `send_campaign`, pass an `ApprovalGate`
//! that re-checks the fingerprint, read the SMTP password from the keychain, append
//! outcomes to the audit log. What works without those seams: `--report` and
//! `--requeue-unknown` on an existing state database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use mergeguard::send::state;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The campaign file (TOML).
    #[arg(long)]
    pub campaign: PathBuf,
    /// The local state database.
    #[arg(long)]
    pub db: PathBuf,
    /// Campaign id whose delivery state to use.
    #[arg(long)]
    pub campaign_id: String,
    /// Write the per-recipient report as CSV to this file and exit.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Put these `unknown` rows back in the queue (they MAY then receive the message twice).
    #[arg(long, value_delimiter = ',')]
    pub requeue_unknown: Vec<u64>,
    /// Confirms that you accept the duplicate risk of --requeue-unknown.
    #[arg(long)]
    pub accept_duplicate_risk: bool,
}

pub fn run(args: SendArgs) -> ExitCode {
    let conn = match rusqlite::Connection::open(&args.db).and_then(|c| state::migrate(&c).map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot open the state database {}: {e}", args.db.display());
            return ExitCode::from(2);
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    if !args.requeue_unknown.is_empty() {
        if !args.accept_duplicate_risk {
            eprintln!("error: rows in 'unknown' may already have been delivered; requeueing can send them twice. Add --accept-duplicate-risk to go ahead.");
            return ExitCode::from(2);
        }
        match state::requeue_unknown(&conn, &args.campaign_id, &args.requeue_unknown, now) {
            Ok(n) => println!("{n} row(s) requeued; they may receive the message twice"),
            Err(e) => {
                eprintln!("error: the local database failed: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if let Some(path) = &args.report {
        let rows = match state::report(&conn, &args.campaign_id) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: the local database failed: {e}");
                return ExitCode::from(1);
            }
        };
        let written = std::fs::File::create(path).map_err(|e| e.to_string()).and_then(|f| state::write_report_csv(&rows, f).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("report of {} recipient(s) written to {}", rows.len(), path.display());
        return ExitCode::SUCCESS;
    }
    let _ = &args.campaign;
    eprintln!("error: sending from the command line is not wired yet (compose + approval); see TODO(lead) in src/cli/send.rs");
    ExitCode::from(2)
}
