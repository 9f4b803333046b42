//! DMARC checks of the From domain: the record (at `_dmarc.<domain>`, else at the
//! organisational domain), its policy, aggregate reports, and whether DKIM and/or SPF
//! pass *aligned* with the From domain under the record's adkim/aspf.
//!
//! The organisational domain is computed with a deliberately small public-suffix rule
//! instead of the full Public Suffix List (no list to ship or keep current): it is the
//! last two labels, or the last three when the last two are a known second-level
//! registry suffix such as `co.jp` or `co.uk` ([`SECOND_LEVEL_SUFFIXES`]). Domains under
//! other multi-label suffixes (e.g. `pref.osaka.jp`) can be misjudged; the consequence
//! is only that the fallback lookup or relaxed alignment is computed one level off.

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Alignment, Dmarc, Policy};
use mail_auth::MessageAuthenticator;

use super::dns::{lookup_txt, Answer};
use super::Check;

/// Second-level suffixes under which registrations happen one level deeper.
pub const SECOND_LEVEL_SUFFIXES: &[&str] = &[
    // Japan
    "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "ad.jp", "ed.jp", "gr.jp", "lg.jp",
    // United Kingdom
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "sch.uk",
    // Australia and New Zealand
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au", "co.nz", "net.nz",
    "org.nz", "ac.nz", "govt.nz", // Elsewhere in Asia and the Americas
    "com.cn", "net.cn", "org.cn", "com.tw", "org.tw", "com.hk", "com.sg", "com.my", "co.kr",
    "or.kr", "co.in", "co.th", "co.id", "com.br", "com.mx", "com.ar",
];

/// The organisational domain of `domain` (see the module documentation for the rule).
pub fn org_domain(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() <= 2 {
        return domain;
    }
    let last_two = labels[labels.len() - 2..].join(".");
    let keep = if SECOND_LEVEL_SUFFIXES.contains(&last_two.as_str()) {
        3
    } else {
        2
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

/// Identifier alignment of RFC 7489 §3.1: strict means the same name, relaxed the same
/// organisational domain.
fn aligned(from: &str, other: &str, mode: Alignment) -> bool {
    let from = from.trim_end_matches('.').to_ascii_lowercase();
    let other = other.trim_end_matches('.').to_ascii_lowercase();
    match mode {
        Alignment::Strict => from == other,
        Alignment::Relaxed => org_domain(&from) == org_domain(&other),
    }
}

fn mode_name(mode: Alignment) -> &'static str {
    match mode {
        Alignment::Strict => "strict",
        Alignment::Relaxed => "relaxed",
    }
}

fn is_dmarc1(txt: &str) -> bool {
    let t: String = txt.chars().filter(|c| !c.is_whitespace()).collect();
    t.len() >= 8
        && t[..8].eq_ignore_ascii_case("v=DMARC1")
        && t[8..].chars().next().is_none_or(|c| c == ';')
}

/// What authenticated, as the DMARC alignment check needs it: the domain that passed
/// DKIM (`d=`) and the domain that passed SPF (the MAIL FROM domain), when they did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authenticated<'a> {
    pub dkim_domain: Option<&'a str>,
    pub spf_domain: Option<&'a str>,
    /// A DKIM domain whose result is unknown because the check could not run (no key).
    pub dkim_unknown: Option<&'a str>,
    /// An SPF domain whose result is unknown because the check could not run (no relay).
    pub spf_unknown: Option<&'a str>,
}

/// The tag=value pairs of a DMARC record as written (RFC 7489 §6.4), names lower-cased
/// and values trimmed; mail-auth's parser drops what it does not model (pct) and
/// cannot say whether p= was present.
fn raw_tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect()
}

fn raw_tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// One entry of rua=, as RFC 7489 §6.2/§6.4 write it: a URI with an optional `!size`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReportUri {
    /// `mailto:` with the address's domain (lower-cased).
    Mailto { uri: String, domain: String },
    /// Another scheme: valid, but receivers only have to support mailto (§6.2).
    Other(String),
    /// Not a URI; the text says why.
    Invalid(String),
}

