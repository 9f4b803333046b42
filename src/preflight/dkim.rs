//! DKIM: the configured signing key (loaded from PEM/DER, used to sign real messages
//! too) and the checks of the published selector record — present, not revoked, long
//! enough, a hash that receivers accept, and a probe message that verifies through DNS.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use mail_auth::common::crypto::{
    Algorithm, DkimKey as MaDkimKey, Ed25519Key, RsaKey, Sha256, SigningKey,
};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};

use super::dns::{lookup_txt, Answer};
use super::Check;
use crate::error::ErrorCode;

/// Header fields signed when present, most important first (RFC 6376 §5.4.1).
const SIGNED_HEADERS: [&str; 14] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "In-Reply-To",
    "References",
];

/// Errors of loading a key or signing with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the DKIM private key file {path} could not be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the DKIM private key file {path} is not a usable key: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error("the message could not be DKIM-signed: {0}")]
    Sign(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Read { .. } => ErrorCode::Io,
            Error::Unusable { .. } => ErrorCode::InvalidCampaign,
            Error::Sign(_) => ErrorCode::InvalidMessage,
        }
    }
}

/// The signature algorithm of a loaded key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with SHA-256; `bits` is the modulus length.
    Rsa {
        bits: usize,
    },
    Ed25519,
}

/// A loaded DKIM private key. `Debug` never shows key material.
pub struct DkimKey {
    key: MaDkimKey,
    algorithm: KeyAlgorithm,
    /// The public half as DKIM publishes it in p= once base64-decoded: PKCS#1
    /// RSAPublicKey for RSA (compared by modulus), the raw 32 bytes for Ed25519.
    public: Vec<u8>,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Lets mail-auth's signer borrow the key instead of consuming it, so one loaded key
/// signs every message of a campaign.
struct KeyRef<'a>(&'a MaDkimKey);

impl SigningKey for KeyRef<'_> {
    type Hasher = Sha256;
    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}

impl DkimKey {
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Signs `raw` (a complete RFC 5322 message, CRLF line ends) with d=`domain`,
    /// s=`selector`, relaxed/relaxed, and returns the `DKIM-Signature: ...\r\n` header
    /// field to put in front of it.
    ///
    /// `now` is the moment of signing as the caller sees it. mail-auth 0.13 stamps `t=`
    /// from the system clock itself and offers no way to pass a time, so `now` is only
    /// checked to be after 1970 here; the signature carries no expiry (`x=`), so the
    /// result does not depend on the clock in any way a test could observe.
    pub fn sign(
        &self,
        raw: &[u8],
        domain: &str,
        selector: &str,
        now: SystemTime,
    ) -> Result<String, Error> {
        now.duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| Error::Sign("the signing time is before 1970".into()))?;
        if domain.is_empty() || selector.is_empty() {
            return Err(Error::Sign(
                "the signing domain and selector must not be empty".into(),
            ));
        }
        let signature = DkimSigner::from_key(KeyRef(&self.key))
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS)
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .sign(raw)
            .map_err(|e| Error::Sign(e.to_string()))?;
        Ok(signature.to_header())
    }
}

/// Loads a DKIM private key: PEM or DER; RSA as PKCS#1 or PKCS#8; Ed25519 as PKCS#8
/// (including OpenSSL's form without the public key).
pub fn load_dkim_key(path: impl AsRef<Path>) -> Result<DkimKey, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_dkim_key(&bytes).map_err(|reason| Error::Unusable {
        path: path.to_path_buf(),
        reason,
    })
}

/// [`load_dkim_key`] on bytes already in memory; the error is a sentence.
pub fn parse_dkim_key(bytes: &[u8]) -> Result<DkimKey, String> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        if bytes
            .windows(20)
            .any(|w| w.starts_with(b"ENCRYPTED PRIVATE"))
        {
            return Err("it is encrypted with a passphrase; export it unencrypted (openssl pkcs8 -topk8 -nocrypt)".into());
        }
        match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(PrivateKeyDer::Pkcs1(der)) => from_pkcs1(der.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Pkcs8(der)) => from_pkcs8(der.secret_pkcs8_der()),
            Ok(_) => Err(
                "it is an elliptic-curve (SEC1) key; DKIM signs with RSA or Ed25519 only".into(),
            ),
            Err(e) => Err(format!("no private key found in the PEM text ({e})")),
        }
    } else {
        from_pkcs8(bytes)
            .or_else(|pkcs8| from_pkcs1(bytes).map_err(|_| pkcs8))
            .map_err(|e| format!("{e} (tried DER PKCS#8 and PKCS#1)"))
    }
}

