//! `mergeguard oauth set|sign-in|sign-out|status`: OAuth2 sign-in (Microsoft 365, Google,
//! generic) for a relay profile. The person signs in in a browser with the code shown;
//! the refresh token goes to the OS keychain, never to the screen.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::oauth::{self, OAuthInput};
use mergeguard::profiles;
use time::OffsetDateTime;

use super::operator::{open_store, sign_in, PinReader};

#[derive(Debug, Args)]
pub struct OauthArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: OauthCommand,
}

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Make a relay profile sign in with OAuth2 (an admin); --clear goes back to its password.
    Set {
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// microsoft365, google or generic.
        #[arg(long, required_unless_present = "clear")]
        provider: Option<String>,
        #[arg(long, required_unless_present = "clear")]
        client_id: Option<String>,
        /// Microsoft Entra tenant ID or domain.
        #[arg(long, default_value = "")]
        tenant: String,
        /// Generic: the issuer URL (https).
        #[arg(long, default_value = "")]
        issuer: String,
        /// Space-separated; the preset's when empty.
        #[arg(long, default_value = "")]
        scopes: String,
        #[arg(long)]
        clear: bool,
        /// Also ask for the client secret (Google desktop clients): on the terminal, or
        /// the line after the PIN with --pin-stdin. Kept in the OS keychain only.
        #[arg(long, conflicts_with = "clear")]
        with_client_secret: bool,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Sign the profile in: prints an address to open (and, for the device flow, a
    /// code to enter there), then waits.
    SignIn {
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// browser or device; the provider's usual one when not given (Google: browser).
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Revoke and forget the profile's sign-in.
    SignOut {
        #[arg(long, value_name = "NAME")]
        profile: String,
        #[arg(long, value_name = "ADMIN")]
        operator: String,
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Whether the profile signs in with OAuth2 and is signed in.
    Status {
        #[arg(long, value_name = "NAME")]
        profile: String,
    },
}

pub fn run(args: OauthArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

fn run_inner(args: OauthArgs) -> Result<(), String> {
    let store = open_store(args.data_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let get = |name: &str| profiles::get(&store, name).map_err(|e| e.to_string());
    let settings = |name: &str| -> Result<oauth::OAuthSettings, String> {
        oauth::settings(&store, name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the relay profile \"{name}\" signs in with a password: use `oauth set` first"
                )
            })
    };
    match args.command {
        OauthCommand::Set {
            profile,
            provider,
            client_id,
            tenant,
            issuer,
            scopes,
            clear,
            with_client_secret,
            operator,
            pin_stdin,
        } => {
            let p = get(&profile)?;
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            // Not given: a client secret stored for the same provider and client is kept.
            let client_secret = if with_client_secret {
                PinReader::new(pin_stdin)
                    .read_secret("Client secret: ", "the client secret")?
                    .expose()
                    .to_owned()
            } else {
                String::new()
            };
            let input = OAuthInput {
                provider: provider.unwrap_or_default(),
                client_id: client_id.unwrap_or_default(),
                tenant,
                issuer,
                scopes,
                client_secret,
            };
            match oauth::configure(&store, &session, &p, (!clear).then_some(&input), now)
                .map_err(|e| e.to_string())?
            {
                Some(s) => println!(
                    "{profile} signs in with {} (sign in with `oauth sign-in`)",
                    s.provider.as_str()
                ),
                None => println!("{profile} signs in with its password"),
            }
        }
        OauthCommand::SignIn {
            profile,
            flow,
            operator,
            pin_stdin,
        } => {
            let p = get(&profile)?;
            let s = settings(&p.name)?;
            let flow = match flow.as_deref() {
                None => s.provider.flows()[0],
                Some("browser") => oauth::Flow::Browser,
                Some("device") => oauth::Flow::Device,
                Some(other) => {
                    return Err(format!(
                        "\"{other}\" is not a sign-in flow: use browser or device"
                    ))
                }
            };
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            let trust = oauth::trust_for(&p).map_err(|e| e.to_string())?;
            if flow == oauth::Flow::Browser {
                let started = rt
                    .block_on(oauth::start_browser_sign_in(&s, &p, &trust))
                    .map_err(|e| e.to_string())?;
                println!(
                    "Open this address in your browser and sign in (within {} minutes):\n{}\nWaiting…",
                    started.expires_in / 60,
                    started.authorize_url
                );
                rt.block_on(oauth::finish_browser_sign_in(
                    &store, &s, &p, &started, &trust, &session, now,
                ))
                .map_err(|e| e.to_string())?;
                println!("{profile} is signed in");
                return Ok(());
            }
            let started = rt
                .block_on(oauth::start_device_sign_in(&s, &p, &trust))
                .map_err(|e| e.to_string())?;
            println!(
                "Open {} and enter the code {} (valid {} minutes). Waiting…",
                started.verification_uri,
                started.user_code,
                started.expires_in / 60
            );
            rt.block_on(oauth::finish_device_sign_in(
                &store, &s, &p, &started, &trust, &session, now,
            ))
            .map_err(|e| e.to_string())?;
            println!("{profile} is signed in");
        }
        OauthCommand::SignOut {
            profile,
            operator,
            pin_stdin,
        } => {
            let p = get(&profile)?;
            let s = settings(&p.name)?;
            let session = sign_in(&store, &operator, pin_stdin, now)?;
            let trust = oauth::trust_for(&p).map_err(|e| e.to_string())?;
            rt.block_on(oauth::sign_out(&store, &s, &p, &trust, &session, now))
                .map_err(|e| e.to_string())?;
            println!("{profile} is signed out");
        }
        OauthCommand::Status { profile } => {
            let p = get(&profile)?;
            match oauth::settings(&store, &p.name).map_err(|e| e.to_string())? {
                None => println!("{profile}: password"),
                Some(s) => {
                    let signed = oauth::is_signed_in(&p).map_err(|e| e.to_string())?;
                    let secret = oauth::has_client_secret(&p).map_err(|e| e.to_string())?;
                    println!(
                        "{profile}: {} ({}{})",
                        s.provider.as_str(),
                        if signed {
                            "signed in"
                        } else {
                            "not signed in: sign in again"
                        },
                        if secret {
                            "; a client secret is kept"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
    Ok(())
}
