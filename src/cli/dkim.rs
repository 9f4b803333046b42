//! `mergeguard dkim generate` and `mergeguard domain records`: the sender-domain setup
//! over `mergeguard::domain_setup` — a new DKIM key into the OS keychain, and the DNS
//! records (DKIM, SPF, DMARC) to publish, each with what it is for.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::domain_setup::{self, DomainRecords, DomainSetupRequest, KeyKind};
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

/// What both commands ask about the domain and its relay.
#[derive(Debug, Args)]
pub struct DomainTarget {
    /// The sender's domain, e.g. shop.example.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// The DKIM selector, e.g. mg2026.
    #[arg(long, value_name = "SELECTOR")]
    pub selector: String,
    /// The relay the domain sends through, for the SPF record: microsoft365, google or
    /// other (then give --relay-ip). Without it, no SPF record is suggested.
    #[arg(long, value_name = "PRESET")]
    pub relay_preset: Option<String>,
    /// An address the relay sends from (repeat for several), for --relay-preset other.
    #[arg(long = "relay-ip", value_name = "IP")]
    pub relay_ips: Vec<IpAddr>,
    /// Where DMARC reports go (default postmaster@DOMAIN).
    #[arg(long, value_name = "ADDRESS")]
    pub report_to: Option<String>,
    /// Print the records as JSON.
    #[arg(long)]
    pub json: bool,
}

impl DomainTarget {
    fn request(&self, key: Option<KeyKind>, replace: bool) -> DomainSetupRequest {
        DomainSetupRequest {
            domain: self.domain.clone(),
            selector: self.selector.clone(),
            key,
            provider: self.relay_preset.clone().unwrap_or_default(),
            relay_ips: self.relay_ips.clone(),
            report_to: self.report_to.clone(),
            replace,
        }
    }
}

#[derive(Debug, Args)]
pub struct DkimArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: DkimCommand,
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Generate a DKIM key (RSA-2048, or Ed25519), store it in the OS keychain and print
    /// the DNS records to publish. Campaigns then use `[dkim] selector = "..."`,
    /// `keychain = true`.
    Generate {
        #[command(flatten)]
        target: DomainTarget,
        /// An Ed25519 key instead of RSA-2048. Not every receiver verifies Ed25519.
        #[arg(long)]
        ed25519: bool,
        /// Replace a key already stored under this selector.
        #[arg(long)]
        replace: bool,
        /// The admin who generates it.
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the operator's PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct DomainArgs {
    #[command(subcommand)]
    pub command: DomainCommand,
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Print the DNS records to publish for a key already in the keychain.
    Records {
        #[command(flatten)]
        target: DomainTarget,
    },
}

pub fn run_dkim(args: DkimArgs) -> ExitCode {
    let DkimCommand::Generate {
        target,
        ed25519,
        replace,
        operator,
        pin_stdin,
    } = args.command;
    let result = (|| -> Result<DomainRecords, String> {
        let request = target.request(
            Some(if ed25519 {
                KeyKind::Ed25519
            } else {
                KeyKind::Rsa2048
            }),
            replace,
        );
        let store = open_store(args.data_dir.as_deref())?;
        let now = OffsetDateTime::now_utc();
        let session = sign_in(&store, &operator, pin_stdin, now)?;
        domain_setup::set_up_domain(&store, &session, &request, now).map_err(|e| e.to_string())
    })();
    match result {
        Ok(records) => print_records(&records, target.json, true),
        Err(message) => super::fail(message),
    }
}

pub fn run_domain(args: DomainArgs) -> ExitCode {
    let DomainCommand::Records { target } = args.command;
    match domain_setup::domain_records(&target.request(None, false)) {
        Ok(records) => print_records(&records, target.json, false),
        Err(e) => super::fail(e),
    }
}

fn print_records(r: &DomainRecords, json: bool, generated: bool) -> ExitCode {
    if json {
        return super::print_json(r);
    }
    if generated {
        println!(
            "A new {} DKIM key for {}._domainkey.{} is stored in the OS keychain.",
            match r.key {
                KeyKind::Rsa2048 => "RSA-2048",
                KeyKind::Ed25519 => "Ed25519",
            },
            r.selector,
            r.domain
        );
        println!(
            "Campaigns sign with it through [dkim] selector = \"{}\" and keychain = true.\n",
            r.selector
        );
    }
    println!("Publish these DNS records for {} (type TXT):", r.domain);
    for (i, rec) in r.records.iter().enumerate() {
        println!();
        println!(
            "{}. {} record",
            i + 1,
            format!("{:?}", rec.kind).to_uppercase()
        );
        println!("   Name:  {}", rec.name);
        println!("   Value: {}", rec.value);
        println!("   What it is for: {}", rec.purpose);
        if let Some(note) = &rec.note {
            println!("   Note: {note}");
        }
        println!("   Zone-file line: {}", rec.zone_line);
    }
    if !r
        .records
        .iter()
        .any(|x| x.kind == domain_setup::RecordKind::Spf)
    {
        println!("\nNo SPF record suggested: add --relay-preset microsoft365|google|other (with --relay-ip) to get one.");
    }
    ExitCode::SUCCESS
}