fn from_pkcs1(der: &[u8]) -> Result<DkimKey, String> {
    let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)))
        .map_err(|e| format!("it is not a usable RSA key ({e})"))?;
    rsa_key(key)
}

fn from_pkcs8(der: &[u8]) -> Result<DkimKey, String> {
    match RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))) {
        Ok(key) => rsa_key(key),
        Err(rsa) => match Ed25519Key::from_pkcs8_maybe_unchecked_der(der) {
            Ok(key) => {
                let public = key.public_key();
                Ok(DkimKey {
                    key: MaDkimKey::Ed25519(key),
                    algorithm: KeyAlgorithm::Ed25519,
                    public,
                })
            }
            Err(_) => Err(format!(
                "it is neither a usable RSA nor Ed25519 key ({rsa})"
            )),
        },
    }
}

fn rsa_key(key: RsaKey<Sha256>) -> Result<DkimKey, String> {
    let public = key.public_key();
    let bits = rsa_modulus_bits(&public).ok_or("its public half could not be read")?;
    Ok(DkimKey {
        key: MaDkimKey::Rsa(key),
        algorithm: KeyAlgorithm::Rsa { bits },
        public,
    })
}

/// Reads one DER element at the start of `der`: (tag, contents, rest).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first & 0x80 == 0 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The modulus of an RSA public key given as PKCS#1 RSAPublicKey
/// (SEQUENCE { INTEGER n, INTEGER e }) or SubjectPublicKeyInfo
/// (SEQUENCE { SEQUENCE { OID, NULL }, BIT STRING { RSAPublicKey } }).
fn rsa_modulus(der: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    let (tag, body, _) = der_element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, first, rest) = der_element(body)?;
    match tag {
        INTEGER => Some(first),
        SEQUENCE => {
            // SubjectPublicKeyInfo: the algorithm must be rsaEncryption 1.2.840.113549.1.1.1.
            const RSA_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
            let (oid_tag, oid, _) = der_element(first)?;
            if oid_tag != 0x06 || oid != RSA_OID {
                return None;
            }
            let (tag, bits, _) = der_element(rest)?;
            if tag != BIT_STRING || bits.first() != Some(&0) {
                return None;
            }
            rsa_modulus(&bits[1..])
        }
        _ => None,
    }
}

/// Modulus length in bits (leading zero bits of the big-endian integer not counted).
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let n = rsa_modulus(der)?;
    let start = n.iter().position(|&b| b != 0)?;
    Some((n.len() - start) * 8 - n[start].leading_zeros() as usize)
}

/// The tag=value pairs of a DKIM key record (RFC 6376 §3.6.1), names lower-cased,
/// values with folding whitespace removed.
fn record_tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            Some((name.trim().to_ascii_lowercase(), value))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// RFC 6376 §3.6.1 `t=`: a colon-separated flag list; `y` means the domain is testing.
fn testing_mode(tags: &[(String, String)]) -> bool {
    tag(tags, "t").is_some_and(|t| t.split(':').any(|f| f.trim().eq_ignore_ascii_case("y")))
}

/// RFC 6376 §3.6.1 `h=`: the hashes the key may be used with (all when absent). The
/// value when it excludes sha256, the only hash RFC 8301 §3.1 lets signers use.
fn without_sha256(tags: &[(String, String)]) -> Option<&str> {
    tag(tags, "h").filter(|h| {
        !h.split(':')
            .any(|a| a.trim().eq_ignore_ascii_case("sha256"))
    })
}

/// What the DKIM checks learned, for the DMARC alignment check.
#[derive(Debug, Clone, Default)]
pub(crate) struct DkimOutcome {
    /// True when a probe signed with the configured key verified through DNS, with a
    /// key receivers accept (length, hash) and not in testing mode.
    pub verified: bool,
    /// True when no private key was given but the published record would allow a
    /// pass: whether DKIM passes is then unknown, not failed.
    pub unknown: bool,
}

