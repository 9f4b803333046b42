//! SPF checks of the sender domain: one record, valid syntax, at most ten DNS-lookup
//! terms (RFC 7208 §4.6.4, counted through include/redirect), a strict `all`, and the
//! relay's IP addresses authorised (evaluated by mail-auth exactly as a receiver would).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::{Macro, Mechanism, Qualifier, Spf};
use mail_auth::{MessageAuthenticator, SpfResult};

use super::dns::{lookup_txt, Answer};
use super::Check;

/// RFC 7208 §4.6.4: more than ten lookup terms is a PermError at the receiver.
pub const MAX_LOOKUPS: usize = 10;

/// Stop following includes this deep; real records never nest anywhere near this.
const MAX_DEPTH: usize = 10;

/// What the SPF checks learned, for the DMARC alignment check.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpfOutcome {
    /// True when every relay IP got `pass` for a MAIL FROM in the checked domain.
    pub relay_passes: bool,
}

/// True for a TXT record that claims to be SPF version 1 (RFC 7208 §4.5).
fn is_spf1(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

/// Runs `spf.record`, `spf.syntax`, `spf.lookups`, `spf.all` and `spf.relay` for `domain`.
pub(crate) async fn check_spf(
    auth: &MessageAuthenticator,
    domain: &str,
    relay_ips: &[IpAddr],
) -> (Vec<Check>, SpfOutcome) {
    let mut checks = Vec::new();
    let mut outcome = SpfOutcome::default();
    let records = match lookup_txt(auth, domain).await {
        Answer::Found(txt) => txt.into_iter().filter(|t| is_spf1(t)).collect::<Vec<_>>(),
        Answer::Missing => Vec::new(),
        Answer::Trouble(t) => {
            checks.push(Check::fail(
                "spf.record",
                format!("Could not read the SPF record of {domain}: {t}."),
                "Check that the DNS server is reachable and answering for this domain, then run the checks again.",
            ));
            return (checks, outcome);
        }
    };
    let record = match records.as_slice() {
        [] => {
            checks.push(Check::fail(
                "spf.record",
                format!("{domain} has no SPF record (no TXT record starting with v=spf1)."),
                format!("Publish one TXT record at {domain} such as \"v=spf1 ip4:<relay IP> -all\" (or include: your mail provider) that lists every server sending for the domain."),
            ));
            return (checks, outcome);
        }
        [one] => one.clone(),
        many => {
            checks.push(Check::fail(
                "spf.record",
                format!(
                    "{domain} has {} SPF records ({}); receivers treat that as a permanent error and SPF fails for every message.",
                    many.len(),
                    many.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ")
                ),
                format!("Merge them into a single v=spf1 TXT record at {domain} and delete the others."),
            ));
            return (checks, outcome);
        }
    };
    checks.push(Check::pass(
        "spf.record",
        format!("{domain} publishes one SPF record: \"{record}\"."),
    ));

    // mail-auth's parser skips terms it does not know; RFC 7208 §4.6.1 makes an unknown
    // mechanism a permanent error, so receivers fail SPF for every message.
    let spf = match parse_record(&record) {
        Ok(spf) => spf,
        Err(e) => {
            checks.push(Check::fail(
                "spf.syntax",
                format!("The SPF record of {domain} is not valid ({e}): \"{record}\"."),
                "Correct the record against RFC 7208: mechanisms are all, include, a, mx, ptr, ip4, ip6, exists; modifiers redirect= and exp=.",
            ));
            return (checks, outcome);
        }
    };
    checks.push(Check::pass("spf.syntax", "The SPF record is valid."));

    checks.push(check_lookups(auth, domain, &spf).await);
    checks.push(check_all(domain, &spf));
    let relay = check_relay(auth, domain, relay_ips).await;
    outcome.relay_passes = relay.status == super::Status::Pass;
    checks.push(relay);
    (checks, outcome)
}

/// The domain a mechanism or redirect points to, when it can be known without a message
/// (`None` for a macro such as `%{i}`, which only a receiver can expand).
fn target(current: &str, m: &Macro) -> Option<String> {
    match m {
        Macro::None => Some(current.to_string()),
        Macro::Literal(bytes) => Some(
            String::from_utf8_lossy(bytes)
                .trim_end_matches('.')
                .to_ascii_lowercase(),
        ),
        _ => None,
    }
}

/// `spf.lookups`: counts include, a, mx, ptr, exists and redirect terms through every
/// include and redirect, breadth-first, so a loop or a missing include is reported too.
async fn check_lookups(auth: &MessageAuthenticator, domain: &str, root: &Spf) -> Check {
    const ID: &str = "spf.lookups";
    let mut count = 0usize;
    let mut problems = Vec::new();
    let mut parts = Vec::new();
    let mut seen: HashSet<String> = HashSet::from([domain.to_ascii_lowercase()]);
    // (domain, parsed record, depth); the root record is already parsed.
    let mut queue: Vec<(String, Spf, usize)> = vec![(domain.to_ascii_lowercase(), root.clone(), 0)];
    while let Some((name, spf, depth)) = queue.pop() {
        let mut here = 0usize;
        let mut follow = Vec::new();
        for directive in spf.directives.iter() {
            match &directive.mechanism {
                Mechanism::Include { macro_string } => {
                    here += 1;
                    follow.push((target(&name, macro_string), "include"));
                }
                Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. } => here += 1,
                Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
            }
        }
        if let Some(redirect) = &spf.redirect {
            here += 1;
            follow.push((target(&name, redirect), "redirect"));
        }
        count += here;
        parts.push(format!("{name}: {here}"));
        for (next, how) in follow {
            let Some(next) = next else {
                problems.push(format!(
                    "a {how} in {name} uses a macro, so its lookups could not be counted"
                ));
                continue;
            };
            if !seen.insert(next.clone()) {
                problems.push(format!("{next} is included more than once (or in a loop)"));
                continue;
            }
            if depth + 1 > MAX_DEPTH {
                problems.push(format!(
                    "includes nest deeper than {MAX_DEPTH} levels at {next}"
                ));
                continue;
            }
            match lookup_txt(auth, &next).await {
                Answer::Found(txt) => {
                    let spf1: Vec<_> = txt.into_iter().filter(|t| is_spf1(t)).collect();
                    match spf1.as_slice() {
                        [one] => match parse_record(one) {
                            Ok(parsed) => queue.push((next, parsed, depth + 1)),
                            Err(e) => problems.push(format!(
                                "the SPF record of {next} ({how}d from {name}) is not valid: {e}"
                            )),
                        },
                        [] => {
                            problems.push(format!("{next} ({how}d from {name}) has no SPF record"))
                        }
                        _ => problems.push(format!(
                            "{next} ({how}d from {name}) has more than one SPF record"
                        )),
                    }
                }
                Answer::Missing => {
                    problems.push(format!("{next} ({how}d from {name}) has no SPF record"))
                }
                Answer::Trouble(t) => problems.push(t),
            }
        }
    }
    parts.sort();
    let breakdown = parts.join(", ");
    if count > MAX_LOOKUPS {
        Check::fail(
            ID,
            format!("The SPF record needs {count} DNS lookups ({breakdown}); receivers stop at {MAX_LOOKUPS} and SPF fails with a permanent error."),
            "Reduce the lookups: replace a, mx and include terms by ip4:/ip6: ranges where you can, drop includes of services that no longer send for you, and never use ptr.",
        )
    } else if !problems.is_empty() {
        Check::fail(
            ID,
            format!("The SPF record needs {count} DNS lookups ({breakdown}), but {}.", problems.join("; ")),
            "Fix or remove the include/redirect terms named above; receivers return a permanent error when an included record is missing or invalid.",
        )
    } else {
        Check::pass(
            ID,
            format!(
                "The SPF record needs {count} of at most {MAX_LOOKUPS} DNS lookups ({breakdown})."
            ),
        )
    }
}

