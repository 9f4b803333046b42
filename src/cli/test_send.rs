//! `mergeguard test-send --campaign FILE --operator NAME --to ADDRESS [--row N]`: one copy
//! of a recipient's message, "[TEST]" in the subject, to the operator's own recorded
//! mailbox (`operator set-email`) or an admin's internal domain (`settings set
//! --test-domains`), through the campaign's real relay. Needs no approval; logged.

use std::process::ExitCode;

use clap::Args;
use mergeguard::workflow;
use time::OffsetDateTime;

use super::flow::CampaignArgs;
use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct TestSendArgs {
    #[command(flatten)]
    pub campaign: CampaignArgs,
    /// The operator (sender role) who sends the test.
    #[arg(long, value_name = "NAME")]
    pub operator: String,
    /// Your own recorded address, or an address at an internal domain an admin allowed.
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// The recipient row whose message is copied (default: the first recipient).
    #[arg(long, value_name = "N")]
    pub row: Option<u64>,
    /// Read the PIN from standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,
}

pub fn run(args: TestSendArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

fn run_inner(args: TestSendArgs) -> Result<(), String> {
    let store = open_store(args.campaign.data_dir.as_deref())?;
    let session = sign_in(
        &store,
        &args.operator,
        args.pin_stdin,
        OffsetDateTime::now_utc(),
    )?;
    let prepared = args.campaign.prepare(&store)?;
    let row = match args.row {
        Some(r) => r,
        None => prepared
            .recipients
            .recipients
            .first()
            .map(|r| r.row)
            .ok_or("the campaign has no recipients")?,
    };
    let sent = workflow::test_send(&store, &prepared, &session, row, &args.to, None)
        .map_err(|e| e.message)?;
    println!(
        "test copy of row {} sent to {}: {} ({})",
        sent.row, sent.to, sent.reply, sent.message_id
    );
    Ok(())
}
