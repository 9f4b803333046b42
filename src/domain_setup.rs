//! Sender-domain setup: generates a DKIM key, keeps it in the OS keychain, and says
//! exactly which DNS records to publish — the DKIM key record, an SPF record that lets
//! the chosen relay send, and a DMARC record to start with — each with one plain
//! sentence of what it is for.
//!
//! The records are data ([`DnsRecord`]): the CLI prints them, the app shows them with a
//! copy button. Checking whether they are published is the pre-flight's job
//! ([`crate::preflight::domain::check_domain`]); this module only writes them.
//!
//! Architecture invariant: the private key leaves this module only as a [`Secret`]
//! handed to the keychain; no result of this module holds it.

use std::net::IpAddr;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ErrorCode, UserError};
use crate::operators::Session;
use crate::profiles::Provider;
use crate::secrets::{self, Secret};
use crate::store::Store;

/// The TTL suggested for every record: short, so a mistake is corrected within the hour.
pub const SUGGESTED_TTL: u32 = 3600;

/// Which kind of DKIM key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// RSA, 2048 bits: verified by every receiver (RFC 8301).
    #[default]
    Rsa2048,
    /// Ed25519 (RFC 8463): short and strong, but not every receiver verifies it, so on
    /// its own a message may count as unsigned there.
    Ed25519,
}

impl KeyKind {
    /// The `k=` tag value.
    pub fn dkim_tag(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// Which DNS record a [`DnsRecord`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Dkim,
    Spf,
    Dmarc,
}

/// One DNS record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    pub kind: RecordKind,
    /// The full name, without the final dot: `sel._domainkey.example.com`.
    pub name: String,
    /// Always `TXT` here.
    pub rtype: &'static str,
    /// The whole value, unsplit, as most DNS hosting forms want it.
    pub value: String,
    /// The value as DNS character-strings of at most 255 bytes each (RFC 1035 §3.3),
    /// as a zone file or a form that asks for them needs it.
    pub strings: Vec<String>,
    /// One line of a zone file: `name. TTL IN TXT "..." "..."`.
    pub zone_line: String,
    /// One plain sentence: what the record is for.
    pub purpose: String,
    /// A caution or the next step, when there is one.
    pub note: Option<String>,
}

impl DnsRecord {
    fn txt(
        kind: RecordKind,
        name: String,
        value: String,
        purpose: &str,
        note: Option<String>,
    ) -> DnsRecord {
        let strings = split_txt(&value);
        let quoted: Vec<String> = strings.iter().map(|s| format!("\"{s}\"")).collect();
        let zone_line = format!("{name}. {SUGGESTED_TTL} IN TXT {}", quoted.join(" "));
        DnsRecord {
            kind,
            name,
            rtype: "TXT",
            value,
            strings,
            zone_line,
            purpose: purpose.to_owned(),
            note,
        }
    }
}

/// Splits a TXT value into character-strings of at most 255 bytes. The values made
/// here are ASCII, so a split never falls inside a character.
pub fn split_txt(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return vec![String::new()];
    }
    bytes
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// Setting up a domain failed. The message is one plain sentence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a DKIM key for {0} is already in the keychain; receivers may be checking mail against it, so choose a new selector (for example one with this year in it), or replace it on purpose")]
    KeyExists(String),
    #[error("the DKIM key could not be generated: {0}")]
    Generate(String),
    #[error("the DKIM key stored for {name} cannot be used: {reason}")]
    StoredKey { name: String, reason: String },
    #[error(transparent)]
    Keychain(#[from] secrets::Error),
}

impl Error {
    fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } | Error::KeyExists(_) => ErrorCode::InvalidInput,
            Error::Generate(_) | Error::StoredKey { .. } => ErrorCode::Internal,
            Error::Keychain(e) => e.code(),
        }
    }

    /// The form field the error belongs to, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            Error::KeyExists(_) => Some("selector"),
            _ => None,
        }
    }
}

impl From<Error> for UserError {
    fn from(e: Error) -> UserError {
        UserError::new(e.code(), e.to_string())
    }
}

