//! `mergeguard send --campaign FILE --operator NAME`: sends an approved campaign (same
//! approval rule as the app: `workflow::send` refuses without a valid approval for the
//! files as they are now), resumes an interrupted one, writes the report, or requeues
//! `unknown` rows on an explicit decision.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mergeguard::send::{self, Control, RatePreset, SendOptions};
use mergeguard::workflow::{self, SendRequest};
use time::OffsetDateTime;

use super::flow::{print_summary, CampaignArgs};
use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub campaign: CampaignArgs,
    /// The operator who starts the send (signs in with their PIN).
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Read the PIN from standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,
    /// Parallel relay connections.
    #[arg(long, default_value_t = 2)]
    pub parallel: usize,
    /// Rate preset: google-workspace, microsoft365 or generic (no limit).
    #[arg(long, default_value = "generic")]
    pub rate: String,
    /// Maximum messages per second (on top of the preset).
    #[arg(long, value_name = "N")]
    pub per_second: Option<u32>,
    /// Write the per-recipient report as CSV to this file (after sending, or alone with
    /// --report-only).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Only write the report; send nothing.
    #[arg(long)]
    pub report_only: bool,
    /// Put these `unknown` rows back in the queue (they MAY then receive the message twice).
    #[arg(long, value_delimiter = ',', value_name = "ROW")]
    pub requeue_unknown: Vec<u64>,
    /// Confirms that you accept the duplicate risk of --requeue-unknown.
    #[arg(long)]
    pub accept_duplicate_risk: bool,
}

pub fn run(args: SendArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(message) => super::fail(message),
    }
}

fn preset(name: &str) -> Result<RatePreset, String> {
    name.parse()
}

fn write_report(
    store: &mergeguard::store::Store,
    campaign_id: &str,
    path: &PathBuf,
) -> Result<(), String> {
    let rows = workflow::report(store, campaign_id).map_err(|e| e.message)?;
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    send::write_report_csv(&rows, file)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "report of {} recipient(s) written to {}",
        rows.len(),
        path.display()
    );
    Ok(())
}

fn run_inner(args: SendArgs) -> Result<ExitCode, String> {
    let store = open_store(args.campaign.data_dir.as_deref())?;
    let mut rate = preset(&args.rate)?.limit();
    if let Some(n) = args.per_second {
        rate.per_second = Some(n);
    }
    let operator_name = args
        .operator
        .clone()
        .ok_or("name the operator who sends with --operator NAME")?;
    let session = sign_in(
        &store,
        &operator_name,
        args.pin_stdin,
        OffsetDateTime::now_utc(),
    )?;
    let prepared = args.campaign.prepare(&store)?;
    workflow::log_check_run(
        &store,
        session.operator(),
        &prepared,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| e.message)?;

    if !args.requeue_unknown.is_empty() {
        if !args.accept_duplicate_risk {
            return Err(
                "rows in 'unknown' may already have been delivered; requeueing can \
                        send them twice. Add --accept-duplicate-risk to go ahead"
                    .into(),
            );
        }
        let n = workflow::requeue_unknown(
            &store,
            &prepared.campaign_id,
            &args.requeue_unknown,
            session.operator(),
        )
        .map_err(|e| e.message)?;
        println!("{n} row(s) requeued; they may receive the message twice");
    }
    if args.report_only {
        let path = args
            .report
            .as_ref()
            .ok_or("--report-only needs --report FILE")?;
        write_report(&store, &prepared.campaign_id, path)?;
        return Ok(ExitCode::SUCCESS);
    }

    print_summary(&prepared);
    let (_control_tx, control) = tokio::sync::watch::channel(Control::Run);
    let options = SendOptions {
        parallel: args.parallel.max(1),
        rate,
        ..SendOptions::default()
    };
    let request = SendRequest {
        operator: session.operator().to_owned(),
        password: None,
        options,
    };
    let last_line = std::sync::Mutex::new(std::time::Instant::now());
    let summary = workflow::send(&store, &prepared, request, control, &|p| {
        let mut last = last_line.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= std::time::Duration::from_secs(2) {
            *last = std::time::Instant::now();
            eprintln!(
                "sent {} failed {} remaining {} ({:.1}/s)",
                p.sent, p.failed, p.remaining, p.rate_per_sec
            );
        }
    })
    .map_err(|e| e.message)?;
    let c = summary.counts;
    println!(
        "sent {} failed {} deferred {} unknown {} queued {}",
        c.sent, c.failed, c.deferred, c.unknown, c.queued
    );
    if summary.recovered_unknown > 0 {
        println!(
            "{} message(s) were interrupted by an earlier crash and are marked unknown: they \
             may or may not have been delivered. Decide per row with --requeue-unknown.",
            summary.recovered_unknown
        );
    }
    if let Some(path) = &args.report {
        write_report(&store, &prepared.campaign_id, path)?;
    }
    let clean = c.failed == 0 && c.unknown == 0 && c.deferred == 0 && c.queued == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_PARTIAL)
    })
}
