//! The `mergeguard` command line: a thin entry over the core for scripts and checks.
//!
//! Each subcommand lives in `src/cli/<name>.rs` as a clap `Args` struct and a
//! `pub fn run(args) -> ExitCode`; adding one means one module and one enum variant here.
//! Exit codes: 0 success, 1 the input was read but something in it failed (for example
//! a recipient that cannot be rendered), 2 the input could not be used at all.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "mergeguard",
    version,
    about = "Mail merge that cannot mis-send: the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a recipient CSV and list recipients and rejected rows.
    Import(cli::import::ImportArgs),
    /// Render every personalised message of a campaign file exactly as it will be sent.
    Preview(cli::preview::PreviewArgs),
    /// Check a sender domain's SPF, DKIM and DMARC (and a relay's TLS) and print the report.
    CheckDomain(cli::check::CheckDomainArgs),
    /// Run the whole pre-flight checklist of a campaign file.
    Preflight(cli::check::PreflightArgs),
    /// Operator accounts: add, list, disable.
    Operator(cli::operator::OperatorArgs),
    /// Submit a campaign for approval: runs the checklist and freezes its fingerprint.
    Submit(cli::submit::SubmitArgs),
    /// Approve a submitted campaign as the second operator (PIN required).
    Approve(cli::approve::ApproveArgs),
    /// The tamper-evident operation log: verify the hash chain, export.
    Audit(cli::audit::AuditArgs),
    /// Send an approved campaign (or resume it), write its report, requeue unknown rows.
    Send(cli::send::SendArgs),
    /// Admin settings: approval validity, idle lock time.
    Settings(cli::settings::SettingsArgs),
    /// Addresses never to mail again (unsubscribed, bounced): add, remove, list.
    Suppress(cli::suppress::SuppressArgs),
    /// One copy of a message to your own mailbox through the real relay (no approval).
    TestSend(cli::test_send::TestSendArgs),
    /// Store or remove a relay password in the OS keychain.
    Credential(cli::credential::CredentialArgs),
    /// Relay profiles: add, list, remove, test the connection.
    Relay(cli::relay::RelayArgs),
    /// DMARC aggregate reports: import report files, summarise the stored ones.
    DmarcReport(cli::dmarc_report::DmarcReportArgs),
    /// The IMAP mailbox of a relay profile: set it, and read what came back.
    Mailbox(cli::mailbox::MailboxArgs),
    /// OAuth2 sign-in (Microsoft 365, Google) for a relay profile.
    Oauth(cli::oauth::OauthArgs),
    /// Generate a DKIM key into the OS keychain and print the DNS records to publish.
    Dkim(cli::dkim::DkimArgs),
    /// The DNS records (DKIM, SPF, DMARC) to publish for a sender domain.
    Domain(cli::dkim::DomainArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version requests are not errors.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Import(args) => cli::import::run(args),
        Command::Preview(args) => cli::preview::run(args),
        Command::CheckDomain(args) => cli::check::run_check_domain(args),
        Command::Preflight(args) => cli::check::run_preflight(args),
        Command::Operator(args) => cli::operator::run(args),
        Command::Submit(args) => cli::submit::run(args),
        Command::Approve(args) => cli::approve::run(args),
        Command::Credential(args) => cli::credential::run(args),
        Command::Settings(args) => cli::settings::run(args),
        Command::Suppress(args) => cli::suppress::run(args),
        Command::TestSend(args) => cli::test_send::run(args),
        Command::Audit(args) => cli::audit::run(args),
        Command::Send(args) => cli::send::run(args),
        Command::Relay(args) => cli::relay::run(args),
        Command::DmarcReport(args) => cli::dmarc_report::run(args),
        Command::Mailbox(args) => cli::mailbox::run(args),
        Command::Oauth(args) => cli::oauth::run(args),
        Command::Dkim(args) => cli::dkim::run_dkim(args),
        Command::Domain(args) => cli::dkim::run_domain(args),
    }
}
