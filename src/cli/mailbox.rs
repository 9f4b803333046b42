//! `mergeguard mailbox set|sync`: the IMAP mailbox a relay profile reads, and "Check the
//! mailbox" (unsubscribes, bounces and DMARC reports that came back).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::mailbox::{self, MailboxInput, SyncOptions};
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct MailboxArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: MailboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Name the IMAP mailbox a relay profile reads (an admin); --clear removes it.
    Set {
        #[arg(long, value_name = "NAME")]
        profile: String,
        #[arg(long, required_unless_present = "clear")]
        host: Option<String>,
        #[arg(long)]
        port: Option<u32>,
        /// tls (IMAPS, default) or starttls.
        #[arg(long, default_value = "tls")]
        security: String,
        #[arg(long, default_value = "INBOX")]
        folder: String,
        #[arg(long)]
        clear: bool,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Read the new messages of the profile's mailbox and act on them (a sender or an
    /// admin: unsubscribes and bounces go on the suppression list).
    Sync {
        #[arg(long, value_name = "NAME")]
        profile: String,
        #[arg(long, value_name = "SENDER_OR_ADMIN")]
        operator: String,
        /// Read the PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
        /// Soft bounces of one address before it is suppressed.
        #[arg(long, default_value_t = 3)]
        soft_bounce_limit: u32,
        /// Messages per transaction.
        #[arg(long, default_value_t = 500, hide = true)]
        chunk: u32,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: MailboxArgs) -> ExitCode {
    let store = match open_store(args.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let now = OffsetDateTime::now_utc();
    match args.command {
        MailboxCommand::Set {
            profile,
            host,
            port,
            security,
            folder,
            clear,
            operator,
            pin_stdin,
        } => {
            let session = match sign_in(&store, &operator, pin_stdin, now) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            let input = MailboxInput {
                host: host.unwrap_or_default(),
                port,
                security,
                folder,
            };
            let input = (!clear).then_some(&input);
            match mailbox::set_settings(&store, &session, &profile, input, now) {
                Ok(Some(s)) => {
                    println!(
                        "{profile} reads {} at {}:{} ({:?})",
                        s.folder, s.host, s.port, s.security
                    );
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    println!("{profile} reads no mailbox");
                    ExitCode::SUCCESS
                }
                Err(e) => super::fail(e),
            }
        }
        MailboxCommand::Sync {
            profile,
            operator,
            pin_stdin,
            soft_bounce_limit,
            chunk,
            json,
        } => {
            // Signed in first: a wrong PIN reads nothing.
            let session = match sign_in(&store, &operator, pin_stdin, now) {
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
            let options = SyncOptions {
                soft_bounce_limit,
                chunk,
                ..SyncOptions::default()
            };
            match rt.block_on(mailbox::check_mailbox(
                &store, &session, &profile, &options, now,
            )) {
                Ok(r) if json => super::print_json(&r),
                Ok(r) => {
                    println!(
                        "{} new message(s) in {}: {} unsubscribed ({} repeated, {} refused), {} hard and {} soft bounce(s) ({} unmatched), {} newly suppressed, {} DMARC report(s) stored ({} refused), {} left alone",
                        r.read, r.folder, r.unsubscribed, r.unsubscribe_repeated, r.unsubscribe_refused,
                        r.hard_bounces, r.soft_bounces, r.bounces_unmatched, r.suppressed,
                        r.dmarc_reports, r.dmarc_refused, r.untouched
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => super::fail(e),
            }
        }
    }
}
