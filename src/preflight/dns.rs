//! DNS plumbing for the sender-domain checks: which resolver to ask, lookups that tell
//! "no such record" apart from "the DNS did not answer", and the MX and forward-confirmed
//! reverse DNS checks.
//!
//! Architecture invariant: nothing here returns `Err` for DNS trouble. A lookup ends in
//! [`Answer::Found`], [`Answer::Missing`] (an authoritative NXDOMAIN or an empty answer)
//! or [`Answer::Trouble`] (timeout, SERVFAIL, REFUSED, ...), and the checks turn trouble
//! into a finding that says what happened.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::hickory_resolver::proto::rr::RData;
use mail_auth::MessageAuthenticator;

use super::Check;

/// Which DNS resolver the checks ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolver {
    /// The operating system's configuration (`/etc/resolv.conf`), with its cache.
    #[default]
    System,
    /// One server at this address and port (UDP, then TCP), with caching disabled so a
    /// record fixed a second ago is seen at once. Used for company resolvers and tests.
    At(SocketAddr),
}

impl std::fmt::Display for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolver::System => f.write_str("the system resolver"),
            Resolver::At(addr) => write!(f, "the DNS server at {addr}"),
        }
    }
}

/// Builds mail-auth's authenticator over the chosen resolver. The error is a sentence.
pub(crate) fn build_authenticator(resolver: &Resolver) -> Result<MessageAuthenticator, String> {
    match resolver {
        Resolver::System => MessageAuthenticator::new_system_conf()
            .map_err(|e| format!("the system DNS configuration could not be read: {e}")),
        Resolver::At(addr) => {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            let mut opts = ResolverOpts::default();
            // A zero-size cache: the user is usually fixing records while re-running checks.
            opts.cache_size = 0;
            opts.timeout = Duration::from_secs(2);
            opts.attempts = 1;
            opts.use_hosts_file = mail_auth::hickory_resolver::config::ResolveHosts::Never;
            MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![server]), opts)
                .map_err(|e| format!("the DNS server at {addr} could not be set up: {e}"))
        }
    }
}

/// The outcome of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer<T> {
    Found(T),
    /// The name does not exist or has no record of this type.
    Missing,
    /// The DNS did not give a usable answer; the text says what happened.
    Trouble(String),
}

/// Makes a name absolute so the system resolver's search list is never appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn classify<T>(name: &str, kind: &str, err: NetError) -> Answer<T> {
    match &err {
        NetError::Dns(DnsError::NoRecordsFound(none))
            if matches!(
                none.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            Answer::Missing
        }
        NetError::Dns(DnsError::NoRecordsFound(none)) => Answer::Trouble(format!(
            "the {kind} lookup for {name} was answered with {}",
            none.response_code
        )),
        _ => Answer::Trouble(format!("the {kind} lookup for {name} failed: {err}")),
    }
}

/// TXT records at `name`, each with its character-strings joined (RFC 7208 §3.3).
pub(crate) async fn lookup_txt(auth: &MessageAuthenticator, name: &str) -> Answer<Vec<String>> {
    match auth.resolver().txt_lookup(fqdn(name).as_str()).await {
        Ok(lookup) => {
            let records: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        let joined: Vec<u8> = txt
                            .txt_data
                            .iter()
                            .flat_map(|s| s.iter().copied())
                            .collect();
                        Some(String::from_utf8_lossy(&joined).into_owned())
                    }
                    _ => None,
                })
                .collect();
            if records.is_empty() {
                Answer::Missing
            } else {
                Answer::Found(records)
            }
        }
        Err(err) => classify(name, "TXT", err),
    }
}

/// MX exchanges of `name`, lowest preference first, without the trailing dot.
pub(crate) async fn lookup_mx(auth: &MessageAuthenticator, name: &str) -> Answer<Vec<String>> {
    match auth.resolver().mx_lookup(fqdn(name).as_str()).await {
        Ok(lookup) => {
            let mut mx: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, trim_dot(&mx.exchange.to_string()))),
                    _ => None,
                })
                .collect();
            mx.sort();
            if mx.is_empty() {
                Answer::Missing
            } else {
                Answer::Found(mx.into_iter().map(|(_, host)| host).collect())
            }
        }
        Err(err) => classify(name, "MX", err),
    }
}

/// The reverse-DNS (PTR) names of `ip`.
pub(crate) async fn lookup_ptr(auth: &MessageAuthenticator, ip: IpAddr) -> Answer<Vec<String>> {
    let name = reverse_name(ip);
    match auth.resolver().reverse_lookup(name.as_str()).await {
        Ok(lookup) => {
            let names: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::PTR(ptr) => Some(trim_dot(&ptr.0.to_string())),
                    _ => None,
                })
                .collect();
            if names.is_empty() {
                Answer::Missing
            } else {
                Answer::Found(names)
            }
        }
        Err(err) => classify(&ip.to_string(), "reverse (PTR)", err),
    }
}

