//! `mergeguard check-domain` and `mergeguard preflight`: the pre-flight checklist on the
//! command line. Exit 0 when nothing fails, 1 when a check fails, 2 when it cannot run.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use mergeguard::campaign::{Campaign, Security};
use mergeguard::preflight::campaign::{
    check_campaign, resolve_host, stored_relay_password, CheckOptions,
};
use mergeguard::preflight::dkim::load_dkim_key;
use mergeguard::preflight::dns::Resolver;
use mergeguard::preflight::domain::{check_domain, DomainCheck};
use mergeguard::preflight::tls::{probe_relay, RelayProbe};
use mergeguard::preflight::{Report, Status};
use mergeguard::secrets;

#[derive(Debug, Args)]
pub struct CheckDomainArgs {
    /// The sender domain, e.g. example.jp.
    pub domain: String,
    /// DKIM selector to check.
    #[arg(long)]
    pub selector: Option<String>,
    /// DKIM private key (PEM) to prove the published key matches.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The relay as HOST:PORT: its IPs must be authorised by SPF, and its TLS is probed.
    #[arg(long)]
    pub relay: Option<String>,
    /// An address the relay's mail leaves from (repeat for each): SPF is evaluated for
    /// these instead of the addresses --relay resolves to.
    #[arg(long = "relay-ip", value_name = "IP")]
    pub relay_ip: Vec<std::net::IpAddr>,
    /// The relay's provider, microsoft365 or google: without --relay-ip, SPF must
    /// include the provider's SPF name (spf.protection.outlook.com, _spf.google.com).
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Relay security: starttls (default) or tls (implicit TLS, port 465).
    #[arg(long, default_value = "starttls")]
    pub security: String,
    /// Relay user name; its password is read from the OS keychain.
    #[arg(long)]
    pub user: Option<String>,
    /// DNS server IP:PORT to ask instead of the system resolver.
    #[arg(long)]
    pub dns: Option<SocketAddr>,
    /// PEM file of a company CA to trust for the relay.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The campaign file (TOML).
    #[arg(long)]
    pub campaign: PathBuf,
    /// DNS server IP:PORT to ask instead of the system resolver.
    #[arg(long)]
    pub dns: Option<SocketAddr>,
    /// PEM file of a company CA to trust for the relay (overrides [relay] ca).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can always be built on a supported OS")
}

pub fn resolver(dns: Option<SocketAddr>) -> Resolver {
    dns.map(Resolver::At).unwrap_or(Resolver::System)
}

pub fn run_check_domain(args: CheckDomainArgs) -> ExitCode {
    let now = SystemTime::now();
    let security = match args.security.as_str() {
        "starttls" => Security::Starttls,
        "tls" => Security::Tls,
        other => return super::fail(format!("unknown security \"{other}\": use starttls or tls")),
    };
    let mut check = DomainCheck::new(args.domain.to_ascii_lowercase());
    check.selector = args.selector.clone();
    if let Some(key) = &args.key {
        match load_dkim_key(key) {
            Ok(k) => check.dkim_key = Some(k),
            Err(e) => return super::fail(format!("{}: {e}", key.display())),
        }
    }
    let relay = match args.relay.as_deref().map(parse_host_port).transpose() {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    if let Some(p) = &args.provider {
        match mergeguard::profiles::Provider::parse(p) {
            Ok(p) => check.relay_spf_include = p.preset().spf_include.map(str::to_owned),
            Err(e) => return super::fail(e.to_string()),
        }
    }
    if !args.relay_ip.is_empty() {
        check.relay_ips = args.relay_ip.clone();
        check.relay_ips_declared = true;
    }
    let rt = runtime();
    let mut report = Report::default();
    if let Some((host, port)) = &relay {
        if !check.relay_ips_declared {
            check.relay_ips = resolve_host(host, *port);
            check.relay_host = Some(host.clone());
        }
        let credentials = args.user.as_ref().and_then(|user| {
            secrets::relay_password(&format!("{host}:{port}"), user)
                .ok()
                .map(|p| (user.clone(), p))
        });
        let probe = RelayProbe {
            host: host.clone(),
            port: *port,
            security,
            ca: args.ca.clone(),
            credentials,
            timeout: Duration::from_secs(15),
        };
        report
            .checks
            .extend(rt.block_on(probe_relay(&probe, now)).checks);
    }
    report
        .checks
        .extend(rt.block_on(check_domain(&check, &resolver(args.dns), now)));
    finish(report, args.json)
}

pub fn run_preflight(args: PreflightArgs) -> ExitCode {
    let now = SystemTime::now();
    let campaign = match Campaign::load(&args.campaign) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    // A campaign that names a relay profile finds it in the default data folder (or
    // $MERGEGUARD_DATA_DIR) when there is one; nothing is created by looking.
    let relay_profiles = match &campaign.relay_profile {
        None => Vec::new(),
        Some(_) => match mergeguard::store::data_dir(None)
            .ok()
            .filter(|d| d.join(mergeguard::store::DB_FILE).is_file())
            .and_then(|d| mergeguard::store::Store::open(&d).ok())
        {
            Some(store) => match mergeguard::profiles::list(&store) {
                Ok(p) => p,
                Err(e) => return super::fail(e),
            },
            None => Vec::new(),
        },
    };
    let password = {
        let mut resolved = campaign.clone();
        resolved
            .use_profiles(&relay_profiles)
            .ok()
            .and_then(|()| stored_relay_password(&resolved))
            .and_then(Result::ok)
    };
    // No operator and no data folder here: the suppression list is applied by submit,
    // approve and send, which open the store.
    let options = CheckOptions {
        resolver: resolver(args.dns),
        ca: args.ca.clone(),
        password,
        suppressed: None,
        data_dir: None,
        relay_profiles,
    };
    let rt = runtime();
    match rt.block_on(check_campaign(&campaign, &options, now, &|_, _| {})) {
        Ok(report) => finish(report, args.json),
        Err(e) => super::fail(e),
    }
}

fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("relay \"{s}\" must be HOST:PORT, e.g. smtp.example.jp:587"))?;
    let port = port
        .parse()
        .map_err(|_| format!("relay port \"{port}\" is not a number"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

fn finish(mut report: Report, json: bool) -> ExitCode {
    report.sort();
    let code = if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_PARTIAL)
    };
    if json {
        let printed = super::print_json(&report);
        return if printed == ExitCode::SUCCESS {
            code
        } else {
            printed
        };
    }
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => "pass ",
            Status::Warning => "WARN ",
            Status::Skipped => "SKIP ",
            Status::Fail => "FAIL ",
        };
        println!("{mark} {:<28} {}", c.id, c.detail);
        if !c.fix.is_empty() && c.status != Status::Pass {
            let what = if c.status == Status::Skipped {
                "to check it"
            } else {
                "fix"
            };
            println!("      {:<28} {what}: {}", "", c.fix);
        }
    }
    code
}
