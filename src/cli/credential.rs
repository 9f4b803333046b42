//! `mergeguard credential set|remove --relay HOST:PORT --user USER --operator NAME`: the
//! relay password goes to the OS keychain only (never a file, the database or the log);
//! the operator who stores or removes it signs in and the change is logged.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::operators::{self, Role};
use mergeguard::secrets::{self, Secret};
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: CredentialCommand,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Store (or replace) the password of a relay profile.
    Set {
        /// The relay profile, HOST:PORT as in the campaign's [relay].
        #[arg(long, value_name = "HOST:PORT")]
        relay: String,
        #[arg(long, value_name = "USER")]
        user: String,
        /// The admin who stores it.
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read from standard input, one per line: the operator's PIN, then the password.
        #[arg(long)]
        stdin: bool,
    },
    /// Store a DKIM private key (PEM file) in the keychain, for `[dkim] keychain = true`.
    /// The file can then be deleted.
    SetDkim {
        /// The signing domain.
        #[arg(long, value_name = "DOMAIN")]
        domain: String,
        #[arg(long, value_name = "SELECTOR")]
        selector: String,
        /// The PEM file to read the key from.
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        /// The admin who stores it.
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the operator's PIN from standard input.
        #[arg(long)]
        stdin: bool,
    },
    /// Remove the password of a relay profile.
    Remove {
        #[arg(long, value_name = "HOST:PORT")]
        relay: String,
        #[arg(long, value_name = "USER")]
        user: String,
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the operator's PIN from standard input.
        #[arg(long)]
        stdin: bool,
    },
}

pub fn run(args: CredentialArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

fn read_password(from_stdin: bool) -> Result<Secret, String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let value = line.trim_end_matches(['\r', '\n']).to_owned();
        if value.is_empty() {
            return Err(
                "no password on standard input (expected the PIN line, then the password line)"
                    .into(),
            );
        }
        Ok(Secret::new(value))
    } else {
        rpassword::prompt_password("Relay password: ")
            .map(Secret::new)
            .map_err(|e| e.to_string())
    }
}

fn run_inner(args: CredentialArgs) -> Result<(), String> {
    let store = open_store(args.data_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    let (operator, stdin) = match &args.command {
        CredentialCommand::Set {
            operator, stdin, ..
        }
        | CredentialCommand::SetDkim {
            operator, stdin, ..
        }
        | CredentialCommand::Remove {
            operator, stdin, ..
        } => (operator.clone(), *stdin),
    };
    let session = sign_in(&store, &operator, stdin, now)?;
    // Checked before a password is asked for; the core checks again when it stores it.
    match operators::authorize(&store, &session, Role::Admin, now) {
        Ok(_) => {}
        Err(operators::Error::MissingRole { .. } | operators::Error::Disabled(_)) => {
            return Err(format!(
                "{operator} is not an admin: only an admin manages relay passwords"
            ))
        }
        Err(e) => return Err(e.to_string()),
    }
    match args.command {
        CredentialCommand::Set { relay, user, .. } => {
            let password = read_password(stdin)?;
            secrets::save_relay_password(&store, &session, &relay, &user, &password, now)
                .map_err(|e| e.to_string())?;
            println!("password for {user} at {relay} stored in the OS keychain");
        }
        CredentialCommand::SetDkim {
            domain,
            selector,
            file,
            ..
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| format!("cannot read the DKIM key {}: {e}", file.display()))?;
            // Refuse what could not sign: a wrong file must not replace a good key.
            mergeguard::preflight::dkim::parse_dkim_key(&bytes)
                .map_err(|e| format!("{} is not a usable DKIM private key: {e}", file.display()))?;
            let pem = String::from_utf8(bytes).map_err(|_| {
                format!(
                    "{} is not a PEM text file (convert a DER key to PEM first)",
                    file.display()
                )
            })?;
            secrets::save_dkim_key(&store, &session, &domain, &selector, &Secret::new(pem), now)
                .map_err(|e| e.to_string())?;
            println!("DKIM key {selector}._domainkey.{domain} stored in the OS keychain");
        }
        CredentialCommand::Remove { relay, user, .. } => {
            secrets::forget_relay_password(&store, &session, &relay, &user, now)
                .map_err(|e| e.to_string())?;
            println!("password for {user} at {relay} removed from the OS keychain");
        }
    }
    Ok(())
}
