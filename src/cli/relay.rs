//! `mergeguard relay add|list|remove|test`: relay profiles over the same core functions
//! the app calls (`mergeguard::profiles`). Adding and removing need an admin's sign-in;
//! the password goes to the OS keychain only, read from a prompt or `--password-stdin`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::profiles::{self, ProfileInput, TestOutcome};
use mergeguard::secrets::Secret;
use time::OffsetDateTime;

use super::operator::{open_store, sign_in};

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: RelayCommand,
}

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Add a relay profile (admin). The preset fills host, port, security and speed.
    Add {
        #[arg(long, value_name = "NAME")]
        name: String,
        /// microsoft365, google or other.
        #[arg(long, value_name = "PRESET", default_value = "other")]
        preset: String,
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        #[arg(long, value_name = "PORT")]
        port: Option<u32>,
        /// starttls or tls.
        #[arg(long, value_name = "SECURITY")]
        security: Option<String>,
        /// The user name the relay signs in with.
        #[arg(long, value_name = "USER")]
        user: String,
        /// A PEM file of the company CA that issued the relay's certificate.
        #[arg(long, value_name = "FILE")]
        ca: Option<std::path::PathBuf>,
        /// Sending speed: microsoft365, google-workspace or generic (default: the preset's).
        #[arg(long, value_name = "RATE")]
        rate: Option<String>,
        /// An address the relay's mail leaves from (repeat for each; ask the relay's
        /// operator). The SPF check evaluates these instead of the host's addresses.
        #[arg(long = "outbound-ip", value_name = "IP")]
        outbound_ip: Vec<String>,
        /// The admin who adds it.
        #[arg(long, value_name = "NAME")]
        operator: String,
        /// Read the operator's PIN from standard input (first line).
        #[arg(long)]
        pin_stdin: bool,
        /// Read the relay password from standard input (the next line).
        #[arg(long, conflicts_with = "no_password")]
        password_stdin: bool,
        /// Store no password now ("Test connection" will say none is stored).
        #[arg(long)]
        no_password: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the relay profiles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a relay profile (admin) and its password when no other profile uses it.
    Remove {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, value_name = "NAME")]
        operator: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Test connection: TLS, certificate and login with the stored password; sends nothing.
    /// Exit 0 when it works, 1 when the relay or the settings are the problem.
    Test {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: RelayArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(message) => super::fail(message),
    }
}

fn read_password(from_stdin: bool) -> Result<Option<Secret>, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        let value = line.trim_end_matches(['\r', '\n']);
        if value.is_empty() {
            return Err("no password on standard input (with --pin-stdin: the PIN line, then the password line)".into());
        }
        return Ok(Some(Secret::new(value)));
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for the relay password: use --password-stdin, or --no-password to add the profile without one".into());
    }
    let value = rpassword::prompt_password(
        "Relay password (kept in the system keychain; empty for none): ",
    )
    .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok((!value.is_empty()).then(|| Secret::new(value)))
}

fn run_inner(args: RelayArgs) -> Result<ExitCode, String> {
    let store = open_store(args.data_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    match args.command {
        RelayCommand::Add {
            name,
            preset,
            host,
            port,
            security,
            user,
            ca,
            rate,
            outbound_ip,
            operator,
            pin_stdin,
            password_stdin,
            no_password,
            json,
        } => {
            let input = ProfileInput {
                name,
                provider: preset,
                host: host.unwrap_or_default(),
                port,
                security: security.unwrap_or_default(),
                username: user,
                auth: String::new(),
                ca_file: ca,
                rate: rate.unwrap_or_default(),
                outbound_ips: outbound_ip.join(","),
            };
            // Refuse a wrong form before asking for PIN and password.
            profiles::validate(&input).map_err(|e| e.to_string())?;
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            let password = if no_password {
                None
            } else {
                read_password(password_stdin)?
            };
            let profile = profiles::add(&store, &session, &input, password.as_ref(), now)
                .map_err(|e| e.to_string())?;
            if json {
                return Ok(super::print_json(&profile));
            }
            println!(
                "relay profile \"{}\" added: {}:{} ({}), user {}{}",
                profile.name,
                profile.host,
                profile.port,
                security_name(&profile),
                profile.username,
                if password.is_some() {
                    ", password stored in the OS keychain"
                } else {
                    ", no password stored"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        RelayCommand::List { json } => {
            let list = profiles::list(&store).map_err(|e| e.to_string())?;
            if json {
                return Ok(super::print_json(&list));
            }
            if list.is_empty() {
                println!("no relay profiles (add one with `mergeguard relay add`)");
            }
            for p in &list {
                println!(
                    "{}\t{}:{}\t{}\t{}\t{}{}",
                    p.name,
                    p.host,
                    p.port,
                    security_name(p),
                    p.username,
                    p.provider.as_str(),
                    p.ca.as_ref()
                        .map(|c| format!("\tca {}", c.path.display()))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RelayCommand::Remove {
            name,
            operator,
            pin_stdin,
        } => {
            let profile = profiles::get(&store, &name).map_err(|e| e.to_string())?;
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            profiles::remove(&store, &session, &profile.name, now).map_err(|e| e.to_string())?;
            println!("relay profile \"{}\" removed", profile.name);
            Ok(ExitCode::SUCCESS)
        }
        RelayCommand::Test { name, json } => {
            let profile = profiles::get(&store, &name).map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the network runtime: {e}"))?;
            let result = runtime.block_on(profiles::test_connection(
                &profile,
                std::time::SystemTime::now(),
            ));
            let code = if result.outcome == TestOutcome::Ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(super::EXIT_PARTIAL)
            };
            if json {
                let printed = super::print_json(&result);
                return Ok(if printed == ExitCode::SUCCESS {
                    code
                } else {
                    printed
                });
            }
            println!("{}: {}", result.outcome.as_str(), result.message);
            if !result.fix.is_empty() {
                println!("what to do: {}", result.fix);
            }
            Ok(code)
        }
    }
}

fn security_name(p: &profiles::Profile) -> &'static str {
    match p.security {
        mergeguard::campaign::Security::Starttls => "STARTTLS",
        mergeguard::campaign::Security::Tls => "TLS",
    }
}
