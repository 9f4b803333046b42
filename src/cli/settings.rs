//! `mergeguard settings show|set`: the admin settings kept in the data folder (how long
//! an approval stays valid, after how long an idle session locks). Changes are logged.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::duration_input::{whole, Unit};
use mergeguard::{approval, operators, workflow};
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: SettingsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print the current settings.
    Show,
    /// Change settings (an admin signs in with their PIN).
    Set {
        /// Hours an approval stays valid (default 24).
        #[arg(long, value_name = "HOURS")]
        approval_hours: Option<i64>,
        /// Minutes of inactivity after which the app locks (default 10).
        #[arg(long, value_name = "MINUTES")]
        idle_minutes: Option<i64>,
        /// Internal domains test copies may go to, comma-separated (an empty value
        /// allows only each operator's own address).
        #[arg(long, value_name = "DOMAINS")]
        test_domains: Option<String>,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
}

pub fn run(args: SettingsArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

fn run_inner(args: SettingsArgs) -> Result<(), String> {
    let store = open_store(args.data_dir.as_deref())?;
    if let SettingsCommand::Set {
        approval_hours,
        idle_minutes,
        test_domains,
        operator,
        pin_stdin,
    } = args.command
    {
        if approval_hours.is_none() && idle_minutes.is_none() && test_domains.is_none() {
            return Err(
                "nothing to set: give --approval-hours, --idle-minutes and/or --test-domains"
                    .into(),
            );
        }
        let now = OffsetDateTime::now_utc();
        let session = sign_in(&store, &operator, pin_stdin, now)?;
        if let Some(h) = approval_hours {
            approval::set_validity(&store, &session, whole(h, Unit::Hours), now)
                .map_err(|e| e.to_string())?;
        }
        if let Some(m) = idle_minutes {
            operators::set_idle_timeout(&store, &session, whole(m, Unit::Minutes), now)
                .map_err(|e| e.to_string())?;
        }
        if let Some(d) = test_domains {
            let list: Vec<String> = d
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect();
            workflow::set_test_domains(&store, &session, &list, now).map_err(|e| e.message)?;
        }
    }
    let validity = approval::validity(&store).map_err(|e| e.to_string())?;
    let idle = operators::idle_timeout(&store).map_err(|e| e.to_string())?;
    println!("approval-hours  {}", validity.whole_minutes() as f64 / 60.0);
    println!("idle-minutes    {}", idle.whole_seconds() as f64 / 60.0);
    let domains = workflow::test_domains(&store).map_err(|e| e.message)?;
    println!("test-domains    {}", domains.join(","));
    Ok(())
}
