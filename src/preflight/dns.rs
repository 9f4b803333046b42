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

/// How far [`ptr_names`] may go: it serves a screen, so a slow or hostile DNS server
/// costs at most `total`, whatever it does.
#[derive(Debug, Clone)]
pub struct PtrLimits {
    /// Lookups in flight at once.
    pub parallel: usize,
    /// Time for one address; no answer by then is no name.
    pub per_lookup: Duration,
    /// Time for all of them; what has not answered by then has no name.
    pub total: Duration,
    /// Distinct addresses looked up; the rest get no name.
    pub max_addresses: usize,
}

impl Default for PtrLimits {
    fn default() -> Self {
        PtrLimits {
            parallel: 8,
            per_lookup: Duration::from_millis(1500),
            total: Duration::from_secs(3),
            max_addresses: 256,
        }
    }
}

/// The longest name shown (a DNS name is at most 253 characters).
pub const PTR_NAME_MAX: usize = 253;

/// A PTR answer made fit to show, never to trust: lower-cased, without the root dot,
/// every character other than a letter, digit, `-`, `_` or `.` replaced by `?`, and cut
/// to [`PTR_NAME_MAX`] characters (ending in `…` when cut). `None` for an empty name.
pub fn ptr_display_name(raw: &str) -> Option<String> {
    let raw = raw.trim_end_matches('.');
    if raw.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(raw.len().min(PTR_NAME_MAX + 3));
    for (i, c) in raw.chars().enumerate() {
        if i == PTR_NAME_MAX {
            out.pop();
            out.push('…');
            break;
        }
        out.push(
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '?'
            },
        );
    }
    Some(out)
}

/// The servers a display lookup asks: the chosen one, or the system's (at most three).
fn ptr_servers(resolver: &Resolver) -> Vec<SocketAddr> {
    use mail_auth::hickory_resolver::config::ProtocolConfig;
    match resolver {
        Resolver::At(addr) => vec![*addr],
        Resolver::System => match mail_auth::hickory_resolver::system_conf::read_system_conf() {
            Ok((conf, _)) => conf
                .name_servers()
                .iter()
                .take(3)
                .map(|ns| {
                    let port = ns
                        .connections
                        .iter()
                        .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
                        .map_or(53, |c| c.port);
                    SocketAddr::new(ns.ip, port)
                })
                .collect(),
            Err(_) => Vec::new(),
        },
    }
}

/// The PTR name to show for `ip`, asked of `servers` in one UDP question (all at once;
/// the first reply that answers this very question decides). Not through the resolver:
/// it answers every 127.0.0.0/8 and ::1 question itself with "localhost" (RFC 6761),
/// and a name to show needs no retry, TCP fallback or cache. Of the PTR records in the
/// answer, the first well-formed host name, else the first one made fit to show.
async fn query_ptr(servers: &[SocketAddr], ip: IpAddr) -> Option<String> {
    use mail_auth::hickory_resolver::proto::op::{Message, MessageType, Query};
    use mail_auth::hickory_resolver::proto::rr::{Name, RecordType};
    let first = servers.first()?;
    let servers: Vec<SocketAddr> = servers
        .iter()
        .filter(|s| s.is_ipv4() == first.is_ipv4())
        .copied()
        .collect();
    let name = Name::from_ascii(reverse_name(ip)).ok()?;
    let mut question = Message::query();
    question.metadata.recursion_desired = true;
    question.add_query(Query::query(name.clone(), RecordType::PTR));
    let bytes = question.to_vec().ok()?;
    let any: SocketAddr = if first.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(any).await.ok()?;
    for server in &servers {
        let _ = socket.send_to(&bytes, server).await;
    }
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await.ok()?;
        if !servers.contains(&from) {
            continue;
        }
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if reply.metadata.id != question.metadata.id
            || reply.metadata.message_type != MessageType::Response
            || reply.queries.len() != 1
            || reply.queries[0].name != name
            || reply.queries[0].query_type != RecordType::PTR
        {
            continue;
        }
        let names: Vec<String> = reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                // The ASCII (A-label) form: a label's odd bytes come out escaped, never raw.
                RData::PTR(ptr) => ptr_display_name(&ptr.0.to_ascii()),
                _ => None,
            })
            .take(16)
            .collect();
        let host_name = |n: &&String| {
            n.len() <= PTR_NAME_MAX
                && n.split('.').all(|l| {
                    (1..=63).contains(&l.len())
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        return names.iter().find(host_name).or(names.first()).cloned();
    }
}

/// Reverse-DNS names of `ips` for a screen to show (the "Domain reports" sources): each
/// distinct address once (the cache is this call's), `limits.parallel` at a time, each
/// within `limits.per_lookup` and all within `limits.total`. An address without an
/// answer in time, without a PTR record, or past `limits.max_addresses` has no name. A
/// name is text to show ([`ptr_display_name`]); nothing decides anything on it.
pub async fn ptr_names(
    resolver: &Resolver,
    ips: &[IpAddr],
    limits: &PtrLimits,
) -> std::collections::HashMap<IpAddr, String> {
    use futures_util::StreamExt;
    let mut names = std::collections::HashMap::new();
    let servers = ptr_servers(resolver);
    if servers.is_empty() {
        return names;
    }
    let mut distinct = ips.to_vec();
    distinct.sort();
    distinct.dedup();
    distinct.truncate(limits.max_addresses);
    let servers = &servers;
    let per_lookup = limits.per_lookup;
    let mut answers = futures_util::stream::iter(distinct)
        .map(|ip| async move {
            let name = tokio::time::timeout(per_lookup, query_ptr(servers, ip))
                .await
                .ok()
                .flatten();
            (ip, name)
        })
        .buffer_unordered(limits.parallel.max(1));
    let _ = tokio::time::timeout(limits.total, async {
        while let Some((ip, name)) = answers.next().await {
            if let Some(name) = name {
                names.insert(ip, name);
            }
        }
    })
    .await;
    drop(answers);
    names
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ptr_answer_is_made_plain_text_and_cut() {
        assert_eq!(
            ptr_display_name("Mail.Good.Test."),
            Some("mail.good.test".into())
        );
        assert_eq!(ptr_display_name("."), None);
        assert_eq!(
            ptr_display_name("\\<script\\>.evil\\032x.test").as_deref(),
            Some("??script??.evil?032x.test")
        );
        assert_eq!(ptr_display_name("例え.jp").as_deref(), Some("??.jp"));
        let long = ptr_display_name(&"a".repeat(1000)).unwrap();
        assert_eq!(long.chars().count(), PTR_NAME_MAX);
        assert!(long.ends_with('…'));
        let exact = "b".repeat(PTR_NAME_MAX);
        assert_eq!(ptr_display_name(&exact), Some(exact));
    }

    #[test]
    fn reverse_names_are_the_arpa_forms() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa."
        );
        assert!(reverse_name("2001:db8::1".parse().unwrap()).starts_with(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        ));
    }
}