/// Runs `dkim.record`, `dkim.revoked`, `dkim.key_length`, `dkim.hash` and `dkim.verify`
/// for `selector._domainkey.domain`.
pub(crate) async fn check_dkim(
    auth: &MessageAuthenticator,
    domain: &str,
    selector: &str,
    key: Option<&DkimKey>,
    from_domain: &str,
    now: SystemTime,
) -> (Vec<Check>, DkimOutcome) {
    let mut checks = Vec::new();
    let outcome = DkimOutcome::default();
    let name = format!("{selector}._domainkey.{domain}");
    let records = match lookup_txt(auth, &name).await {
        Answer::Found(txt) => txt,
        Answer::Missing => {
            checks.push(Check::fail(
                "dkim.record",
                format!("There is no DKIM key record at {name}, so receivers fail every signature with selector {selector} (RFC 6376 §6.1.2)."),
                format!("Publish the public key of the signing key as a TXT record at {name} (\"v=DKIM1; k=rsa; p=...\"), or correct the selector in the campaign."),
            ));
            return (checks, outcome);
        }
        Answer::Trouble(t) => {
            checks.push(Check::fail(
                "dkim.record",
                format!("Could not read the DKIM key record at {name}: {t}; receivers return temperror (RFC 6376 §6.1.2)."),
                "Check that the DNS server is reachable and answering for this domain, then run the checks again.",
            ));
            return (checks, outcome);
        }
    };
    // A selector should hold one key record; receivers use the first one that parses.
    let record = records
        .iter()
        .find(|r| r.to_ascii_lowercase().contains("p="))
        .cloned()
        .unwrap_or_else(|| records[0].clone());
    let tags = record_tags(&record);
    if tag(&tags, "p").is_none() || tag(&tags, "v").is_some_and(|v| v != "DKIM1") {
        checks.push(Check::fail(
            "dkim.record",
            format!("The TXT record at {name} is not a DKIM key record: \"{record}\" (RFC 6376 §3.6.1)."),
            format!("Replace it with \"v=DKIM1; k=rsa; p=<base64 public key>\" for selector {selector}."),
        ));
        return (checks, outcome);
    }
    // t=y: "this domain is testing DKIM"; verifiers MUST NOT treat such mail differently
    // from unsigned mail (RFC 6376 §3.6.1), so its signatures count for nothing.
    let testing = testing_mode(&tags);
    if testing {
        checks.push(Check::warning(
            "dkim.record",
            format!("{name} publishes a DKIM key in testing mode (t=y): receivers treat its signatures like no signature, so they do not count for DMARC (RFC 6376 §3.6.1)."),
            "Remove t=y from the key record once signing works.",
        ));
    } else {
        checks.push(Check::pass(
            "dkim.record",
            format!("{name} publishes a DKIM key record (RFC 6376 §3.6.1)."),
        ));
    }

    let p = tag(&tags, "p").unwrap_or_default();
    if p.is_empty() {
        checks.push(Check::fail(
            "dkim.revoked",
            format!("The key at {name} is revoked (empty p=): every signature with selector {selector} fails (RFC 6376 §3.6.1, §6.1.2)."),
            "Publish the current public key under this selector, or configure the selector whose key is in use.",
        ));
        return (checks, outcome);
    }
    checks.push(Check::pass(
        "dkim.revoked",
        "The published key is not revoked (RFC 6376 §3.6.1).",
    ));

    let key_type = tag(&tags, "k").unwrap_or("rsa").to_ascii_lowercase();
    let published = match base64::engine::general_purpose::STANDARD.decode(p) {
        Ok(bytes) => bytes,
        Err(_) => {
            checks.push(Check::fail(
                "dkim.key_length",
                format!("The p= value at {name} is not valid base64 (RFC 6376 §3.6.1)."),
                "Publish the public key again, base64 without quotes or line breaks inside a string.",
            ));
            return (checks, outcome);
        }
    };
    let length = match key_type.as_str() {
        "ed25519" if published.len() == 32 => Check::pass("dkim.key_length", "The published key is Ed25519 (strong; RFC 8463 §4)."),
        "ed25519" => Check::fail(
            "dkim.key_length",
            format!("The Ed25519 key at {name} is {} bytes long, not 32 (RFC 8463 §4).", published.len()),
            "Publish the raw 32-byte Ed25519 public key, base64-encoded (RFC 8463).",
        ),
        "rsa" => match rsa_modulus_bits(&published) {
            Some(bits) if bits < 1024 => Check::fail(
                "dkim.key_length",
                format!("The published RSA key is {bits} bits; verifiers must not accept keys under 1024 bits, and such keys can be broken (RFC 8301 §3.2)."),
                "Generate a new RSA-2048 key (or Ed25519 alongside it), publish it under a new selector and sign with it.",
            ),
            Some(bits) if bits < 2048 => Check::warning(
                "dkim.key_length",
                format!("The published RSA key is {bits} bits: receivers still accept it, but signers SHOULD use at least 2048 bits (RFC 8301 §3.2)."),
                "Generate a new RSA-2048 key, publish it under a new selector and switch signing to it.",
            ),
            Some(bits) => Check::pass("dkim.key_length", format!("The published RSA key is {bits} bits (RFC 8301 §3.2).")),
            None => Check::fail(
                "dkim.key_length",
                format!("The p= value at {name} is not an RSA public key (RFC 6376 §3.6.1)."),
                "Publish the SubjectPublicKeyInfo of the RSA key (openssl pkey -pubout -outform DER | base64).",
            ),
        },
        other => Check::fail(
            "dkim.key_length",
            format!("The record at {name} declares key type k={other}, which receivers do not support (RFC 6376 §3.6.1, RFC 8463)."),
            "Use k=rsa (2048 bits) or k=ed25519.",
        ),
    };
    let length_ok = length.status != super::Status::Fail;
    checks.push(length);

    // h= lists the hashes the key may be used with; sha1 alone means rsa-sha1, which
    // RFC 8301 forbids verifiers to accept (and mail-auth would still call it Pass).
    let sha1_only = without_sha256(&tags);
    match sha1_only {
        Some(h) => checks.push(Check::fail(
            "dkim.hash",
            format!("The record at {name} allows only h={h}: a sha256 signature is not allowed by this key (RFC 6376 §3.6.1), and rsa-sha1 signatures must not be accepted (RFC 8301 §3.1)."),
            "Remove the h= tag (or set h=sha256) and sign with rsa-sha256.",
        )),
        None => checks.push(Check::pass("dkim.hash", "Signatures use sha256 (RFC 8301 §3.1).")),
    }

    let Some(key) = key else {
        checks.push(Check::skipped(
            "dkim.verify",
            "Not checked: no DKIM private key was given, so it is not proven that messages will be signed with the published key.",
            "Give the private key (check-domain --key FILE, or [dkim] private_key in the campaign) so a signed probe can be verified.",
        ));
        // What the published record says decides whether DKIM could pass at all.
        let outcome = DkimOutcome {
            verified: false,
            unknown: length_ok && sha1_only.is_none() && !testing,
        };
        return (checks, outcome);
    };
    if let Some(h) = sha1_only {
        checks.push(Check::fail(
            "dkim.verify",
            format!("Signatures with the configured key cannot verify: {name} allows only h={h}, so receivers ignore the rsa-sha256 signature (RFC 6376 §3.6.1, §6.1.2; RFC 8301 §3.1)."),
            "Remove the h= tag from the key record (or set h=sha256).",
        ));
        return (checks, outcome);
    }
    let verify = verify_probe(
        auth,
        domain,
        selector,
        key,
        from_domain,
        &published,
        &key_type,
        now,
    )
    .await;
    let verified = verify.status == super::Status::Pass && length_ok && !testing;
    checks.push(verify);
    (
        checks,
        DkimOutcome {
            verified,
            unknown: false,
        },
    )
}

