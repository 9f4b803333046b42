//! `mergeguard approve --campaign FILE --operator NAME`: the second operator approves a
//! submitted campaign with their own PIN, at the fingerprint of the files as they are now.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mergeguard::approval::{self, FingerprintInput};
use mergeguard::campaign::Campaign;
use time::OffsetDateTime;

use super::operator::{open_store, PinReader};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The campaign file (TOML) to approve, exactly as it is on disk now.
    #[arg(long, value_name = "FILE")]
    pub campaign: PathBuf,
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

/// Builds the fingerprint input from the campaign's current files (sender, templates read
/// from disk, imported and normalised recipients, attachment hashes, relay profile with CA
/// hash, and the pre-flight results).
// TODO(lead): needs recipients::import_path, the compose template loading and a pre-flight
// run (owned by other helpers). Until wired, approval from the CLI refuses with this error.
pub fn fingerprint_input_for_campaign(_campaign: &Campaign) -> Result<FingerprintInput, String> {
    Err(
        "not available yet: building the approval fingerprint from a campaign file needs the \
         compose and pre-flight code"
            .into(),
    )
}

pub fn run(args: ApproveArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: ApproveArgs) -> Result<(), String> {
    let store = open_store(args.data_dir.as_deref())?;
    let campaign = Campaign::load(&args.campaign).map_err(|e| e.to_string())?;
    let input = fingerprint_input_for_campaign(&campaign)?;
    let fingerprint = approval::fingerprint(&input);
    let submission = approval::submission_for_fingerprint(&store, &fingerprint)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no submitted campaign has the fingerprint {}: it was not submitted for \
                 approval, or its files changed since",
                approval::short(&fingerprint)
            )
        })?;

    // The approver sees what they approve before giving the PIN.
    println!("Campaign     {}", submission.campaign_id);
    println!("Fingerprint  {}", submission.short);
    println!("Prepared by  {}", submission.preparer);
    println!(
        "From         {} <{}>",
        input.sender.name, input.sender.address
    );
    println!("Subject      {}", input.subject_template);
    println!("Recipients   {}", input.recipients.len());
    for r in input.recipients.iter().take(3) {
        println!("  e.g.       {}", r.address);
    }
    println!("Attachments  {}", input.attachments.len());
    if let Some(relay) = &input.relay {
        println!(
            "Relay        {}:{} ({})",
            relay.host, relay.port, relay.security
        );
    }
    if submission.warnings.is_empty() {
        println!("Warnings     none");
    } else {
        println!("Warnings to acknowledge (--acknowledge ID):");
        for w in &submission.warnings {
            let mark = if args.acknowledge.contains(w) {
                "acknowledged"
            } else {
                "NOT acknowledged"
            };
            println!("  {w}: {mark}");
        }
    }

    let pin = PinReader::new(args.pin_stdin).read(&format!("PIN of {}: ", args.operator))?;
    let approval = approval::approve(
        &store,
        &submission.campaign_id,
        &fingerprint,
        &args.operator,
        &pin,
        &args.acknowledge,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "approved by {} (prepared by {}); valid until {}",
        approval.approver, approval.preparer, approval.expires_at
    );
    Ok(())
}