/// A freshly generated key: the private half (PKCS#8 PEM, for the keychain) and the
/// public half as DKIM publishes it in `p=`.
pub struct GeneratedKey {
    pub kind: KeyKind,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form `parse_dkim_key` and other
    /// signers (OpenDKIM, rspamd) read.
    pub private_pem: Secret,
    /// Base64 of the SubjectPublicKeyInfo (RSA) or the raw 32 bytes (Ed25519, RFC 8463).
    pub public_b64: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kind", &self.kind)
            .field("public_b64", &self.public_b64)
            .finish_non_exhaustive()
    }
}

/// Generates a new DKIM key with aws-lc (the same cryptography library mail-auth uses).
pub fn generate_key(kind: KeyKind) -> Result<GeneratedKey, Error> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let gen_err = |e: aws_lc_rs::error::Unspecified| Error::Generate(e.to_string());
    let (pkcs8, public): (Vec<u8>, Vec<u8>) = match kind {
        KeyKind::Rsa2048 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(gen_err)?;
            let der: Pkcs8V1Der<'static> = pair.as_der().map_err(gen_err)?;
            let spki = pair.public_key().as_der().map_err(gen_err)?;
            (der.as_ref().to_vec(), spki.as_ref().to_vec())
        }
        KeyKind::Ed25519 => {
            let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(gen_err)?;
            // PKCS#8 v1 (the seed only), as `openssl genpkey -algorithm ed25519` writes it.
            let der = pair.to_pkcs8v1().map_err(gen_err)?;
            (der.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
    };
    Ok(GeneratedKey {
        kind,
        private_pem: Secret::new(pem("PRIVATE KEY", &pkcs8)),
        public_b64: b64.encode(public),
    })
}

/// PEM armour (RFC 7468): base64 in 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The public half (`p=` value and kind) of a stored private key.
pub fn public_of(private_pem: &Secret) -> Result<(KeyKind, String), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    let b64 = base64::engine::general_purpose::STANDARD;
    let der = match PrivateKeyDer::from_pem_slice(private_pem.expose().as_bytes()) {
        Ok(PrivateKeyDer::Pkcs8(d)) => d.secret_pkcs8_der().to_vec(),
        Ok(PrivateKeyDer::Pkcs1(d)) => {
            let pair = aws_lc_rs::rsa::KeyPair::from_der(d.secret_pkcs1_der())
                .map_err(|e| e.to_string())?;
            let spki = pair.public_key().as_der().map_err(|e| e.to_string())?;
            return Ok((KeyKind::Rsa2048, b64.encode(spki.as_ref())));
        }
        Ok(_) => return Err("it is neither an RSA nor an Ed25519 key".into()),
        Err(e) => return Err(format!("it is not a PEM private key ({e})")),
    };
    if let Ok(pair) = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der) {
        let spki = pair.public_key().as_der().map_err(|e| e.to_string())?;
        return Ok((KeyKind::Rsa2048, b64.encode(spki.as_ref())));
    }
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|e| format!("it is neither an RSA nor an Ed25519 key ({e})"))?;
    Ok((KeyKind::Ed25519, b64.encode(pair.public_key().as_ref())))
}

/// A domain name as DNS wants it: lower case, no final dot, letters/digits/hyphens.
pub fn check_domain_name(raw: &str) -> Result<String, Error> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let d = d.strip_prefix('@').unwrap_or(&d).to_owned();
    if d.contains('@') {
        return Err(Error::invalid(
            "domain",
            format!("\"{raw}\" is an e-mail address: enter only the part after the @"),
        ));
    }
    let ok = d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(Error::invalid(
            "domain",
            format!("\"{raw}\" is not a domain name: enter it like example.com"),
        ));
    }
    Ok(d)
}

/// A selector: one or more DNS labels (RFC 6376 §3.1), lower case.
pub fn check_selector(raw: &str) -> Result<String, Error> {
    let s = raw.trim().to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(Error::invalid(
            "selector",
            format!(
                "\"{raw}\" is not a selector: use letters, digits and hyphens, for example mg2026"
            ),
        ));
    }
    Ok(s)
}