/// `spf.all`: what happens to mail from servers the record does not list.
fn check_all(domain: &str, spf: &Spf) -> Check {
    const ID: &str = "spf.all";
    let all = spf
        .directives
        .iter()
        .find(|d| d.mechanism == Mechanism::All)
        .map(|d| d.qualifier.clone());
    let strict_fix = "End the record with -all (or ~all while testing) so that receivers reject mail from servers you did not list.";
    match all {
        Some(Qualifier::Fail) => Check::pass(ID, "The record ends with -all: mail from unlisted servers fails SPF."),
        Some(Qualifier::SoftFail) => Check::pass(
            ID,
            "The record ends with ~all: mail from unlisted servers soft-fails SPF (DMARC still treats it as not authenticated). -all is stricter once every sender is listed.",
        ),
        Some(Qualifier::Pass) => Check::fail(
            ID,
            format!("The SPF record of {domain} ends with +all: every server on the internet is allowed to send as {domain}."),
            strict_fix,
        ),
        Some(Qualifier::Neutral) => Check::fail(
            ID,
            format!("The SPF record of {domain} ends with ?all: mail from any server is 'neutral', so SPF protects nothing."),
            strict_fix,
        ),
        None if spf.redirect.is_some() => Check::pass(ID, "The record has no all term; its redirect= record decides for unlisted servers."),
        None => Check::fail(
            ID,
            format!("The SPF record of {domain} has no all term, which means ?all: mail from any other server is 'neutral'."),
            strict_fix,
        ),
    }
}

