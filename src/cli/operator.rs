//! `mergeguard operator add|list|set-email|disable`: operator accounts from the command line.
//!
//! Lives in the binary crate (wired by `src/cli/mod.rs`); every rule is in
//! `mergeguard::operators`, this file only reads arguments and PINs and prints results.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mergeguard::operators::{self, Role};
use mergeguard::secrets::Secret;
use mergeguard::store::{self, Store};
use time::OffsetDateTime;

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Data folder (default: $MERGEGUARD_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: OperatorCommand,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Add an operator. The very first operator becomes the admin (all roles); after
    /// that an admin must authorise with --admin and their PIN.
    Add {
        name: String,
        /// Comma-separated roles: sender, approver, admin.
        #[arg(long, default_value = "sender")]
        role: String,
        /// The admin who adds this operator (not needed for the first one).
        #[arg(long, value_name = "ADMIN")]
        admin: Option<String>,
        /// Read PINs from standard input, one per line: the admin's first (if needed),
        /// then the new operator's.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// List operators, their roles and whether they are disabled or locked (an admin
    /// authorises with their PIN).
    List {
        #[arg(long, value_name = "ADMIN")]
        admin: String,
        /// Read the admin's PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Record an operator's own mailbox, the one address their test copies may go to
    /// besides the internal domains (an admin authorises with their PIN).
    SetEmail {
        name: String,
        /// The operator's own address; omit it with --clear to remove the address.
        address: Option<String>,
        /// Remove the recorded address.
        #[arg(long, conflicts_with = "address")]
        clear: bool,
        #[arg(long, value_name = "ADMIN")]
        admin: String,
        /// Read the admin's PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Choose a new PIN (the old one is asked first). Needed once by operators whose PIN
    /// was made under the older 4-digit rule.
    SetPin {
        name: String,
        /// Read the old PIN, then the new one, from standard input, one per line.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Disable an operator (an admin authorises with their PIN).
    Disable {
        name: String,
        #[arg(long, value_name = "ADMIN")]
        admin: String,
        /// Read the admin's PIN from standard input.
        #[arg(long)]
        pin_stdin: bool,
    },
}

/// Reads PINs without echo from the terminal, or line by line from standard input.
pub struct PinReader {
    from_stdin: bool,
}

impl PinReader {
    pub fn new(from_stdin: bool) -> PinReader {
        PinReader { from_stdin }
    }

    pub fn read(&mut self, prompt: &str) -> Result<Secret, String> {
        self.read_secret(prompt, "the PIN")
    }

    /// Any secret the same way as the PIN: the next line of standard input with
    /// `--pin-stdin`, else asked on the terminal without echo. `what` names it in errors.
    pub fn read_secret(&mut self, prompt: &str, what: &str) -> Result<Secret, String> {
        if self.from_stdin {
            let mut line = String::new();
            let n = std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read {what} from standard input: {e}"))?;
            if n == 0 {
                return Err(format!("standard input ended before {what}"));
            }
            return Ok(Secret::new(line.trim_end_matches(['\r', '\n'])));
        }
        if !std::io::stdin().is_terminal() {
            return Err(format!("no terminal to ask for {what}: use --pin-stdin"));
        }
        rpassword::prompt_password(prompt)
            .map(Secret::new)
            .map_err(|e| format!("cannot read {what}: {e}"))
    }

    /// A new PIN: asked twice on a terminal so a typo does not lock someone out.
    pub fn read_new(&mut self, prompt: &str) -> Result<Secret, String> {
        let first = self.read(prompt)?;
        if !self.from_stdin {
            let again = self.read("Repeat the PIN: ")?;
            if again != first {
                return Err("the two PINs differ".into());
            }
        }
        Ok(first)
    }
}

/// Reads `operator`'s PIN (terminal, or standard input with `--pin-stdin`) and signs in.
pub fn sign_in(
    store: &Store,
    operator: &str,
    pin_stdin: bool,
    now: time::OffsetDateTime,
) -> Result<mergeguard::operators::Session, String> {
    let pin = PinReader::new(pin_stdin).read(&format!("PIN of {operator}: "))?;
    mergeguard::operators::sign_in(store, operator, &pin, now).map_err(|e| e.to_string())
}

/// Opens the store named by `--data-dir` / `$MERGEGUARD_DATA_DIR` / the OS default.
pub fn open_store(data_dir: Option<&std::path::Path>) -> Result<Store, String> {
    let dir = store::data_dir(data_dir).map_err(|e| e.to_string())?;
    Store::open(&dir).map_err(|e| e.to_string())
}

pub fn run(args: OperatorArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: OperatorArgs) -> Result<(), String> {
    let store = open_store(args.data_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    match args.command {
        OperatorCommand::Add {
            name,
            role,
            admin,
            pin_stdin,
        } => {
            let mut pins = PinReader::new(pin_stdin);
            if operators::needs_first_admin(&store).map_err(|e| e.to_string())? {
                let pin = pins.read_new(&format!("New PIN for {name}: "))?;
                operators::create_first_admin(&store, &name, &pin, now)
                    .map_err(|e| e.to_string())?;
                println!(
                    "{name} is the first operator and the admin (roles: sender, approver, admin)"
                );
                return Ok(());
            }
            let roles: BTreeSet<Role> = Role::parse_list(&role).map_err(|e| e.to_string())?;
            let admin = admin.ok_or("an admin must authorise this: pass --admin NAME")?;
            let admin_pin = pins.read(&format!("PIN of {admin}: "))?;
            let session =
                operators::sign_in(&store, &admin, &admin_pin, now).map_err(|e| e.to_string())?;
            let pin = pins.read_new(&format!("New PIN for {name}: "))?;
            let op = operators::add_operator(&store, &session, &name, &roles, &pin, now)
                .map_err(|e| e.to_string())?;
            println!("added {} ({})", op.name, role_text(&op.roles));
        }
        OperatorCommand::SetPin { name, pin_stdin } => {
            let mut pins = PinReader::new(pin_stdin);
            let old = pins.read(&format!("Current PIN of {name}: "))?;
            let new = pins.read_new(&format!("New PIN for {name}: "))?;
            operators::change_pin(&store, &name, &old, &new, now).map_err(|e| e.to_string())?;
            println!("the PIN of {name} was changed");
        }
        OperatorCommand::List { admin, pin_stdin } => {
            let session = sign_in(&store, &admin, pin_stdin, now)?;
            for op in operators::list(&store, &session, now).map_err(|e| e.to_string())? {
                let state = if op.disabled {
                    "disabled".to_owned()
                } else if let Some(t) = op.locked_until.filter(|t| *t > now) {
                    format!("locked until {t}")
                } else {
                    "active".to_owned()
                };
                println!("{}\t{}\t{}", op.name, role_text(&op.roles), state);
            }
        }
        OperatorCommand::SetEmail {
            name,
            address,
            clear,
            admin,
            pin_stdin,
        } => {
            if address.is_none() && !clear {
                return Err("give the operator's own ADDRESS, or --clear to remove it".into());
            }
            let admin_pin = PinReader::new(pin_stdin).read(&format!("PIN of {admin}: "))?;
            let session =
                operators::sign_in(&store, &admin, &admin_pin, now).map_err(|e| e.to_string())?;
            mergeguard::workflow::set_operator_email(
                &store,
                &session,
                &name,
                address.as_deref(),
                now,
            )
            .map_err(|e| e.message)?;
            match address {
                Some(a) => println!("{name}'s own address is {}", a.trim()),
                None => println!("{name} has no recorded address now"),
            }
        }
        OperatorCommand::Disable {
            name,
            admin,
            pin_stdin,
        } => {
            let admin_pin = PinReader::new(pin_stdin).read(&format!("PIN of {admin}: "))?;
            let session =
                operators::sign_in(&store, &admin, &admin_pin, now).map_err(|e| e.to_string())?;
            operators::disable_operator(&store, &session, &name, now).map_err(|e| e.to_string())?;
            println!("disabled {name}");
        }
    }
    Ok(())
}

fn role_text(roles: &BTreeSet<Role>) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
