//! `mergeguard dmarc-report import FILE… [--json]` and `mergeguard dmarc-report summary`:
//! DMARC aggregate reports read from files (xml, xml.gz or zip) into the store, and the
//! per-source summary the "Domain reports" screen shows.
//!
//! Every file is parsed before anything is stored, so one malformed file (exit 2, one
//! line) stores nothing at all. Importing needs a signed-in operator (`--operator NAME`,
//! any role, as in the window), whom the log names; a wrong PIN stores nothing.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::dmarc_report::{self, AggregateReport};
use serde::Serialize;
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct DmarcReportArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: DmarcReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum DmarcReportCommand {
    /// Import report files (RFC 7489 aggregate reports: .xml, .xml.gz or .zip); any
    /// operator, named in the log.
    Import {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Per-source pass rates and warnings over the stored reports.
    Summary {
        /// An address of your own relay (repeatable): its failures are named as yours.
        #[arg(long = "relay-ip", value_name = "IP")]
        relay_ips: Vec<std::net::IpAddr>,
        /// The DNS server (IP:PORT) that names the sources (reverse DNS); the system's
        /// by default. Names are looked up within a few seconds, or left out.
        #[arg(long, value_name = "IP:PORT")]
        dns: Option<std::net::SocketAddr>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Imported<'a> {
    reports: &'a [AggregateReport],
}

pub fn run(args: DmarcReportArgs) -> ExitCode {
    match args.command {
        DmarcReportCommand::Import {
            files,
            operator,
            pin_stdin,
            json,
        } => {
            // Parse all first: a malformed file anywhere stores nothing (and makes no
            // data folder, asks for no PIN).
            let paths: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
            let parsed = match dmarc_report::read_reports(&paths) {
                Ok(r) => r,
                Err((f, e)) => return super::fail(format_args!("{}: {e}", f.display())),
            };
            let store = match open_store(args.data_dir.as_deref()) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            let now = OffsetDateTime::now_utc();
            // A wrong PIN stores nothing.
            let session = match sign_in(&store, &operator, pin_stdin, now) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            let new = match dmarc_report::store_reports_by(&store, &session, &parsed, now) {
                Ok(n) => n,
                Err(e) => return super::fail(e),
            };
            if json {
                super::print_json(&Imported { reports: &parsed })
            } else {
                for r in &parsed {
                    let messages: u64 = r.records.iter().map(|x| u64::from(x.count)).sum();
                    println!(
                        "{} report {} for {}: {} sources, {} messages",
                        r.org,
                        r.report_id,
                        r.domain,
                        r.records.len(),
                        messages
                    );
                }
                println!(
                    "{new} new report(s) stored, {} already known",
                    parsed.len() - new
                );
                ExitCode::SUCCESS
            }
        }
        DmarcReportCommand::Summary {
            relay_ips,
            dns,
            json,
        } => {
            let store = match open_store(args.data_dir.as_deref()) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return super::fail(e),
            };
            let summary = match rt.block_on(dmarc_report::summarize_with_names(
                &store,
                None,
                None,
                &relay_ips,
                &super::check::resolver(dns),
                &Default::default(),
            )) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            if json {
                return super::print_json(&summary);
            }
            println!("{} report(s)", summary.reports);
            for s in &summary.sources {
                let name = s
                    .ptr
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                println!(
                    "{} {}{name}: {} messages, SPF {:.0}%, DKIM {:.0}%, DMARC {:.0}%",
                    s.domain,
                    s.source_ip,
                    s.messages,
                    s.spf_pass * 100.0,
                    s.dkim_pass * 100.0,
                    s.dmarc_pass * 100.0
                );
            }
            for w in &summary.warnings {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
    }
}
