//! What `submit`, `approve` and `send` share: the campaign file and the checklist
//! options, the signed-in operator, and one call to `workflow::prepare`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use mergeguard::preflight::campaign::{options_for, CheckOptions};
use mergeguard::preflight::Status;
use mergeguard::store::Store;
use mergeguard::workflow::{self, Prepared};

use super::check::{resolver, runtime};

/// The campaign and how to check it; the same values must be given to `submit`,
/// `approve` and `send`, or the checklist (and so the fingerprint) differs.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The campaign file (TOML), exactly as it is on disk now.
    #[arg(long, value_name = "FILE")]
    pub campaign: PathBuf,
    /// DNS server IP:PORT to ask instead of the system resolver.
    #[arg(long, value_name = "IP:PORT")]
    pub dns: Option<SocketAddr>,
    /// PEM file of a company CA to trust for the relay (overrides [relay] ca).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

impl CampaignArgs {
    /// The checklist options, with the relay password from the OS keychain (if stored)
    /// and the store's suppression list.
    pub fn options(&self, store: &Store) -> Result<CheckOptions, String> {
        options_for(store, &self.campaign, resolver(self.dns), self.ca.clone())
            .map_err(|e| e.message)
    }

    /// Runs the checklist over the campaign's files and computes the fingerprint.
    pub fn prepare(&self, store: &Store) -> Result<Prepared, String> {
        let options = self.options(store)?;
        runtime()
            .block_on(workflow::prepare(
                &self.campaign,
                &options,
                SystemTime::now(),
                &|_, _| {},
            ))
            .map_err(|e| e.message)
    }
}

/// Prints what the people deciding see: the campaign, its fingerprint and its checks.
pub fn print_summary(p: &Prepared) {
    println!("Campaign     {}", p.campaign_id);
    println!("Fingerprint  {}", p.short());
    println!(
        "From         {} <{}>",
        p.input.sender.name, p.input.sender.address
    );
    println!("Subject      {}", p.input.subject_template);
    println!("Recipients   {}", p.recipients.recipients.len());
    let rejected = &p.recipients.rejected;
    if !rejected.is_empty() {
        // Rows left out, by reason: "suppressed" are people who must not be mailed.
        let mut by_reason = std::collections::BTreeMap::<String, usize>::new();
        for r in rejected {
            let reason = serde_json::to_value(r.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *by_reason.entry(reason).or_default() += 1;
        }
        let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!("Left out     {} ({})", rejected.len(), reasons.join(", "));
    }
    for m in &p.samples {
        println!("  e.g.       {}  \"{}\"", m.to, m.subject);
    }
    println!("Attachments  {}", p.input.attachments.len());
    println!("Destination  {}", p.destination());
    for c in p.report.checks.iter().filter(|c| c.status != Status::Pass) {
        let mark = match c.status {
            Status::Fail => "FAIL",
            Status::Skipped => "SKIP",
            _ => "WARN",
        };
        println!("{mark}         {}: {}", c.id, c.detail);
    }
}
