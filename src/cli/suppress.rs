//! `mergeguard suppress add|remove|list`: the addresses that must not be mailed again
//! (unsubscribed, bounced, or an operator's decision). A sender or admin adds; only an
//! admin removes; every change is logged. Bounces from sends are added automatically.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::suppression::{self, Reason};
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct SuppressArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: SuppressCommand,
}

#[derive(Debug, Subcommand)]
pub enum SuppressCommand {
    /// Add addresses: as arguments and/or from a file with one address per line.
    Add {
        addresses: Vec<String>,
        /// A text file, one address per line; blank lines and lines starting with # are
        /// skipped.
        #[arg(long, value_name = "FILE")]
        file: Option<std::path::PathBuf>,
        /// unsubscribed, bounced or manual.
        #[arg(long, default_value = "unsubscribed")]
        reason: String,
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Remove addresses (an admin).
    Remove {
        addresses: Vec<String>,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Print the list.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: SuppressArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(message) => super::fail(message),
    }
}

fn run_inner(args: SuppressArgs) -> Result<ExitCode, String> {
    let store = open_store(args.data_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    match args.command {
        SuppressCommand::Add {
            mut addresses,
            file,
            reason,
            operator,
            pin_stdin,
        } => {
            let reason: Reason = reason.parse()?;
            if let Some(path) = file {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                addresses.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned),
                );
            }
            if addresses.is_empty() {
                return Err("no address given: name them, or use --file FILE".into());
            }
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            let added = suppression::add(&store, &session, &addresses, reason, now)
                .map_err(|e| e.message)?;
            println!(
                "{added} added ({} already listed)",
                addresses.len().saturating_sub(added)
            );
        }
        SuppressCommand::Remove {
            addresses,
            operator,
            pin_stdin,
        } => {
            if addresses.is_empty() {
                return Err("no address given".into());
            }
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            let removed =
                suppression::remove(&store, &session, &addresses, now).map_err(|e| e.message)?;
            println!("{removed} removed");
        }
        SuppressCommand::List { json } => {
            let entries = suppression::list(&store).map_err(|e| e.message)?;
            if json {
                return Ok(super::print_json(&entries));
            }
            for e in &entries {
                println!(
                    "{}\t{}\t{}\t{}",
                    e.address, e.reason, e.added_at, e.added_by
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
