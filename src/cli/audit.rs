//! `mergeguard audit verify|export`: check the operation log's hash chain and export it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use mergeguard::audit::{self, Filter, Kind};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::operator::open_store;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the keyed hash chain, its head file and the seal of every security row;
    /// exit 1 and name each broken entry or row if the data folder was tampered with.
    Verify,
    /// Export the log (or the entries matching the filters) to standard output or a file.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        /// Entry kinds, comma-separated (e.g. login_failed,lockout).
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// From this time (RFC 3339, inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Until this time (RFC 3339, exclusive).
        #[arg(long)]
        until: Option<String>,
    },
}

pub fn run(args: AuditArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn time_arg(s: Option<String>) -> Result<Option<OffsetDateTime>, String> {
    s.map(|s| {
        OffsetDateTime::parse(&s, &Rfc3339)
            .map_err(|_| format!("{s:?} is not a time like 2026-11-28T09:00:00Z"))
    })
    .transpose()
}

fn run_inner(args: AuditArgs) -> Result<ExitCode, String> {
    let store = open_store(args.data_dir.as_deref())?;
    match args.command {
        AuditCommand::Verify => {
            let v = audit::verify(&store).map_err(|e| e.to_string())?;
            if v.is_intact() {
                println!(
                    "operation log intact: {} entries; every security record's seal verifies",
                    v.entries
                );
                return Ok(ExitCode::SUCCESS);
            }
            if v.breaks.is_empty() {
                println!("operation log intact: {} entries", v.entries);
            } else {
                println!("operation log BROKEN ({} entries checked):", v.entries);
            }
            for b in &v.breaks {
                let why = match &b.reason {
                    audit::BreakReason::Edited => "content does not match its hash (edited)".to_owned(),
                    audit::BreakReason::Gap { expected } => {
                        format!("expected entry {expected} here (entries removed or reordered)")
                    }
                    audit::BreakReason::LinkBroken => {
                        "does not link to the entry before it (inserted, removed or moved)".to_owned()
                    }
                    audit::BreakReason::HeadMismatch { head_id } => format!(
                        "the last entry is not the recorded chain head ({}): entries cut off or added",
                        head_id.map(|h| h.to_string()).unwrap_or_else(|| "none".into())
                    ),
                    audit::BreakReason::TailCut { head_file_id } => format!(
                        "the head file outside the database names entry {head_file_id}, which the log does not hold as written: entries were cut off the end"
                    ),
                    audit::BreakReason::HeadFileMissing => {
                        "the head file outside the database is missing: the end of the log cannot be confirmed".to_owned()
                    }
                    audit::BreakReason::HeadFileForged => {
                        "the head file outside the database was not written by MergeGuard (its seal does not match)".to_owned()
                    }
                };
                println!("  entry {}: {why}", b.id);
            }
            if !v.rows.is_empty() {
                println!("security records BROKEN ({}):", v.rows.len());
                for r in &v.rows {
                    let why = if r.reason == "unsealed" {
                        "not written by MergeGuard (no seal)"
                    } else {
                        "changed outside MergeGuard (seal does not match)"
                    };
                    println!("  {} {:?}: {why}", r.table, r.row);
                }
            }
            Ok(ExitCode::FAILURE)
        }
        AuditCommand::Export {
            format,
            output,
            operator,
            campaign,
            kind,
            from,
            until,
        } => {
            let kinds = kind
                .iter()
                .map(|k| Kind::parse(k.trim()).ok_or_else(|| format!("unknown entry kind {k:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            let filter = Filter {
                operator,
                campaign,
                kinds,
                from: time_arg(from)?,
                until: time_arg(until)?,
            };
            let out: Box<dyn std::io::Write> = match &output {
                Some(p) => Box::new(
                    std::fs::File::create(p)
                        .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let out = std::io::BufWriter::new(out);
            let n = match format {
                Format::Csv => audit::export_csv(&store, &filter, out),
                Format::Json => audit::export_json(&store, &filter, out),
            }
            .map_err(|e| e.to_string())?;
            if output.is_some() {
                eprintln!("exported {n} entries");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