/// A and AAAA addresses of `name`. Missing only when neither type exists.
pub(crate) async fn lookup_ips(auth: &MessageAuthenticator, name: &str) -> Answer<Vec<IpAddr>> {
    let name = fqdn(name);
    let (v4, v6) = tokio::join!(
        auth.resolver().ipv4_lookup(name.as_str()),
        auth.resolver().ipv6_lookup(name.as_str())
    );
    let mut ips = Vec::new();
    let mut trouble = None;
    for (result, kind) in [(v4, "A"), (v6, "AAAA")] {
        match result {
            Ok(lookup) => ips.extend(lookup.answers().iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })),
            Err(err) => {
                if let Answer::Trouble(t) = classify::<()>(trim_dot(&name).as_str(), kind, err) {
                    trouble = Some(t);
                }
            }
        }
    }
    match (ips.is_empty(), trouble) {
        (false, _) => Answer::Found(ips),
        (true, Some(t)) => Answer::Trouble(t),
        (true, None) => Answer::Missing,
    }
}

fn trim_dot(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `1.0.0.127.in-addr.arpa.` / nibble form for IPv6 (RFC 3596 §2.5).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            name.push_str("ip6.arpa.");
            name
        }
    }
}

/// `dns.mx`: the From domain should receive mail (replies, bounces, and many receivers
/// distrust senders whose domain cannot receive).
pub(crate) async fn check_mx(auth: &MessageAuthenticator, from_domain: &str) -> Check {
    const ID: &str = "dns.mx";
    match lookup_mx(auth, from_domain).await {
        Answer::Found(hosts) => Check::pass(ID, format!("{from_domain} receives mail at {}.", hosts.join(", "))),
        Answer::Missing => Check::warning(
            ID,
            format!("{from_domain} has no MX record, so replies and bounces to the From address cannot be delivered."),
            format!("Publish an MX record for {from_domain} that points at the server receiving its mail, or send from a domain that has one."),
        ),
        Answer::Trouble(t) => Check::warning(
            ID,
            format!("Could not tell whether {from_domain} has an MX record: {t}."),
            "Check that the DNS server is reachable and answering, then run the checks again.",
        ),
    }
}

/// `dns.fcrdns`: each relay IP's PTR name must resolve back to that IP. Receivers
/// commonly score mail from addresses without forward-confirmed reverse DNS as spam.
pub(crate) async fn check_fcrdns(auth: &MessageAuthenticator, relay_ips: &[IpAddr]) -> Check {
    const ID: &str = "dns.fcrdns";
    if relay_ips.is_empty() {
        return Check::skipped(
            ID,
            "Not checked: no relay address was given, so its reverse DNS could not be checked.",
            "Give the relay (check-domain --relay HOST:PORT, or [relay] in the campaign) so its reverse DNS can be verified.",
        );
    }
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for &ip in relay_ips {
        match lookup_ptr(auth, ip).await {
            Answer::Found(names) => {
                let mut confirmed = None;
                let mut seen = Vec::new();
                for name in &names {
                    match lookup_ips(auth, name).await {
                        Answer::Found(ips) if ips.contains(&ip) => {
                            confirmed = Some(name.clone());
                            break;
                        }
                        Answer::Found(ips) => seen.push(format!(
                            "{name} resolves to {}",
                            ips.iter()
                                .map(|i| i.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        Answer::Missing => seen.push(format!("{name} has no A/AAAA record")),
                        Answer::Trouble(t) => seen.push(t),
                    }
                }
                match confirmed {
                    Some(name) => good.push(format!("{ip} ↔ {name}")),
                    None => bad.push(format!(
                        "{ip} points to {} but {}",
                        names.join(", "),
                        seen.join("; ")
                    )),
                }
            }
            Answer::Missing => bad.push(format!("{ip} has no reverse DNS (PTR) record")),
            Answer::Trouble(t) => bad.push(t),
        }
    }
    if bad.is_empty() {
        Check::pass(
            ID,
            format!("Forward-confirmed reverse DNS: {}.", good.join(", ")),
        )
    } else {
        Check::warning(
            ID,
            format!("Reverse DNS of the relay is not forward-confirmed: {}.", bad.join("; ")),
            "Ask whoever runs the relay (or its hosting provider) to set a PTR record for each sending IP to a host name whose A/AAAA record is that same IP.",
        )
    }
}