/// `dkim.verify`: signs a probe message with the configured key and verifies it through
/// DNS with mail-auth, exactly as a receiver would.
#[allow(clippy::too_many_arguments)]
async fn verify_probe(
    auth: &MessageAuthenticator,
    domain: &str,
    selector: &str,
    key: &DkimKey,
    from_domain: &str,
    published: &[u8],
    key_type: &str,
    now: SystemTime,
) -> Check {
    const ID: &str = "dkim.verify";
    let name = format!("{selector}._domainkey.{domain}");
    let mismatch_fix = format!(
        "Publish the public key of the configured private key at {name}, or configure the private key whose public key is published there."
    );
    let configured = match key.algorithm {
        KeyAlgorithm::Ed25519 => "ed25519",
        KeyAlgorithm::Rsa { .. } => "rsa",
    };
    if configured != key_type {
        return Check::fail(
            ID,
            format!("The configured private key is {configured} but {name} publishes a k={key_type} key, so signatures cannot verify (RFC 6376 §3.6.1)."),
            mismatch_fix,
        );
    }
    let probe = probe_message(from_domain, domain, now);
    let header = match key.sign(&probe, domain, selector, now) {
        Ok(h) => h,
        Err(e) => {
            return Check::fail(
                ID,
                format!("A probe message could not be signed: {e}."),
                "Use an RSA-2048 or Ed25519 private key in PEM or DER form.",
            )
        }
    };
    let mut signed = header.into_bytes();
    signed.extend_from_slice(&probe);
    let Some(message) = AuthenticatedMessage::parse(&signed) else {
        return Check::fail(
            ID,
            "The signed probe message could not be parsed.",
            "Report this as a MergeGuard bug.",
        );
    };
    let results = auth.verify_dkim(&message).await;
    let result = results
        .first()
        .map(|r| r.result().clone())
        .unwrap_or(DkimResult::None);
    // Compare the key material too, to say *why* verification failed.
    let same_key = match key.algorithm {
        KeyAlgorithm::Ed25519 => published == key.public.as_slice(),
        KeyAlgorithm::Rsa { .. } => {
            rsa_modulus(published).is_some() && rsa_modulus(published) == rsa_modulus(&key.public)
        }
    };
    match result {
        DkimResult::Pass => Check::pass(ID, format!("A probe message signed with the configured key verifies through DNS ({name}; RFC 6376 §6.1.3).")),
        DkimResult::TempError(e) => Check::fail(
            ID,
            format!("The probe signature could not be verified because the DNS lookup of {name} failed: {e} (temperror, RFC 6376 §6.1.2)."),
            "Check that the DNS server is reachable and answering, then run the checks again.",
        ),
        other if !same_key => Check::fail(
            ID,
            format!("The key published at {name} does not match the configured private key (verification result: {}; RFC 6376 §6.1.3).", describe(&other)),
            mismatch_fix,
        ),
        other => Check::fail(
            ID,
            format!("A probe signed with the configured key does not verify through {name} (result: {}; RFC 6376 §6.1.3).", describe(&other)),
            "Check that the record at this selector is a complete, unmodified copy of the public key.",
        ),
    }
}