/// The DKIM key record for a public key.
pub fn dkim_record(domain: &str, selector: &str, kind: KeyKind, public_b64: &str) -> DnsRecord {
    let note = match kind {
        KeyKind::Rsa2048 => None,
        KeyKind::Ed25519 => Some(
            "Not every receiver checks Ed25519 signatures yet; where one does not, a message signed only with this key counts as unsigned. Use an RSA key as well (a second selector) unless you know your recipients' providers check Ed25519."
                .to_owned(),
        ),
    };
    DnsRecord::txt(
        RecordKind::Dkim,
        format!("{selector}._domainkey.{domain}"),
        format!("v=DKIM1; k={}; p={public_b64}", kind.dkim_tag()),
        "This publishes the public half of your signing key, so receivers can prove that a message really comes from your domain and was not changed on the way.",
        note,
    )
}

/// The SPF record that lets the relay send for `domain`: the provider's `include:` for
/// Microsoft 365 and Google, the relay's addresses (given by the caller) for another.
pub fn spf_record(
    domain: &str,
    provider: Provider,
    relay_ips: &[IpAddr],
) -> Result<DnsRecord, Error> {
    // The same terms `spf.relay` asks for when it fails (one list of terms, not two).
    let mut terms = vec!["v=spf1".to_owned()];
    if let Some(include) = provider.preset().spf_include {
        terms.extend(crate::preflight::spf::relay_terms(Some(include), &[]));
    }
    terms.extend(crate::preflight::spf::relay_terms(None, relay_ips));
    if terms.len() == 1 {
        return Err(Error::invalid(
            "relay_ips",
            "for a relay other than Microsoft 365 or Google, give the IP addresses it sends from (ask its operator) so the SPF record can list them",
        ));
    }
    terms.push("~all".into());
    Ok(DnsRecord::txt(
        RecordKind::Spf,
        domain.to_owned(),
        terms.join(" "),
        "This lists the servers allowed to send mail for your domain, so receivers can tell your relay from someone pretending to be you.",
        Some(
            "A domain has only one SPF record: if it already has one (starting with v=spf1), add the include:/ip4: terms to it instead of publishing a second. Once every service that sends as your domain is listed, change ~all to -all."
                .to_owned(),
        ),
    ))
}

/// A DMARC record to start with: `p=none` (deliver everything, report what fails) with
/// the reports sent to `report_to`.
pub fn dmarc_record(domain: &str, report_to: &str) -> Result<DnsRecord, Error> {
    // The domain part is case-insensitive; the local part is kept as typed.
    let address = match report_to.trim().rsplit_once('@') {
        Some((local, d)) => format!("{local}@{}", d.to_ascii_lowercase()),
        None => report_to.trim().to_owned(),
    };
    let valid = address.split_once('@').is_some_and(|(local, d)| {
        !local.is_empty()
            && !d.is_empty()
            && !address.contains(char::is_whitespace)
            && !address.contains([',', ';', '!', '<', '>'])
    });
    if !valid {
        return Err(Error::invalid(
            "report_to",
            format!("\"{report_to}\" is not an e-mail address for the reports"),
        ));
    }
    let report_domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let mut note = "Next step: after two to four weeks, when the reports show only your own services, change p=none to p=quarantine (failing mail goes to spam), and later to p=reject.".to_owned();
    if report_domain != domain && !report_domain.ends_with(&format!(".{domain}")) {
        note.push_str(&format!(
            " The report address is at another domain, so {report_domain} must agree to receive them: it publishes a TXT record \"v=DMARC1\" at {domain}._report._dmarc.{report_domain}."
        ));
    }
    Ok(DnsRecord::txt(
        RecordKind::Dmarc,
        format!("_dmarc.{domain}"),
        format!("v=DMARC1; p=none; rua=mailto:{address}"),
        "This tells receivers what to do with mail that fails the SPF and DKIM checks (for now: deliver it) and where to send daily reports about mail sent as your domain.",
        Some(note),
    ))
}

/// What the person asks for in "Set up the sender domain".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DomainSetupRequest {
    pub domain: String,
    pub selector: String,
    /// `rsa2048` (default) or `ed25519`.
    pub key: Option<KeyKind>,
    /// The relay the domain sends through: `microsoft365`, `google` or `other`; empty
    /// when not chosen yet (then no SPF record is suggested).
    pub provider: String,
    /// The relay's sending addresses, for `other`.
    pub relay_ips: Vec<IpAddr>,
    /// Where DMARC reports go; default `postmaster@<domain>`.
    pub report_to: Option<String>,
    /// Replace a key already stored under this selector.
    pub replace: bool,
}