fn report_uris(value: &str) -> Vec<ReportUri> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            // "!10m" after the URI is a size limit (§6.2); '!' cannot occur in the URI.
            let uri = entry.split('!').next().unwrap_or(entry).trim();
            let scheme_end = uri.find(':');
            let scheme = scheme_end.map(|i| &uri[..i]).filter(|s| {
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
            match scheme {
                None => Invalid(format!(
                    "\"{entry}\" has no URI scheme; write rua=mailto:{uri} (RFC 7489 §6.2, §6.4)"
                )),
                Some(s) if s.eq_ignore_ascii_case("mailto") => {
                    let address = &uri[s.len() + 1..];
                    let address = address.split('?').next().unwrap_or(address);
                    match address.rsplit_once('@') {
                        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
                            Mailto {
                                uri: uri.to_string(),
                                domain: domain.trim_end_matches('.').to_ascii_lowercase(),
                            }
                        }
                        _ => Invalid(format!(
                            "\"{entry}\" is not a mailto: address (RFC 7489 §6.2)"
                        )),
                    }
                }
                Some(_) => Other(uri.to_string()),
            }
        })
        .collect()
}
use ReportUri::{Invalid, Mailto, Other};

enum Found {
    Record { at: String, raw: String },
    None,
    Trouble(String),
    Several { at: String, count: usize },
}

async fn find_record(auth: &MessageAuthenticator, domain: &str) -> Found {
    let name = format!("_dmarc.{domain}");
    match lookup_txt(auth, &name).await {
        Answer::Found(txt) => {
            let mut records: Vec<String> = txt.into_iter().filter(|t| is_dmarc1(t)).collect();
            match records.len() {
                0 => Found::None,
                1 => Found::Record {
                    at: name,
                    raw: records.remove(0),
                },
                count => Found::Several { at: name, count },
            }
        }
        Answer::Missing => Found::None,
        Answer::Trouble(t) => Found::Trouble(t),
    }
}

