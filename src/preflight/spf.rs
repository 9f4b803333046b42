//! SPF checks of the sender domain: one record, valid syntax, at most ten DNS-lookup
//! terms (RFC 7208 §4.6.4, counted through include/redirect), a strict `all`, and the
//! relay's IP addresses authorised (evaluated by mail-auth exactly as a receiver would).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::{Macro, Mechanism, Qualifier, Spf};
use mail_auth::{MessageAuthenticator, SpfResult};

use super::dns::{lookup_ips, lookup_mx, lookup_txt, Answer};
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
    /// True when SPF could not be evaluated for the relay because no relay address was
    /// given: then nobody knows whether SPF passes, which is not the same as failing.
    pub relay_unknown: bool,
}

/// True for a TXT record that claims to be SPF version 1 (RFC 7208 §4.5).
fn is_spf1(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

/// Runs `spf.record`, `spf.syntax`, `spf.lookups`, `spf.ptr`, `spf.all` and `spf.relay`
/// for `domain`.
pub(crate) async fn check_spf(
    auth: &MessageAuthenticator,
    domain: &str,
    relay: &RelaySpf<'_>,
) -> (Vec<Check>, SpfOutcome) {
    let mut checks = Vec::new();
    let mut outcome = SpfOutcome::default();
    let records = match lookup_txt(auth, domain).await {
        Answer::Found(txt) => txt.into_iter().filter(|t| is_spf1(t)).collect::<Vec<_>>(),
        Answer::Missing => Vec::new(),
        Answer::Trouble(t) => {
            checks.push(Check::fail(
                "spf.record",
                format!("Could not read the SPF record of {domain}: {t}; receivers return temperror (RFC 7208 §4.4)."),
                "Check that the DNS server is reachable and answering for this domain, then run the checks again.",
            ));
            return (checks, outcome);
        }
    };
    let record = match records.as_slice() {
        [] => {
            checks.push(Check::fail(
                "spf.record",
                format!("{domain} has no SPF record (no TXT record starting with v=spf1), so SPF gives none for its mail (RFC 7208 §4.5)."),
                format!("Publish one TXT record at {domain} such as \"v=spf1 ip4:<relay IP> -all\" (or include: your mail provider) that lists every server sending for the domain."),
            ));
            return (checks, outcome);
        }
        [one] => one.clone(),
        many => {
            checks.push(Check::fail(
                "spf.record",
                format!(
                    "{domain} has {} SPF records ({}); receivers treat that as a permanent error and SPF fails for every message (RFC 7208 §4.5).",
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
        format!("{domain} publishes one SPF record: \"{record}\" (RFC 7208 §4.5)."),
    ));

    // mail-auth's parser skips terms it does not know; RFC 7208 §4.6.1 makes an unknown
    // mechanism a permanent error, so receivers fail SPF for every message.
    let spf = match parse_record(&record) {
        Ok(spf) => spf,
        Err(e) => {
            checks.push(Check::fail(
                "spf.syntax",
                format!("The SPF record of {domain} is not valid ({e}): \"{record}\"; receivers return permerror (RFC 7208 §4.6, §5.6)."),
                "Correct the record against RFC 7208: mechanisms are all, include, a, mx, ptr, ip4, ip6, exists; modifiers redirect= and exp=.",
            ));
            return (checks, outcome);
        }
    };
    checks.push(Check::pass(
        "spf.syntax",
        "The SPF record is valid (RFC 7208 §4.6, §12).",
    ));

    let walked = walk(auth, domain, &spf).await;
    checks.push(check_lookups(&walked));
    checks.push(check_ptr(&walked));
    checks.push(check_all(domain, &spf, &walked.records));
    let relay = check_relay(auth, domain, relay, &walked.includes).await;
    outcome.relay_passes = relay.status == super::Status::Pass;
    outcome.relay_unknown = relay.status == super::Status::Skipped;
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

/// Stop walking after this many records: a record tree this large is far past the
/// lookup limit already, and a walk must stay bounded whatever the DNS holds.
const MAX_RECORDS: usize = 64;

/// RFC 7208 §4.6.4: more than two void lookups (NXDOMAIN or an empty answer) is a
/// permerror at the receiver.
pub const MAX_VOID_LOOKUPS: usize = 2;

/// What walking an SPF record through its include and redirect terms found.
struct Walk {
    /// DNS-querying terms (include, a, mx, ptr, exists, redirect), counting a record
    /// reached twice twice, as a receiver that evaluates both paths does.
    lookups: usize,
    /// Lookups per record, "name: n", one entry per visit.
    parts: Vec<String>,
    /// a/mx/exists terms whose name has no such record (RFC 7208 §4.6.4).
    void: Vec<String>,
    /// Problems a receiver answers with permerror or temperror.
    problems: Vec<String>,
    /// Records that use `ptr` (RFC 7208 §5.5).
    ptr: Vec<String>,
    /// Every record fetched, by domain, for following `redirect=` in `spf.all`.
    records: HashMap<String, Spf>,
    /// Every domain an `include:` of the tree names (literal names only), whether or not
    /// its record could be fetched: `spf.relay` looks for the provider's include here.
    includes: std::collections::HashSet<String>,
}

/// Walks `root` (the record of `domain`) depth-first through include and redirect,
/// counting lookups and void lookups (RFC 7208 §4.6.4). A domain reached again on
/// another path is walked again and counted again; only a domain that includes one of
/// its own ancestors is a loop.
async fn walk(auth: &MessageAuthenticator, domain: &str, root: &Spf) -> Walk {
    let mut w = Walk {
        lookups: 0,
        parts: Vec::new(),
        void: Vec::new(),
        problems: Vec::new(),
        ptr: Vec::new(),
        records: HashMap::from([(domain.to_string(), root.clone())]),
        includes: Default::default(),
    };
    // Fetched records (or why there is none), so a second visit asks the DNS no more.
    let mut fetched: HashMap<String, Result<Spf, String>> = HashMap::new();
    // Void-lookup answers per (mechanism, name), asked once.
    let mut void_cache: HashMap<(&'static str, String), bool> = HashMap::new();
    // (domain, record, ancestors from the root down to the parent).
    let mut stack: Vec<(String, Spf, Vec<String>)> =
        vec![(domain.to_string(), root.clone(), Vec::new())];
    let mut visits = 0usize;
    while let Some((name, spf, ancestors)) = stack.pop() {
        visits += 1;
        if visits > MAX_RECORDS {
            w.problems.push(format!("the include/redirect tree has more than {MAX_RECORDS} records, so the walk stopped"));
            break;
        }
        let mut here = 0usize;
        let mut follow = Vec::new();
        for directive in spf.directives.iter() {
            let (kind, macro_string) = match &directive.mechanism {
                Mechanism::Include { macro_string } => {
                    here += 1;
                    let t = target(&name, macro_string);
                    if let Some(t) = &t {
                        w.includes.insert(t.clone());
                    }
                    follow.push((t, "include"));
                    continue;
                }
                Mechanism::Ptr { .. } => {
                    here += 1;
                    if !w.ptr.contains(&name) {
                        w.ptr.push(name.clone());
                    }
                    continue;
                }
                Mechanism::A { macro_string, .. } => ("a", macro_string),
                Mechanism::Mx { macro_string, .. } => ("mx", macro_string),
                Mechanism::Exists { macro_string } => ("exists", macro_string),
                Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => continue,
            };
            here += 1;
            // A macro name depends on the message; only literal names can be tried.
            let Some(looked_up) = target(&name, macro_string) else {
                continue;
            };
            let key = (kind, looked_up.clone());
            let is_void = match void_cache.get(&key) {
                Some(&v) => v,
                None => {
                    let answer = match kind {
                        "mx" => match lookup_mx(auth, &looked_up).await {
                            Answer::Found(_) => Ok(false),
                            Answer::Missing => Ok(true),
                            Answer::Trouble(t) => Err(t),
                        },
                        _ => match lookup_ips(auth, &looked_up).await {
                            Answer::Found(_) => Ok(false),
                            Answer::Missing => Ok(true),
                            Answer::Trouble(t) => Err(t),
                        },
                    };
                    let v = match answer {
                        Ok(v) => v,
                        Err(t) => {
                            w.problems.push(format!("{t} (receivers return temperror)"));
                            false
                        }
                    };
                    void_cache.insert(key, v);
                    v
                }
            };
            if is_void {
                let what = if kind == "mx" {
                    "no MX record"
                } else {
                    "no address record"
                };
                w.void
                    .push(format!("{kind}:{looked_up} in {name} ({what})"));
            }
        }
        // RFC 7208 §6.1: redirect= is ignored when the record has an all mechanism.
        let has_all = spf.directives.iter().any(|d| d.mechanism == Mechanism::All);
        if let Some(redirect) = spf.redirect.as_ref().filter(|_| !has_all) {
            here += 1;
            follow.push((target(&name, redirect), "redirect"));
        }
        w.lookups += here;
        w.parts.push(format!("{name}: {here}"));
        let mut path = ancestors.clone();
        path.push(name.clone());
        for (next, how) in follow.into_iter().rev() {
            let Some(next) = next else {
                w.problems.push(format!(
                    "a {how} in {name} uses a macro, so its lookups could not be counted"
                ));
                continue;
            };
            if path.contains(&next) {
                w.problems.push(format!(
                    "{} {how}s {next} again, a loop (receivers return permerror once the loop passes {MAX_LOOKUPS} lookups)",
                    path.join(" → ")
                ));
                continue;
            }
            if path.len() > MAX_DEPTH {
                w.problems.push(format!(
                    "includes nest deeper than {MAX_DEPTH} levels at {next}"
                ));
                continue;
            }
            let record = match fetched.get(&next) {
                Some(r) => r.clone(),
                None => {
                    let r = fetch_record(auth, &next).await;
                    fetched.insert(next.clone(), r.clone());
                    r
                }
            };
            match record {
                Ok(parsed) => {
                    w.records.insert(next.clone(), parsed.clone());
                    stack.push((next, parsed, path.clone()));
                }
                Err(why) => w
                    .problems
                    .push(format!("{next} ({how}d from {name}) {why}")),
            }
        }
    }
    w.parts.sort();
    w
}

/// The one SPF record of an included or redirected-to domain, or what is wrong.
async fn fetch_record(auth: &MessageAuthenticator, name: &str) -> Result<Spf, String> {
    match lookup_txt(auth, name).await {
        Answer::Found(txt) => {
            let spf1: Vec<_> = txt.into_iter().filter(|t| is_spf1(t)).collect();
            match spf1.as_slice() {
                [one] => parse_record(one)
                    .map_err(|e| format!("has an SPF record that is not valid: {e}")),
                [] => Err("has no SPF record".into()),
                _ => Err("has more than one SPF record".into()),
            }
        }
        Answer::Missing => Err("has no SPF record".into()),
        Answer::Trouble(t) => Err(format!("could not be read: {t}")),
    }
}

/// `spf.lookups`: RFC 7208 §4.6.4's two limits, ten DNS-querying terms and two void
/// lookups, over the whole include/redirect tree, plus includes that cannot be followed
/// (RFC 7208 §5.2: an include of a domain without a record is a permerror).
fn check_lookups(w: &Walk) -> Check {
    const ID: &str = "spf.lookups";
    let count = w.lookups;
    let breakdown = w.parts.join(", ");
    let void = w.void.len();
    if count > MAX_LOOKUPS {
        Check::fail(
            ID,
            format!("The SPF record needs {count} DNS lookups ({breakdown}); receivers stop at {MAX_LOOKUPS} and SPF fails with a permanent error (RFC 7208 §4.6.4)."),
            "Reduce the lookups: replace a, mx and include terms by ip4:/ip6: ranges where you can, drop includes of services that no longer send for you, and never use ptr.",
        )
    } else if void > MAX_VOID_LOOKUPS {
        Check::fail(
            ID,
            format!(
                "The SPF record makes {void} void lookups, names with no record ({}); receivers stop after {MAX_VOID_LOOKUPS} and SPF fails with a permanent error (RFC 7208 §4.6.4).",
                w.void.join("; ")
            ),
            "Remove the a, mx and exists terms that point at names without records, or publish those records.",
        )
    } else if !w.problems.is_empty() {
        Check::fail(
            ID,
            format!("The SPF record needs {count} DNS lookups ({breakdown}), but {} (RFC 7208 §5.2, §4.6.4).", w.problems.join("; ")),
            "Fix or remove the include/redirect terms named above; receivers return a permanent error when an included record is missing or invalid.",
        )
    } else {
        let void_note = if void > 0 {
            format!("; {void} void lookup(s): {}", w.void.join("; "))
        } else {
            String::new()
        };
        Check::pass(
            ID,
            format!("The SPF record needs {count} of at most {MAX_LOOKUPS} DNS lookups ({breakdown}){void_note} (RFC 7208 §4.6.4)."),
        )
    }
}

/// `spf.ptr`: RFC 7208 §5.5 says the ptr mechanism SHOULD NOT be used: it is slow,
/// unreliable, and many large receivers skip it, so the servers it is meant to
/// authorise may not pass at all.
fn check_ptr(w: &Walk) -> Check {
    const ID: &str = "spf.ptr";
    if w.ptr.is_empty() {
        Check::pass(
            ID,
            "No record in the SPF tree uses the ptr mechanism (RFC 7208 §5.5).",
        )
    } else {
        Check::warning(
            ID,
            format!(
                "The ptr mechanism is used in the SPF record of {}; RFC 7208 §5.5 says it SHOULD NOT be used, and receivers may ignore it, so servers listed only through ptr can fail SPF.",
                w.ptr.join(", ")
            ),
            "Replace ptr by ip4:/ip6: ranges (or a/mx terms) for the servers it was meant to authorise.",
        )
    }
}

/// The `all` that decides for servers no mechanism lists: the record's own, else the
/// one of the record its `redirect=` names, followed as a receiver does (RFC 7208 §6.1).
/// Returns the qualifier (None when no record in the chain has `all`) and the chain.
fn effective_all(
    domain: &str,
    spf: &Spf,
    records: &HashMap<String, Spf>,
) -> (Option<Qualifier>, Vec<String>) {
    let mut chain = vec![domain.to_string()];
    let mut current = spf;
    let mut name = domain.to_string();
    loop {
        if let Some(d) = current
            .directives
            .iter()
            .find(|d| d.mechanism == Mechanism::All)
        {
            return (Some(d.qualifier.clone()), chain);
        }
        let next = current.redirect.as_ref().and_then(|r| target(&name, r));
        match next.and_then(|n| records.get(&n).map(|r| (n, r))) {
            Some((n, r)) if !chain.contains(&n) && chain.len() <= MAX_DEPTH => {
                chain.push(n.clone());
                name = n;
                current = r;
            }
            _ => return (None, chain),
        }
    }
}

/// `spf.all`: what happens to mail from servers the record does not list, after any
/// `redirect=` (RFC 7208 §5.1, §6.1; no match at all means neutral, §4.7).
fn check_all(domain: &str, spf: &Spf, records: &HashMap<String, Spf>) -> Check {
    const ID: &str = "spf.all";
    let (all, chain) = effective_all(domain, spf, records);
    let via = if chain.len() > 1 {
        format!(" (reached through redirect= {})", chain.join(" → "))
    } else {
        String::new()
    };
    let strict_fix = "End the record with -all (or ~all while testing) so that receivers reject mail from servers you did not list.";
    match all {
        Some(Qualifier::Fail) => Check::pass(ID, format!("The record ends with -all{via}: mail from unlisted servers fails SPF (RFC 7208 §5.1).")),
        Some(Qualifier::SoftFail) => Check::pass(
            ID,
            format!("The record ends with ~all{via}: mail from unlisted servers soft-fails SPF (RFC 7208 §5.1; DMARC still treats it as not authenticated). -all is stricter once every sender is listed."),
        ),
        Some(Qualifier::Pass) => Check::fail(
            ID,
            format!("The SPF record of {domain} ends with +all{via}: every server on the internet is allowed to send as {domain} (RFC 7208 §5.1)."),
            strict_fix,
        ),
        Some(Qualifier::Neutral) => Check::fail(
            ID,
            format!("The SPF record of {domain} ends with ?all{via}: mail from any server is 'neutral', so SPF protects nothing (RFC 7208 §5.1, §8.2)."),
            strict_fix,
        ),
        // The walk stopped at a record that still redirects: its target could not be read.
        None if (if chain.len() == 1 { Some(spf) } else { chain.last().and_then(|last| records.get(last)) })
            .is_some_and(|r| r.redirect.is_some()) => Check::fail(
            ID,
            format!("The redirect= at the end of {} names a record that could not be read (see spf.lookups); receivers return permerror (RFC 7208 §6.1).", chain.join(" → ")),
            "Point redirect= at a domain that publishes one valid SPF record ending in -all.",
        ),
        None if chain.len() > 1 || spf.redirect.is_some() => Check::fail(
            ID,
            format!("No record of the redirect= chain {} has an all term, so mail from unlisted servers is 'neutral' (RFC 7208 §4.7, §6.1).", chain.join(" → ")),
            strict_fix,
        ),
        None => Check::fail(
            ID,
            format!("The SPF record of {domain} has no all term, which means ?all: mail from any other server is 'neutral' (RFC 7208 §4.7)."),
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

/// What `spf.relay` knows of the relay: its sending addresses, whether they were
/// declared (relay profile, `[relay] outbound_ips`) or resolved from its host name, and
/// the `include:` its provider publishes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RelaySpf<'a> {
    pub ips: &'a [IpAddr],
    /// True when `ips` are the relay's declared outbound addresses.
    pub declared: bool,
    /// The relay's host name, when `ips` were resolved from it.
    pub host: Option<&'a str>,
    /// The provider's SPF include (`spf.protection.outlook.com`, `_spf.google.com`).
    pub include: Option<&'a str>,
}

/// The SPF terms that authorise a relay: its provider's `include:`, else its addresses
/// as `ip4:`/`ip6:` — the same terms `domain_setup::spf_record` suggests.
pub fn relay_terms(include: Option<&str>, ips: &[IpAddr]) -> Vec<String> {
    match include {
        Some(i) => vec![format!("include:{i}")],
        None => ips
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => format!("ip4:{v4}"),
                IpAddr::V6(v6) => format!("ip6:{v6}"),
            })
            .collect(),
    }
}

/// `spf.relay`: the relay's declared outbound addresses, each evaluated by mail-auth for
/// a MAIL FROM in `domain` (all must pass); without declared addresses, the provider's
/// `include:` found in the record (Microsoft 365 and Google send from far more
/// addresses than their submission host resolves to); else the addresses the host name
/// resolves to.
async fn check_relay(
    auth: &MessageAuthenticator,
    domain: &str,
    relay: &RelaySpf<'_>,
    includes: &std::collections::HashSet<String>,
) -> Check {
    const ID: &str = "spf.relay";
    if !relay.declared {
        if let Some(include) = relay.include {
            return relay_by_include(domain, include, includes);
        }
    }
    let relay_ips = relay.ips;
    if relay_ips.is_empty() {
        return Check::skipped(
            ID,
            "Not checked: no relay address was given, so it is unknown whether the SPF record authorises the relay (RFC 7208 §4 evaluates a client IP).",
            "Give the relay (check-domain --relay HOST:PORT or --relay-ip IP, [relay] in the campaign, or the outbound addresses in the relay profile) so SPF can be evaluated for its addresses.",
        );
    }
    let source = match (relay.declared, relay.host) {
        (true, _) => "the relay's declared outbound address(es)".to_owned(),
        (false, Some(h)) => format!("the address(es) {h} resolves to (no outbound addresses declared; if the relay's mail leaves from other servers, declare them in the relay profile)"),
        (false, None) => "the relay address(es) given".to_owned(),
    };
    let sender = format!("mergeguard-preflight@{domain}");
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    let mut missing = Vec::new();
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
            other => {
                failed.push(format!("{ip} gets {}", spf_result_name(other)));
                missing.push(ip);
            }
        }
    }
    if failed.is_empty() {
        Check::pass(
            ID,
            format!(
                "SPF passes for {source}: {} (RFC 7208 §4.6, §2.6.3).",
                passed.join(", ")
            ),
        )
    } else {
        Check::fail(
            ID,
            format!("The SPF record of {domain} does not authorise every address of {source}: {} (RFC 7208 §2.6; all must pass, since the relay may send from any of them).", failed.join("; ")),
            format!(
                "Add {} to the SPF record of {domain} (or the include: your mail provider documents).",
                relay_terms(None, &missing).join(" ")
            ),
        )
    }
}

/// `spf.relay` for a provider relay without declared addresses: passes when the record
/// (through its includes and redirects) includes the provider's SPF name.
fn relay_by_include(
    domain: &str,
    include: &str,
    includes: &std::collections::HashSet<String>,
) -> Check {
    const ID: &str = "spf.relay";
    let wanted = include.trim_end_matches('.').to_ascii_lowercase();
    if includes.contains(&wanted) {
        Check::pass(
            ID,
            format!("The SPF record of {domain} includes {wanted}, which the relay's provider publishes for all the servers its mail leaves from (RFC 7208 §5.2; no outbound addresses declared, and the provider's submission host is not where its mail leaves from)."),
        )
    } else {
        Check::fail(
            ID,
            format!("The SPF record of {domain} does not include {wanted}, the SPF name the relay's provider publishes for its outbound servers, so receivers see SPF fail or softfail for its mail (RFC 7208 §5.2)."),
            format!(
                "Add {} to the SPF record of {domain}, e.g. \"v=spf1 {} ~all\".",
                relay_terms(Some(&wanted), &[]).join(" "),
                relay_terms(Some(&wanted), &[]).join(" ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;

    fn walk_with(lookups: usize, void: usize, problems: &[&str], ptr: &[&str]) -> Walk {
        Walk {
            lookups,
            parts: vec![format!("x.test: {lookups}")],
            void: (0..void)
                .map(|i| format!("a:nx{i}.x.test in x.test (no address record)"))
                .collect(),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            ptr: ptr.iter().map(|p| p.to_string()).collect(),
            records: HashMap::new(),
            includes: Default::default(),
        }
    }

    #[test]
    fn rfc7208_4_6_4_ten_lookups_and_two_void_lookups_are_the_limits() {
        assert_eq!(
            check_lookups(&walk_with(10, 2, &[], &[])).status,
            Status::Pass
        );
        let c = check_lookups(&walk_with(11, 0, &[], &[]));
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains("11 DNS lookups") && c.detail.contains("§4.6.4"),
            "{c:?}"
        );
        let c = check_lookups(&walk_with(3, 3, &[], &[]));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("3 void lookups"), "{c:?}");
        let c = check_lookups(&walk_with(
            1,
            0,
            &["y.test (included from x.test) has no SPF record"],
            &[],
        ));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("§5.2"), "{c:?}");
    }

    #[test]
    fn provider_relay_passes_by_its_include_and_fails_without_it() {
        let with: std::collections::HashSet<String> =
            ["_spf.google.com".to_owned(), "other.test".to_owned()].into();
        let c = relay_by_include("shop.test", "_spf.google.com", &with);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(c.detail.contains("§5.2"));
        let c = relay_by_include("shop.test", "spf.protection.outlook.com.", &with);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.fix.contains("include:spf.protection.outlook.com"),
            "{c:?}"
        );
        assert_eq!(
            relay_terms(
                None,
                &["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]
            ),
            ["ip4:192.0.2.1", "ip6:2001:db8::1"]
        );
    }

    #[test]
    fn rfc7208_5_5_ptr_is_flagged() {
        assert_eq!(check_ptr(&walk_with(1, 0, &[], &[])).status, Status::Pass);
        let c = check_ptr(&walk_with(1, 0, &[], &["x.test"]));
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.detail.contains("§5.5") && c.detail.contains("x.test"),
            "{c:?}"
        );
    }

    #[test]
    fn rfc7208_6_1_redirect_target_decides_the_all() {
        let root = parse_record("v=spf1 ip4:192.0.2.1 redirect=b.test").unwrap();
        let b = parse_record("v=spf1 redirect=c.test").unwrap();
        let plus = parse_record("v=spf1 +all").unwrap();
        let records = HashMap::from([("b.test".to_string(), b), ("c.test".to_string(), plus)]);
        let c = check_all("a.test", &root, &records);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.detail.contains("+all") && c.detail.contains("a.test → b.test → c.test"),
            "{c:?}"
        );
        // The record's own all wins; the redirect is ignored (RFC 7208 §6.1).
        let own = parse_record("v=spf1 -all redirect=c.test").unwrap();
        assert_eq!(check_all("a.test", &own, &records).status, Status::Pass);
        // A redirect whose target was never read is a permerror, not a pass.
        let dangling = parse_record("v=spf1 redirect=gone.test").unwrap();
        let c = check_all("a.test", &dangling, &HashMap::new());
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("could not be read"), "{c:?}");
    }

    #[test]
    fn rfc7208_4_7_no_all_is_neutral() {
        let c = check_all(
            "a.test",
            &parse_record("v=spf1 ip4:192.0.2.1").unwrap(),
            &HashMap::new(),
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("§4.7"), "{c:?}");
    }

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
