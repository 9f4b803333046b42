//! `mergeguard submit --campaign FILE --operator NAME`: the preparer freezes a campaign
//! for approval. Runs the whole checklist; a failing check refuses the submission.

use std::process::ExitCode;

use clap::Args;
use mergeguard::workflow;
use time::OffsetDateTime;

use super::flow::{print_summary, CampaignArgs};
use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub campaign: CampaignArgs,
    /// The preparing operator (sender role).
    #[arg(long, value_name = "NAME")]
    pub operator: String,
    /// Read the PIN from standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,
}

pub fn run(args: SubmitArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

fn run_inner(args: SubmitArgs) -> Result<(), String> {
    let store = open_store(args.campaign.data_dir.as_deref())?;
    let session = sign_in(
        &store,
        &args.operator,
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
    print_summary(&prepared);
    let submission = workflow::submit(&store, &prepared, &session, OffsetDateTime::now_utc())
        .map_err(|e| e.message)?;
    println!(
        "submitted by {}; fingerprint {}. A different operator with the approver role \
         approves it with: mergeguard approve --campaign {} --operator NAME",
        submission.preparer,
        submission.short,
        args.campaign.campaign.display()
    );
    if !submission.warnings.is_empty() {
        println!(
            "warnings the approver must acknowledge: {}",
            submission.warnings.join(",")
        );
    }
    Ok(())
}