fn describe(r: &DkimResult) -> String {
    match r {
        DkimResult::Pass => "pass".into(),
        DkimResult::Neutral(e) => format!("neutral, {e}"),
        DkimResult::Fail(e) => format!("fail, {e}"),
        DkimResult::PermError(e) => format!("permerror, {e}"),
        DkimResult::TempError(e) => format!("temperror, {e}"),
        DkimResult::None => "no signature found".into(),
    }
}

/// A small message shaped like a campaign message; it is signed and verified locally
/// and never sent.
fn probe_message(from_domain: &str, domain: &str, now: SystemTime) -> Vec<u8> {
    let date = time::OffsetDateTime::from(now)
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".into());
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "From: MergeGuard pre-flight <preflight@{from_domain}>\r\n\
         To: preflight@{from_domain}\r\n\
         Subject: MergeGuard DKIM probe\r\n\
         Date: {date}\r\n\
         Message-ID: <dkim-probe.{secs}@{domain}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This message is signed and verified on this computer to prove the DKIM key; it is never sent.\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_reads_pkcs1_and_spki() {
        // PKCS#1 RSAPublicKey with a 9-bit modulus 0x01FF and e = 3.
        let pkcs1 = [0x30, 0x07, 0x02, 0x02, 0x01, 0xff, 0x02, 0x01, 0x03];
        assert_eq!(rsa_modulus_bits(&pkcs1), Some(9));
        let mut spki = vec![0x30, 0x1b, 0x30, 0x0d, 0x06, 0x09];
        spki.extend_from_slice(&[
            0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ]);
        spki.extend_from_slice(&[0x03, 0x0a, 0x00]);
        spki.extend_from_slice(&pkcs1);
        assert_eq!(rsa_modulus_bits(&spki), Some(9));
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x05, 0x02]),
            None,
            "truncated DER is refused"
        );
        assert_eq!(rsa_modulus_bits(&[]), None);
    }

    #[test]
    fn record_tags_strip_folding_whitespace() {
        let tags = record_tags("v=DKIM1; k=rsa; p=AB CD\r\n EF");
        assert_eq!(tag(&tags, "p"), Some("ABCDEF"));
        assert_eq!(tag(&tags, "k"), Some("rsa"));
    }

    #[test]
    fn rfc6376_3_6_1_testing_flag_is_read_from_the_flag_list() {
        assert!(testing_mode(&record_tags("v=DKIM1; t=y; p=AB")));
        assert!(testing_mode(&record_tags("v=DKIM1; t=s:y; p=AB")));
        assert!(!testing_mode(&record_tags("v=DKIM1; t=s; p=AB")));
        assert!(!testing_mode(&record_tags("v=DKIM1; p=AB")));
    }

    #[test]
    fn rfc8301_3_1_key_records_that_exclude_sha256_are_found() {
        assert_eq!(
            without_sha256(&record_tags("v=DKIM1; h=sha1; p=AB")),
            Some("sha1")
        );
        assert_eq!(
            without_sha256(&record_tags("v=DKIM1; h=sha1:sha256; p=AB")),
            None
        );
        assert_eq!(
            without_sha256(&record_tags("v=DKIM1; h=SHA256; p=AB")),
            None
        );
        assert_eq!(
            without_sha256(&record_tags("v=DKIM1; p=AB")),
            None,
            "no h= allows every hash"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(parse_dkim_key(b"not a key").is_err());
        assert!(
            parse_dkim_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