/// Runs `dmarc.record`, `dmarc.policy`, `dmarc.rua` and `dmarc.alignment`; every
/// verdict names the RFC 7489 section it comes from.
pub(crate) async fn check_dmarc(
    auth: &MessageAuthenticator,
    from_domain: &str,
    authenticated: &Authenticated<'_>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let org = org_domain(from_domain);
    let mut found = find_record(auth, from_domain).await;
    let mut from_org = false;
    if matches!(found, Found::None) && org != from_domain.to_ascii_lowercase() {
        found = find_record(auth, &org).await;
        from_org = true;
    }
    let (at, raw) = match found {
        Found::Record { at, raw } => (at, raw),
        Found::None => {
            let also = if org != from_domain.to_ascii_lowercase() {
                format!(" nor at _dmarc.{org}")
            } else {
                String::new()
            };
            checks.push(Check::fail(
                "dmarc.record",
                format!("There is no DMARC record at _dmarc.{from_domain}{also} (RFC 7489 §6.6.3); receivers such as Gmail and Yahoo require one from bulk senders."),
                format!("Publish a TXT record at _dmarc.{org}, for example \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}\", then tighten p= once reports look right."),
            ));
            return checks;
        }
        Found::Several { at, count } => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("{at} has {count} DMARC records; receivers then ignore DMARC for the domain altogether (RFC 7489 §6.6.3)."),
                format!("Keep exactly one v=DMARC1 TXT record at {at}."),
            ));
            return checks;
        }
        Found::Trouble(t) => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("Could not read the DMARC record of {from_domain}: {t} (temperror, RFC 7489 §6.6.3)."),
                "Check that the DNS server is reachable and answering for this domain, then run the checks again.",
            ));
            return checks;
        }
    };
    // rua=/ruf= are read here ([`report_uris`]): mail-auth refuses the whole record over
    // one bad report URI, while RFC 7489 §6.6.3 only discards that tag.
    let without_reports: Vec<&str> = raw
        .split(';')
        .filter(|part| {
            let name = part
                .split_once('=')
                .map(|(n, _)| n.trim().to_ascii_lowercase())
                .unwrap_or_default();
            name != "rua" && name != "ruf"
        })
        .collect();
    let record: Dmarc = match Dmarc::parse(without_reports.join(";").as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("The DMARC record at {at} is not valid ({e}): \"{raw}\"; receivers ignore it (RFC 7489 §6.3, §6.6.3)."),
                "Correct it against RFC 7489: p=none|quarantine|reject, optional sp=, adkim=r|s, aspf=r|s, rua=mailto:...",
            ));
            return checks;
        }
    };
    let tags = raw_tags(&raw);
    let record_domain = at.trim_start_matches("_dmarc.").to_string();
    let uris = raw_tag(&tags, "rua").map(report_uris).unwrap_or_default();
    let valid_rua = uris.iter().any(|u| !matches!(u, Invalid(_)));
    // RFC 7489 §6.6.3: a record without p= is still a record, read as p=none, when it
    // has at least one valid rua URI; otherwise it is no DMARC record at all.
    let p_missing = raw_tag(&tags, "p").is_none();
    if p_missing && !valid_rua {
        checks.push(Check::fail(
            "dmarc.record",
            format!("The DMARC record at {at} has no p= tag and no valid rua= address, so receivers treat the domain as having no DMARC record (RFC 7489 §6.6.3): \"{raw}\"."),
            "Add p=none to start monitoring (with rua=mailto:...), then move to p=quarantine and p=reject.",
        ));
        return checks;
    }
    let where_ = if from_org {
        format!("{at} (the organisational domain's record, as {from_domain} has none)")
    } else {
        at.clone()
    };
    checks.push(Check::pass(
        "dmarc.record",
        format!("DMARC record found at {where_} (RFC 7489 §6.6.3): \"{raw}\"."),
    ));
    checks.push(check_policy(
        &record,
        &tags,
        &at,
        from_domain,
        from_org,
        p_missing,
    ));
    checks.push(check_rua(auth, &at, &record_domain, &org, from_domain, &uris).await);
    checks.push(check_alignment(from_domain, &record, authenticated));
    checks
}

/// `dmarc.policy`: what receivers do with mail that fails DMARC (RFC 7489 §6.3): p=, or
/// sp= for a subdomain whose record is the organisational domain's, and the share of
/// failing mail it applies to (pct=, §6.6.4).
fn check_policy(
    record: &Dmarc,
    tags: &[(String, String)],
    at: &str,
    from_domain: &str,
    from_org: bool,
    p_missing: bool,
) -> Check {
    const ID: &str = "dmarc.policy";
    // A record found at the organisational domain applies its sp= to subdomains.
    let (policy, tag) = if from_org {
        (record.sp, "sp")
    } else {
        (record.p, "p")
    };
    let policy = if policy == Policy::Unspecified {
        Policy::None
    } else {
        policy
    };
    let implied = if p_missing {
        " (no p= tag: with a valid rua= receivers read the record as p=none, RFC 7489 §6.6.3)"
    } else {
        ""
    };
    let pct = raw_tag(tags, "pct");
    let pct_value = pct.map(|v| v.parse::<u8>().ok().filter(|n| *n <= 100));
    match (policy, pct_value) {
        (Policy::None, _) => Check::warning(
            ID,
            format!("{tag}=none{implied}: receivers only report mail that fails DMARC and deliver it anyway, so anyone can still send as {from_domain} (RFC 7489 §6.3)."),
            "Once the aggregate reports show that all your own mail passes, change to p=quarantine (failing mail goes to spam) and then p=reject (failing mail is refused).",
        ),
        (_, Some(None)) => Check::warning(
            ID,
            format!("{tag}={} with pct={}, which is not a whole number from 0 to 100 (record at {at}); receivers ignore it and apply the policy to all failing mail, which may not be what you meant (RFC 7489 §6.3, §6.6.3).", policy_name(policy), pct.unwrap_or_default()),
            "Remove pct= (DMARCbis drops it) or give a number from 0 to 100.",
        ),
        (_, Some(Some(n))) if n < 100 => {
            let lower = if policy == Policy::Reject { "quarantine" } else { "none" };
            Check::warning(
                ID,
                format!("{tag}={} with pct={n}: only {n}% of failing mail gets that policy, the rest is treated as {lower} (RFC 7489 §6.3, §6.6.4), so the domain is only partly protected.", policy_name(policy)),
                "Raise pct to 100 (or remove it; DMARCbis drops pct in favour of t=y for testing) once the reports show your own mail passes.",
            )
        }
        (Policy::Reject, _) => Check::pass(ID, format!("{tag}=reject: receivers reject mail that fails DMARC (RFC 7489 §6.3).")),
        (_, _) => Check::pass(ID, format!("{tag}=quarantine: receivers put mail that fails DMARC in spam (RFC 7489 §6.3).")),
    }
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Reject => "reject",
        Policy::Quarantine => "quarantine",
        Policy::None | Policy::Unspecified => "none",
    }
}

