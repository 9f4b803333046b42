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
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
    "co.nz", "net.nz", "org.nz", "ac.nz", "govt.nz",
    // Elsewhere in Asia and the Americas
    "com.cn", "net.cn", "org.cn", "com.tw", "org.tw", "com.hk", "com.sg", "com.my",
    "co.kr", "or.kr", "co.in", "co.th", "co.id", "com.br", "com.mx", "com.ar",
];

/// The organisational domain of `domain` (see the module documentation for the rule).
pub fn org_domain(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() <= 2 {
        return domain;
    }
    let last_two = labels[labels.len() - 2..].join(".");
    let keep = if SECOND_LEVEL_SUFFIXES.contains(&last_two.as_str()) { 3 } else { 2 };
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
    t.len() >= 8 && t[..8].eq_ignore_ascii_case("v=DMARC1") && t[8..].chars().next().is_none_or(|c| c == ';')
}

/// What authenticated, as the DMARC alignment check needs it: the domain that passed
/// DKIM (`d=`) and the domain that passed SPF (the MAIL FROM domain), when they did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authenticated<'a> {
    pub dkim_domain: Option<&'a str>,
    pub spf_domain: Option<&'a str>,
}

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
                1 => Found::Record { at: name, raw: records.remove(0) },
                count => Found::Several { at: name, count },
            }
        }
        Answer::Missing => Found::None,
        Answer::Trouble(t) => Found::Trouble(t),
    }
}

/// Runs `dmarc.record`, `dmarc.policy`, `dmarc.rua` and `dmarc.alignment`.
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
            let also = if org != from_domain.to_ascii_lowercase() { format!(" nor at _dmarc.{org}") } else { String::new() };
            checks.push(Check::fail(
                "dmarc.record",
                format!("There is no DMARC record at _dmarc.{from_domain}{also}; receivers such as Gmail and Yahoo require one from bulk senders."),
                format!("Publish a TXT record at _dmarc.{org}, for example \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}\", then tighten p= once reports look right."),
            ));
            return checks;
        }
        Found::Several { at, count } => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("{at} has {count} DMARC records; receivers then ignore DMARC for the domain altogether."),
                format!("Keep exactly one v=DMARC1 TXT record at {at}."),
            ));
            return checks;
        }
        Found::Trouble(t) => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("Could not read the DMARC record of {from_domain}: {t}."),
                "Check that the DNS server is reachable and answering for this domain, then run the checks again.",
            ));
            return checks;
        }
    };
    let record: Dmarc = match Dmarc::parse(raw.as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "dmarc.record",
                format!("The DMARC record at {at} is not valid ({e}): \"{raw}\"."),
                "Correct it against RFC 7489: p=none|quarantine|reject, optional sp=, adkim=r|s, aspf=r|s, rua=mailto:...",
            ));
            return checks;
        }
    };
    let where_ = if from_org { format!("{at} (the organisational domain's record, as {from_domain} has none)") } else { at.clone() };
    checks.push(Check::pass("dmarc.record", format!("DMARC record found at {where_}: \"{raw}\".")));

    // A record found at the organisational domain applies its sp= to subdomains.
    let policy = if from_org { record.sp } else { record.p };
    let tag = if from_org { "sp" } else { "p" };
    checks.push(match policy {
        Policy::Reject => Check::pass("dmarc.policy", format!("{tag}=reject: receivers reject mail that fails DMARC.")),
        Policy::Quarantine => Check::pass("dmarc.policy", format!("{tag}=quarantine: receivers put mail that fails DMARC in spam.")),
        Policy::None => Check::warning(
            "dmarc.policy",
            format!("{tag}=none: receivers only report mail that fails DMARC and deliver it anyway, so anyone can still send as {from_domain}."),
            "Once the aggregate reports show that all your own mail passes, change to p=quarantine (failing mail goes to spam) and then p=reject (failing mail is refused).",
        ),
        Policy::Unspecified => Check::fail(
            "dmarc.policy",
            format!("The DMARC record at {at} has no p= tag, so receivers treat it as invalid."),
            "Add p=none to start monitoring, then move to p=quarantine and p=reject.",
        ),
    });

    checks.push(if record.rua.is_empty() {
        Check::warning(
            "dmarc.rua",
            format!("The DMARC record at {at} has no rua= address, so nobody receives the aggregate reports that show who sends as {from_domain}."),
            format!("Add rua=mailto:dmarc-reports@{org} (a mailbox or a DMARC report service) to the record."),
        )
    } else {
        let uris: Vec<&str> = record.rua.iter().map(|u| u.uri()).collect();
        Check::pass("dmarc.rua", format!("Aggregate reports go to {}.", uris.join(", ")))
    });

    checks.push(check_alignment(from_domain, &record, authenticated));
    checks
}

fn check_alignment(from_domain: &str, record: &Dmarc, auth: &Authenticated<'_>) -> Check {
    const ID: &str = "dmarc.alignment";
    let dkim = match auth.dkim_domain {
        Some(d) if aligned(from_domain, d, record.adkim) => Ok(format!("DKIM d={d} passes and is aligned ({})", mode_name(record.adkim))),
        Some(d) => Err(format!("DKIM d={d} passes but is not aligned with {from_domain} under adkim={}", mode_name(record.adkim))),
        None => Err("DKIM is not verified for this domain".to_string()),
    };
    let spf = match auth.spf_domain {
        Some(d) if aligned(from_domain, d, record.aspf) => Ok(format!("SPF for {d} passes and is aligned ({})", mode_name(record.aspf))),
        Some(d) => Err(format!("SPF for {d} passes but is not aligned with {from_domain} under aspf={}", mode_name(record.aspf))),
        None => Err("SPF does not pass for the relay".to_string()),
    };
    let text = |r: &Result<String, String>| match r {
        Ok(s) | Err(s) => s.clone(),
    };
    let detail = format!("{}; {}.", text(&dkim), text(&spf));
    if dkim.is_ok() || spf.is_ok() {
        Check::pass(ID, detail)
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
        assert!(aligned("example.com", "mail.example.com", Alignment::Relaxed));
        assert!(!aligned("example.com", "mail.example.com", Alignment::Strict));
        assert!(aligned("Example.com", "example.com.", Alignment::Strict));
        assert!(!aligned("a.co.jp", "b.co.jp", Alignment::Relaxed));
    }

    #[test]
    fn dmarc1_prefix() {
        assert!(is_dmarc1("v=DMARC1; p=none"));
        assert!(is_dmarc1("v = DMARC1;p=none"));
        assert!(!is_dmarc1("v=DMARC10; p=none"));
        assert!(!is_dmarc1("v=spf1 -all"));
    }
}