fn spf_result_name(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror (the DNS did not answer)",
        SpfResult::PermError => "permerror (the record cannot be evaluated)",
        SpfResult::None => "none",
    }
}

/// `spf.relay`: each relay IP evaluated by mail-auth for a MAIL FROM in `domain`.
async fn check_relay(auth: &MessageAuthenticator, domain: &str, relay_ips: &[IpAddr]) -> Check {
    const ID: &str = "spf.relay";
    if relay_ips.is_empty() {
        return Check::fail(
            ID,
            "No relay IP address was given, so it is unknown whether the SPF record authorises the relay.",
            "Give the sending relay's public IP address(es) so SPF can be evaluated for them.",
        );
    }
    let sender = format!("mergeguard-preflight@{domain}");
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for &ip in relay_ips {
        let out = auth
            .verify_spf(SpfParameters::verify_mail_from(
                ip,
                domain,
                "preflight.mergeguard.invalid",
                &sender,
            ))
            .await;
        match out.result() {
            SpfResult::Pass => passed.push(ip.to_string()),
            other => failed.push(format!("{ip} gets {}", spf_result_name(other))),
        }
    }
    if failed.is_empty() {
        Check::pass(
            ID,
            format!(
                "SPF passes for the relay address(es) {}.",
                passed.join(", ")
            ),
        )
    } else {
        Check::fail(
            ID,
            format!("The SPF record of {domain} does not authorise the relay: {}.", failed.join("; ")),
            format!(
                "Add the relay to the SPF record of {domain}, e.g. ip4:{} (or the include: your mail provider documents).",
                relay_ips.first().map(|i| i.to_string()).unwrap_or_default()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf1_prefix_is_recognised_only_as_a_whole_word() {
        assert!(is_spf1("v=spf1 -all"));
        assert!(is_spf1("V=SPF1"));
        assert!(!is_spf1("v=spf10 -all"));
        assert!(!is_spf1("google-site-verification=x"));
    }
}

/// Parses an SPF record as strictly as a receiver may: mail-auth's parser is lenient
/// where RFC 7208 is not (it skips unknown mechanisms, reads `ip4:999.1.2.3` as
/// 255.1.2.3 and clamps `/33` to `/32`), and a receiver that refuses such a term
/// returns permerror for every message, so those terms are syntax errors here.
fn parse_record(record: &str) -> Result<Spf, String> {
    if let Some(term) = unknown_mechanism(record) {
        return Err(format!("unknown mechanism \"{term}\""));
    }
    if let Some(why) = bad_network(record) {
        return Err(why);
    }
    Spf::parse(record.as_bytes()).map_err(|e| e.to_string())
}

/// The first `ip4`/`ip6` network or `a`/`mx` prefix length that RFC 7208 §5.6 and
/// §5.3 do not allow, explained.
fn bad_network(record: &str) -> Option<String> {
    for term in record.split_ascii_whitespace().skip(1) {
        let body = term.strip_prefix(['+', '-', '~', '?']).unwrap_or(term);
        let (name, value) = match body.find([':', '/', '=']) {
            Some(i) => (&body[..i], &body[i..]),
            None => (body, ""),
        };
        if value.starts_with('=') {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "ip4" | "ip6" => {
                let v4 = lower == "ip4";
                let family = if v4 { "IPv4" } else { "IPv6" };
                let Some(net) = value.strip_prefix(':').filter(|n| !n.is_empty()) else {
                    return Some(format!(
                        "\"{term}\" has no {family} address after \"{name}:\""
                    ));
                };
                let (addr, prefix) = match net.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (net, None),
                };
                let valid = if v4 {
                    addr.parse::<Ipv4Addr>().is_ok()
                } else {
                    addr.parse::<Ipv6Addr>().is_ok()
                };
                if !valid {
                    return Some(format!("\"{term}\": \"{addr}\" is not an {family} address"));
                }
                let max = if v4 { 32 } else { 128 };
                if let Some(p) = prefix.filter(|p| !valid_prefix(p, max)) {
                    return Some(format!(
                        "\"{term}\": \"/{p}\" is not an {family} prefix length (0 to {max})"
                    ));
                }
            }
            "a" | "mx" => {
                // a[:domain][/ip4-len][//ip6-len]: the lengths follow the first '/'.
                let Some((_, cidr)) = value.split_once('/') else {
                    continue;
                };
                let (v4, v6) = match cidr.strip_prefix('/') {
                    Some(v6) => (None, Some(v6)),
                    None => match cidr.split_once("//") {
                        Some((v4, v6)) => (Some(v4), Some(v6)),
                        None => (Some(cidr), None),
                    },
                };
                if let Some(p) = v4.filter(|p| !valid_prefix(p, 32)) {
                    return Some(format!(
                        "\"{term}\": \"/{p}\" is not an IPv4 prefix length (0 to 32)"
                    ));
                }
                if let Some(p) = v6.filter(|p| !valid_prefix(p, 128)) {
                    return Some(format!(
                        "\"{term}\": \"//{p}\" is not an IPv6 prefix length (0 to 128)"
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// A prefix length as RFC 7208 writes it: digits without a leading zero, at most `max`.
fn valid_prefix(p: &str, max: u32) -> bool {
    !p.is_empty()
        && p.len() <= 3
        && p.bytes().all(|b| b.is_ascii_digit())
        && (p == "0" || !p.starts_with('0'))
        && p.parse::<u32>().is_ok_and(|n| n <= max)
}

/// The first term of an SPF record that is neither a known mechanism nor a modifier
/// (`name=value`; unknown modifiers are allowed by RFC 7208 §6).
fn unknown_mechanism(record: &str) -> Option<&str> {
    const MECHANISMS: [&str; 8] = ["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];
    record.split_ascii_whitespace().skip(1).find(|term| {
        let body = term.trim_start_matches(['+', '-', '~', '?']);
        let name_end = body.find([':', '/', '=']).unwrap_or(body.len());
        if body[name_end..].starts_with('=') {
            return false;
        }
        let name = &body[..name_end];
        !MECHANISMS.iter().any(|m| m.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod syntax_tests {
    use super::{parse_record, unknown_mechanism, Spf, TxtRecordParser};

    #[test]
    fn unknown_mechanism_is_found_and_modifiers_are_not() {
        assert_eq!(
            unknown_mechanism("v=spf1 ip4:127.0.0.1 frobnicate:x -all"),
            Some("frobnicate:x")
        );
        assert_eq!(
            unknown_mechanism("v=spf1 a mx/24 ip6:::1 include:x.test redirect=y.test exp=z ~all"),
            None
        );
        assert_eq!(unknown_mechanism("v=spf1 -IP4:10.0.0.0/8 ?all"), None);
    }

    #[test]
    fn mail_auth_alone_accepts_networks_a_receiver_refuses() {
        // Why parse_record exists: these parse without error in mail-auth 0.13.
        for r in [
            "v=spf1 ip4:999.1.2.3 -all",
            "v=spf1 ip4:10.0.0.0/33 -all",
            "v=spf1 a/99 -all",
        ] {
            assert!(Spf::parse(r.as_bytes()).is_ok(), "{r}");
        }
    }

    #[test]
    fn invalid_ip_networks_are_syntax_errors() {
        for (record, why) in [
            (
                "v=spf1 ip4:999.1.2.3 -all",
                "\"ip4:999.1.2.3\": \"999.1.2.3\" is not an IPv4 address",
            ),
            (
                "v=spf1 ip4:10.0.0.0/33 -all",
                "\"ip4:10.0.0.0/33\": \"/33\" is not an IPv4 prefix length (0 to 32)",
            ),
            (
                "v=spf1 ip6:zz::garbage -all",
                "\"ip6:zz::garbage\": \"zz::garbage\" is not an IPv6 address",
            ),
            (
                "v=spf1 ip6:2001:db8::/129 -all",
                "\"ip6:2001:db8::/129\": \"/129\" is not an IPv6 prefix length (0 to 128)",
            ),
            (
                "v=spf1 ip6: -all",
                "\"ip6:\" has no IPv6 address after \"ip6:\"",
            ),
            (
                "v=spf1 +ip4 -all",
                "\"+ip4\" has no IPv4 address after \"ip4:\"",
            ),
            (
                "v=spf1 ip4:1.2.3 -all",
                "\"ip4:1.2.3\": \"1.2.3\" is not an IPv4 address",
            ),
            (
                "v=spf1 ip4:1.2.3.4/ -all",
                "\"ip4:1.2.3.4/\": \"/\" is not an IPv4 prefix length (0 to 32)",
            ),
            (
                "v=spf1 ip4:1.2.3.4/024 -all",
                "\"ip4:1.2.3.4/024\": \"/024\" is not an IPv4 prefix length (0 to 32)",
            ),
            (
                "v=spf1 ip4:1.2.3.4:25 -all",
                "\"ip4:1.2.3.4:25\": \"1.2.3.4:25\" is not an IPv4 address",
            ),
            (
                "v=spf1 ip6:::ffff:1.2.3.256 -all",
                "\"ip6:::ffff:1.2.3.256\": \"::ffff:1.2.3.256\" is not an IPv6 address",
            ),
            (
                "v=spf1 a/33 -all",
                "\"a/33\": \"/33\" is not an IPv4 prefix length (0 to 32)",
            ),
            (
                "v=spf1 mx:mail.test//200 -all",
                "\"mx:mail.test//200\": \"//200\" is not an IPv6 prefix length (0 to 128)",
            ),
        ] {
            assert_eq!(parse_record(record).err().as_deref(), Some(why), "{record}");
        }
    }

    #[test]
    fn valid_ip_networks_parse() {
        for record in [
            "v=spf1 ip4:192.0.2.1 ip4:10.0.0.0/8 ip4:0.0.0.0/0 IP4:198.51.100.0/32 -all",
            "v=spf1 ip6:::1 ip6:2001:db8::/32 ip6:::ffff:192.0.2.1/128 ip6:2001:DB8:0:0:0:0:0:1 ~all",
            "v=spf1 a a/24 a:mail.test/24//64 mx//64 mx:mail.test -all",
            "v=spf1 ip4:192.0.2.1 redirect=other.test",
        ] {
            let spf = parse_record(record).unwrap_or_else(|e| panic!("{record}: {e}"));
            assert!(!spf.directives.is_empty(), "{record}");
        }
    }
}