/// `dmarc.rua`: aggregate reports requested, to addresses that will get them. A report
/// address outside the record's organisational domain receives reports only when that
/// domain publishes `<domain>._report._dmarc.<its domain>` (RFC 7489 §7.1).
async fn check_rua(
    auth: &MessageAuthenticator,
    at: &str,
    record_domain: &str,
    org: &str,
    from_domain: &str,
    uris: &[ReportUri],
) -> Check {
    const ID: &str = "dmarc.rua";
    if uris.is_empty() {
        return Check::warning(
            ID,
            format!("The DMARC record at {at} has no rua= address, so nobody receives the aggregate reports that show who sends as {from_domain} (RFC 7489 §6.3, §7.2)."),
            format!("Add rua=mailto:dmarc-reports@{org} (a mailbox or a DMARC report service) to the record."),
        );
    }
    let mut good = Vec::new();
    let mut problems = Vec::new();
    for uri in uris {
        match uri {
            Invalid(why) => problems.push(why.clone()),
            Other(u) => problems.push(format!("{u} is not a mailto: address; receivers only have to send reports by mail (RFC 7489 §6.2)")),
            Mailto { uri, domain } if org_domain(domain) == org_domain(record_domain) => good.push(uri.clone()),
            Mailto { uri, domain } => {
                let name = format!("{record_domain}._report._dmarc.{domain}");
                match lookup_txt(auth, &name).await {
                    Answer::Found(txt) if txt.iter().any(|t| is_dmarc1(t)) => {
                        good.push(format!("{uri} (authorised by {name})"))
                    }
                    Answer::Found(_) | Answer::Missing => problems.push(format!(
                        "{uri} is outside {} and {domain} does not authorise it: there is no \"v=DMARC1\" record at {name}, so receivers will not send reports there (RFC 7489 §7.1)",
                        org_domain(record_domain)
                    )),
                    Answer::Trouble(t) => problems.push(format!("whether {domain} accepts reports for {record_domain} is unknown: {t} (RFC 7489 §7.1)")),
                }
            }
        }
    }
    if problems.is_empty() {
        Check::pass(
            ID,
            format!(
                "Aggregate reports go to {} (RFC 7489 §7.2).",
                good.join(", ")
            ),
        )
    } else {
        Check::warning(
            ID,
            format!("Aggregate reports of {at} will not all arrive: {}.", problems.join("; ")),
            format!("Write each report address as rua=mailto:address; for an address at another domain, ask that domain to publish \"v=DMARC1\" at {record_domain}._report._dmarc.<its domain>, or use an address at {org}."),
        )
    }
}

