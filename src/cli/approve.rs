//! `mergeguard approve --campaign FILE --operator NAME`: the second operator approves a
//! submitted campaign with their own PIN, at the fingerprint of the files as they are now
//! (the checklist runs again, so an edit since submission is refused).

use std::process::ExitCode;

use clap::Args;
use mergeguard::workflow;
use time::OffsetDateTime;

use super::flow::{print_summary, CampaignArgs};
use super::operator::{open_store, PinReader};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub campaign: CampaignArgs,
    /// The approving operator (must differ from the one who prepared the campaign).
    #[arg(long, value_name = "NAME")]
    pub operator: String,
    /// Acknowledge a pre-flight warning by its id; repeat or comma-separate. Every
    /// warning shown must be acknowledged.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub acknowledge: Vec<String>,
    /// Read the PIN from standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,
}

pub fn run(args: ApproveArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

fn run_inner(args: ApproveArgs) -> Result<(), String> {
    let store = open_store(args.campaign.data_dir.as_deref())?;
    let prepared = args.campaign.prepare(&store)?;
    // The approver sees what they approve before giving the PIN.
    print_summary(&prepared);
    let warnings = prepared.warnings();
    if !warnings.is_empty() {
        println!("Warnings to acknowledge (--acknowledge ID):");
        for w in &warnings {
            let mark = if args.acknowledge.contains(w) {
                "acknowledged"
            } else {
                "NOT acknowledged"
            };
            println!("  {w}: {mark}");
        }
    }
    let pin = PinReader::new(args.pin_stdin).read(&format!("PIN of {}: ", args.operator))?;
    let approval = workflow::approve(
        &store,
        &prepared,
        &args.operator,
        &pin,
        &args.acknowledge,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| e.message)?;
    // The approver's run of the checklist, logged once they have proved who they are.
    workflow::log_check_run(
        &store,
        &approval.approver,
        &prepared,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| e.message)?;
    println!(
        "approved by {} (prepared by {}); fingerprint {}; valid until {}",
        approval.approver,
        approval.preparer,
        prepared.short(),
        approval.expires_at
    );
    Ok(())
}