/// The records to publish, in the order to publish them: DKIM, SPF (when the relay is
/// known), DMARC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainRecords {
    pub domain: String,
    pub selector: String,
    pub key: KeyKind,
    pub records: Vec<DnsRecord>,
}

struct Checked {
    domain: String,
    selector: String,
    provider: Option<Provider>,
    report_to: String,
}

fn check_request(req: &DomainSetupRequest) -> Result<Checked, Error> {
    let domain = check_domain_name(&req.domain)?;
    let selector = check_selector(&req.selector)?;
    let provider = match req.provider.trim() {
        "" => None,
        p => Some(Provider::parse(p).map_err(|e| Error::invalid("provider", e.to_string()))?),
    };
    let report_to = req
        .report_to
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| format!("postmaster@{domain}"));
    Ok(Checked {
        domain,
        selector,
        provider,
        report_to,
    })
}

fn all_records(
    c: &Checked,
    kind: KeyKind,
    public_b64: &str,
    relay_ips: &[IpAddr],
) -> Result<DomainRecords, Error> {
    Ok(DomainRecords {
        domain: c.domain.clone(),
        selector: c.selector.clone(),
        key: kind,
        records: [
            Some(dkim_record(&c.domain, &c.selector, kind, public_b64)),
            c.provider
                .map(|p| spf_record(&c.domain, p, relay_ips))
                .transpose()?,
            Some(dmarc_record(&c.domain, &c.report_to)?),
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}

/// "Set up the sender domain" (admin only): generates a DKIM key, stores it in the
/// keychain under `selector._domainkey.domain` (logged without the key), and returns the
/// DNS records to publish. Refuses to replace a stored key unless asked to.
pub fn set_up_domain(
    store: &Store,
    by: &Session,
    req: &DomainSetupRequest,
    now: OffsetDateTime,
) -> Result<DomainRecords, Error> {
    let c = check_request(req)?;
    // Build the SPF and DMARC records first: a wrong relay or report address must not
    // leave a new key behind.
    if let Some(p) = c.provider {
        spf_record(&c.domain, p, &req.relay_ips)?;
    }
    dmarc_record(&c.domain, &c.report_to)?;
    // The role is checked again by `secrets::save_dkim_key`; checking first spares the
    // key generation; both re-read the operator's sealed record in the store.
    match crate::operators::authorize(store, by, crate::operators::Role::Admin, now) {
        Ok(_) => {}
        Err(crate::operators::Error::MissingRole { .. } | crate::operators::Error::Disabled(_)) => {
            return Err(secrets::Error::NotAdmin(by.operator().to_owned()).into())
        }
        Err(e) => return Err(secrets::Error::Access(Box::new(e)).into()),
    }
    if !req.replace {
        match secrets::dkim_key(&c.domain, &c.selector) {
            Ok(_) => {
                return Err(Error::KeyExists(format!(
                    "{}._domainkey.{}",
                    c.selector, c.domain
                )))
            }
            Err(secrets::Error::NoDkimKey(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let kind = req.key.unwrap_or_default();
    let key = generate_key(kind)?;
    secrets::save_dkim_key(store, by, &c.domain, &c.selector, &key.private_pem, now)?;
    all_records(&c, kind, &key.public_b64, &req.relay_ips)
}

/// The records for a domain whose key is already in the keychain ("show the records
/// again"): nothing is generated or stored.
pub fn domain_records(req: &DomainSetupRequest) -> Result<DomainRecords, Error> {
    let c = check_request(req)?;
    let pem = secrets::dkim_key(&c.domain, &c.selector)?;
    let (kind, public_b64) = public_of(&pem).map_err(|reason| Error::StoredKey {
        name: format!("{}._domainkey.{}", c.selector, c.domain),
        reason,
    })?;
    all_records(&c, kind, &public_b64, &req.relay_ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_their_public_half_matches() {
        for kind in [KeyKind::Rsa2048, KeyKind::Ed25519] {
            let key = generate_key(kind).unwrap();
            let loaded =
                crate::preflight::dkim::parse_dkim_key(key.private_pem.expose().as_bytes())
                    .unwrap();
            match kind {
                KeyKind::Rsa2048 => assert_eq!(
                    loaded.algorithm(),
                    crate::preflight::dkim::KeyAlgorithm::Rsa { bits: 2048 }
                ),
                KeyKind::Ed25519 => assert_eq!(
                    loaded.algorithm(),
                    crate::preflight::dkim::KeyAlgorithm::Ed25519
                ),
            }
            assert_eq!(
                public_of(&key.private_pem).unwrap(),
                (kind, key.public_b64.clone())
            );
            assert!(
                !format!("{key:?}").contains("PRIVATE"),
                "Debug shows the key"
            );
        }
    }

    #[test]
    fn an_rsa_record_is_split_into_255_byte_strings() {
        let key = generate_key(KeyKind::Rsa2048).unwrap();
        let r = dkim_record("shop.test", "mg1", KeyKind::Rsa2048, &key.public_b64);
        assert_eq!(r.name, "mg1._domainkey.shop.test");
        assert!(
            r.value.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"),
            "{}",
            r.value
        );
        assert!(r.strings.len() >= 2);
        assert!(r.strings.iter().all(|s| s.len() <= 255));
        assert_eq!(r.strings.concat(), r.value);
        assert!(
            r.zone_line
                .starts_with("mg1._domainkey.shop.test. 3600 IN TXT \"v=DKIM1;"),
            "{}",
            r.zone_line
        );
        assert!(r.note.is_none());
        let ed = dkim_record("shop.test", "mg2", KeyKind::Ed25519, "AAAA");
        assert!(ed.note.unwrap().contains("Not every receiver"));
    }

    #[test]
    fn spf_names_the_relay() {
        let v = |p, ips: &[IpAddr]| spf_record("shop.test", p, ips).unwrap().value;
        assert_eq!(
            v(Provider::Microsoft365, &[]),
            "v=spf1 include:spf.protection.outlook.com ~all"
        );
        assert_eq!(
            v(Provider::Google, &[]),
            "v=spf1 include:_spf.google.com ~all"
        );
        assert_eq!(
            v(
                Provider::Other,
                &["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]
            ),
            "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 ~all"
        );
        let e = spf_record("shop.test", Provider::Other, &[]).unwrap_err();
        assert_eq!(e.field(), Some("relay_ips"));
    }

    #[test]
    fn dmarc_starts_at_none_and_says_the_next_step() {
        let r = dmarc_record("shop.test", "Reports@Shop.test").unwrap();
        assert_eq!(r.name, "_dmarc.shop.test");
        assert_eq!(r.value, "v=DMARC1; p=none; rua=mailto:Reports@shop.test");
        assert!(r.note.as_deref().unwrap().contains("p=quarantine"));
        let other = dmarc_record("shop.test", "dmarc@reports.example").unwrap();
        assert!(other
            .note
            .unwrap()
            .contains("shop.test._report._dmarc.reports.example"));
        assert_eq!(
            dmarc_record("shop.test", "not an address")
                .unwrap_err()
                .field(),
            Some("report_to")
        );
    }

    #[test]
    fn names_are_checked_in_plain_words() {
        assert_eq!(check_domain_name("Shop.Test.").unwrap(), "shop.test");
        assert!(check_domain_name("me@shop.test")
            .unwrap_err()
            .to_string()
            .contains("e-mail address"));
        assert!(check_domain_name("shop").is_err());
        assert!(check_domain_name("sh op.test").is_err());
        assert_eq!(check_selector("MG2026").unwrap(), "mg2026");
        assert!(check_selector("a_b").is_err());
        assert!(check_selector("").is_err());
    }

    #[test]
    fn split_keeps_short_values_whole() {
        assert_eq!(split_txt("v=spf1 -all"), ["v=spf1 -all"]);
        let long = "a".repeat(600);
        let parts = split_txt(&long);
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            [255, 255, 90]
        );
    }
}