fn check_alignment(from_domain: &str, record: &Dmarc, auth: &Authenticated<'_>) -> Check {
    const ID: &str = "dmarc.alignment";
    // Ok: aligned pass; Err(true): unknown (the check could not run); Err(false): no.
    let dkim = match (auth.dkim_domain, auth.dkim_unknown) {
        (Some(d), _) if aligned(from_domain, d, record.adkim) => Ok(format!(
            "DKIM d={d} passes and is aligned ({})",
            mode_name(record.adkim)
        )),
        (Some(d), _) => Err((
            false,
            format!(
                "DKIM d={d} passes but is not aligned with {from_domain} under adkim={}",
                mode_name(record.adkim)
            ),
        )),
        (None, Some(d)) if aligned(from_domain, d, record.adkim) => Err((
            true,
            format!("DKIM for d={d} was not checked (no private key given)"),
        )),
        (None, Some(d)) => Err((
            false,
            format!(
                "DKIM d={d} would not be aligned with {from_domain} under adkim={}",
                mode_name(record.adkim)
            ),
        )),
        (None, None) => Err((false, "DKIM is not verified for this domain".to_string())),
    };
    let spf = match (auth.spf_domain, auth.spf_unknown) {
        (Some(d), _) if aligned(from_domain, d, record.aspf) => Ok(format!(
            "SPF for {d} passes and is aligned ({})",
            mode_name(record.aspf)
        )),
        (Some(d), _) => Err((
            false,
            format!(
                "SPF for {d} passes but is not aligned with {from_domain} under aspf={}",
                mode_name(record.aspf)
            ),
        )),
        (None, Some(d)) if aligned(from_domain, d, record.aspf) => Err((
            true,
            format!("SPF for {d} was not checked (no relay address given)"),
        )),
        (None, Some(d)) => Err((
            false,
            format!(
                "SPF for {d} would not be aligned with {from_domain} under aspf={}",
                mode_name(record.aspf)
            ),
        )),
        (None, None) => Err((false, "SPF does not pass for the relay".to_string())),
    };
    let text = |r: &Result<String, (bool, String)>| match r {
        Ok(s) | Err((_, s)) => s.clone(),
    };
    let detail = format!("{}; {} (RFC 7489 §3.1, §4.2).", text(&dkim), text(&spf));
    let unknown = matches!(dkim, Err((true, _))) || matches!(spf, Err((true, _)));
    if dkim.is_ok() || spf.is_ok() {
        Check::pass(ID, detail)
    } else if unknown {
        Check::skipped(
            ID,
            format!("Not checked: whether DMARC passes for {from_domain} is unknown, because a check it depends on could not run: {detail}"),
            "Give the relay and the DKIM private key so SPF and DKIM can be evaluated.",
        )
    } else {
        Check::fail(
            ID,
            format!("Neither DKIM nor SPF passes aligned with the From domain {from_domain}, so DMARC fails: {detail}"),
            format!(
                "Sign with d={from_domain} (or, under relaxed alignment adkim=r, a subdomain of {}) and/or send with a MAIL FROM in {from_domain} whose SPF lists the relay.",
                org_domain(from_domain)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;

    #[test]
    fn org_domain_keeps_registrable_part() {
        assert_eq!(org_domain("mail.news.example.com"), "example.com");
        assert_eq!(org_domain("example.com"), "example.com");
        assert_eq!(org_domain("shop.example.co.jp"), "example.co.jp");
        assert_eq!(org_domain("a.b.example.co.uk."), "example.co.uk");
        assert_eq!(org_domain("mail.unaligned.test"), "unaligned.test");
        assert_eq!(org_domain("test"), "test");
    }

    #[test]
    fn alignment_modes() {
        assert!(aligned(
            "example.com",
            "mail.example.com",
            Alignment::Relaxed
        ));
        assert!(!aligned(
            "example.com",
            "mail.example.com",
            Alignment::Strict
        ));
        assert!(aligned("Example.com", "example.com.", Alignment::Strict));
        assert!(!aligned("a.co.jp", "b.co.jp", Alignment::Relaxed));
    }

    fn parsed(raw: &str) -> (Dmarc, Vec<(String, String)>) {
        (Dmarc::parse(raw.as_bytes()).expect(raw), raw_tags(raw))
    }

    #[test]
    fn rfc7489_6_2_report_uris_need_a_scheme() {
        assert_eq!(
            report_uris("mailto:d@example.com, mailto:x@Reports.Example.NET!10m"),
            vec![
                Mailto {
                    uri: "mailto:d@example.com".into(),
                    domain: "example.com".into()
                },
                Mailto {
                    uri: "mailto:x@Reports.Example.NET".into(),
                    domain: "reports.example.net".into()
                },
            ]
        );
        match &report_uris("d@example.com")[..] {
            [Invalid(why)] => assert!(
                why.contains("no URI scheme") && why.contains("rua=mailto:d@example.com"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &report_uris("https://r.example/dmarc")[..],
            [Other(_)]
        ));
        assert!(matches!(&report_uris("mailto:nobody")[..], [Invalid(_)]));
        assert!(report_uris(" , ").is_empty());
    }

    #[test]
    fn rfc7489_6_3_pct_below_100_is_partial_enforcement() {
        let (r, t) = parsed("v=DMARC1; p=reject; pct=50");
        let c = check_policy(&r, &t, "_dmarc.x.test", "x.test", false, false);
        assert_eq!(c.status, Status::Warning, "{c:?}");
        assert!(
            c.detail.contains("pct=50")
                && c.detail.contains("quarantine")
                && c.detail.contains("§6.6.4"),
            "{c:?}"
        );
        let (r, t) = parsed("v=DMARC1; p=quarantine; pct=100");
        assert_eq!(
            check_policy(&r, &t, "_dmarc.x.test", "x.test", false, false).status,
            Status::Pass
        );
        let (r, t) = parsed("v=DMARC1; p=reject; pct=150");
        let c = check_policy(&r, &t, "_dmarc.x.test", "x.test", false, false);
        assert_eq!(c.status, Status::Warning, "{c:?}");
        assert!(c.detail.contains("not a whole number"), "{c:?}");
    }

    #[test]
    fn rfc7489_6_6_3_missing_p_reads_as_none_and_sp_applies_to_subdomains() {
        let (r, t) = parsed("v=DMARC1; rua=mailto:d@x.test");
        let c = check_policy(&r, &t, "_dmarc.x.test", "x.test", false, true);
        assert_eq!(c.status, Status::Warning, "{c:?}");
        assert!(
            c.detail.contains("p=none") && c.detail.contains("§6.6.3"),
            "{c:?}"
        );
        let (r, t) = parsed("v=DMARC1; p=reject; sp=none");
        let c = check_policy(&r, &t, "_dmarc.x.test", "news.x.test", true, false);
        assert_eq!(c.status, Status::Warning, "{c:?}");
        assert!(c.detail.starts_with("sp=none"), "{c:?}");
    }

    #[test]
    fn rfc7489_3_1_unknown_inputs_make_alignment_skipped_not_failed() {
        let (r, _) = parsed("v=DMARC1; p=reject");
        let unknown = Authenticated {
            dkim_unknown: Some("x.test"),
            spf_unknown: Some("x.test"),
            ..Default::default()
        };
        assert_eq!(
            check_alignment("x.test", &r, &unknown).status,
            Status::Skipped
        );
        let spf_only = Authenticated {
            spf_domain: Some("x.test"),
            dkim_unknown: Some("x.test"),
            ..Default::default()
        };
        assert_eq!(
            check_alignment("x.test", &r, &spf_only).status,
            Status::Pass
        );
        let known_fail = Authenticated::default();
        assert_eq!(
            check_alignment("x.test", &r, &known_fail).status,
            Status::Fail
        );
        // An unknown result that could not align anyway does not make the verdict unknown.
        let (strict, _) = parsed("v=DMARC1; p=reject; adkim=s; aspf=s");
        let other = Authenticated {
            dkim_unknown: Some("mail.x.test"),
            spf_unknown: Some("mail.x.test"),
            ..Default::default()
        };
        assert_eq!(
            check_alignment("x.test", &strict, &other).status,
            Status::Fail
        );
    }

    #[test]
    fn dmarc1_prefix() {
        assert!(is_dmarc1("v=DMARC1; p=none"));
        assert!(is_dmarc1("v = DMARC1;p=none"));
        assert!(!is_dmarc1("v=DMARC10; p=none"));
        assert!(!is_dmarc1("v=spf1 -all"));
    }
}
