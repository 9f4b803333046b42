//! Sender-domain authentication: runs the SPF, DKIM, DMARC, MX and reverse-DNS checks of
//! one domain against a real resolver and returns their findings.
//!
//! Architecture invariant: [`check_domain`] never returns an error. DNS trouble (no
//! answer, SERVFAIL, REFUSED, a resolver that cannot be set up) becomes a finding that
//! says what happened, so the checklist always shows why sending is blocked.

use std::net::IpAddr;
use std::time::SystemTime;

pub use super::dkim::{load_dkim_key, parse_dkim_key, DkimKey, Error as KeyError, KeyAlgorithm};
pub use super::dns::Resolver;

use super::dmarc::{check_dmarc, Authenticated};
use super::dns::{build_authenticator, check_fcrdns, check_mx};
use super::{dkim, spf, Check};

/// What to check for one sending domain.
#[derive(Debug, Default)]
pub struct DomainCheck {
    /// The authenticated domain: the MAIL FROM domain for SPF and the DKIM `d=`.
    pub domain: String,
    /// The DKIM selector; without it there are no DKIM checks and DMARC takes the mail
    /// as unsigned.
    pub selector: Option<String>,
    /// The private key messages will be signed with, to prove it matches DNS.
    pub dkim_key: Option<DkimKey>,
    /// The relay's sending IP addresses (what receivers see as the connecting client).
    pub relay_ips: Vec<IpAddr>,
    /// True when `relay_ips` are the relay's declared outbound addresses (relay profile
    /// or `[relay] outbound_ips`), false when they were resolved from its host name.
    pub relay_ips_declared: bool,
    /// The relay's host name, named in `spf.relay` when its addresses were resolved.
    pub relay_host: Option<String>,
    /// The SPF `include:` of the relay's provider (Microsoft 365, Google): without
    /// declared addresses `spf.relay` looks for it instead of resolving the host.
    pub relay_spf_include: Option<String>,
    /// The domain of the From header, usually equal to `domain`.
    pub from_domain: String,
}

impl DomainCheck {
    /// A check of `domain` as both signing and From domain.
    pub fn new(domain: impl Into<String>) -> DomainCheck {
        let domain = domain.into();
        DomainCheck {
            from_domain: domain.clone(),
            domain,
            ..DomainCheck::default()
        }
    }
}

impl DomainCheck {
    /// The relay side of the check: the relay's declared outbound addresses when it has
    /// any (`spf.relay` then requires every one to pass), else `resolved` (the addresses
    /// its host name resolves to; the caller resolves only when `outbound_ips` is
    /// empty), and the SPF include of its provider's preset.
    pub fn use_relay(
        &mut self,
        host: &str,
        outbound_ips: &[IpAddr],
        spf_include: Option<&str>,
        resolved: Vec<IpAddr>,
    ) {
        self.relay_ips_declared = !outbound_ips.is_empty();
        self.relay_ips = if self.relay_ips_declared {
            outbound_ips.to_vec()
        } else {
            resolved
        };
        self.relay_host = Some(host.to_owned());
        self.relay_spf_include = spf_include.map(str::to_owned);
    }
}

/// Runs every sender-domain check and returns the findings in a stable order:
/// `spf.*`, `dkim.*` (when a selector is given), `dmarc.*`, `dns.mx`, `dns.fcrdns`.
/// Lookups for the independent checks run concurrently.
pub async fn check_domain(check: &DomainCheck, resolver: &Resolver, now: SystemTime) -> Vec<Check> {
    let auth = match build_authenticator(resolver) {
        Ok(auth) => auth,
        Err(reason) => {
            return vec![Check::fail(
                "dns.resolver",
                format!("The domain checks could not run: {reason}."),
                "Check the DNS settings of this computer, or give a reachable DNS server (--dns IP:PORT).",
            )]
        }
    };
    let domain = normalise(&check.domain);
    let from_domain = if check.from_domain.trim().is_empty() {
        domain.clone()
    } else {
        normalise(&check.from_domain)
    };
    if domain.is_empty() || domain.contains(char::is_whitespace) {
        return vec![Check::fail(
            "dns.domain",
            format!("\"{}\" is not a domain name.", check.domain),
            "Enter the sending domain, e.g. example.com.",
        )];
    }

    let dkim_future = async {
        match &check.selector {
            Some(selector) if !selector.trim().is_empty() => {
                let (checks, outcome) = dkim::check_dkim(
                    &auth,
                    &domain,
                    selector.trim(),
                    check.dkim_key.as_ref(),
                    &from_domain,
                    now,
                )
                .await;
                (checks, outcome)
            }
            _ => (Vec::new(), dkim::DkimOutcome::default()),
        }
    };
    let relay = spf::RelaySpf {
        ips: &check.relay_ips,
        declared: check.relay_ips_declared,
        host: check.relay_host.as_deref(),
        include: check.relay_spf_include.as_deref(),
    };
    let ((spf_checks, spf_outcome), (dkim_checks, dkim_outcome), mx, fcrdns) = tokio::join!(
        spf::check_spf(&auth, &domain, &relay),
        dkim_future,
        check_mx(&auth, &from_domain),
        check_fcrdns(&auth, &check.relay_ips),
    );
    let authenticated = Authenticated {
        dkim_domain: dkim_outcome.verified.then_some(domain.as_str()),
        spf_domain: spf_outcome.relay_passes.then_some(domain.as_str()),
        dkim_unknown: dkim_outcome.unknown.then_some(domain.as_str()),
        spf_unknown: spf_outcome.relay_unknown.then_some(domain.as_str()),
    };
    let dmarc_checks = check_dmarc(&auth, &from_domain, &authenticated).await;

    let mut checks = spf_checks;
    checks.extend(dkim_checks);
    checks.extend(dmarc_checks);
    checks.push(mx);
    checks.push(fcrdns);
    checks
}

fn normalise(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}
