//! One address cell → an address, or the reason it cannot be a recipient.
//!
//! lettre's parser (RFC 5321/5322 local part and domain, IDN domains through IDNA) has
//! the last word; the checks before it are stricter than the RFCs on purpose, because a
//! cell that is technically valid but unusual (a quoted local part, an IP literal, a
//! display name) is far more often a mistake in a customer list than a real mailbox.

use std::str::FromStr;

use super::RejectReason;
use crate::error::Reason;

/// Why a cell is not a usable address: the reason and a plain-language detail.
pub(crate) type Refusal = (RejectReason, Detail);

/// Why a row was refused: the English sentence and its key for the window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detail {
    pub text: String,
    pub why: Reason,
}

impl Detail {
    pub(crate) fn new(key: &'static str, text: impl Into<String>) -> Detail {
        Detail {
            text: text.into(),
            why: Reason::new(key),
        }
    }

    pub(crate) fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Detail {
        self.why = self.why.with(name, value);
        self
    }
}

/// Characters trimmed from around an address: all Unicode white space (including the
/// full-width space U+3000 and no-break space), zero-width space and byte-order marks.
pub(crate) fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}')
}

/// Separators people put between two addresses in one cell.
fn is_separator(c: char) -> bool {
    is_trimmed(c) || matches!(c, ',' | ';' | '、' | '，' | '；' | '/' | '|')
}

/// Byte classes for the plain-address scan, looked up once per byte.
const LOCAL: u8 = 1; // atext of RFC 5322 §3.2.3, less '/' and '|' (also separators)
const LABEL: u8 = 2; // letter, digit or hyphen: a domain label character
const LETTER: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let special = matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'}'
                | b'~'
        );
        if alnum || special {
            t[b] |= LOCAL;
        }
        if alnum || c == b'-' {
            t[b] |= LABEL;
        }
        if c.is_ascii_alphabetic() {
            t[b] |= LETTER;
        }
        b += 1;
    }
    t
};

/// The plain case, decided without lettre in one pass over the bytes: ASCII
/// `dot-atom@label.label…` where every domain label is letters, digits and inner hyphens
/// (at most 63), the last label has a letter, and the lengths are within the limits
/// `check_address` enforces. Every address this accepts is also accepted by the full path
/// (tested against it); anything else returns `false` and takes the full path, so no
/// reason or message changes. '/' and '|' are atext but also separators between two
/// addresses in one cell, so a local part with one takes the full path, which counts the
/// addresses.
fn is_plain_address(address: &str) -> bool {
    let bytes = address.as_bytes();
    if bytes.len() > 254 {
        return false;
    }
    let Some(at) = memchr::memchr(b'@', bytes) else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.is_empty() {
        return false;
    }
    // Local part: atoms of atext separated by single dots, none empty.
    let mut after_dot = true;
    for &b in local {
        if b == b'.' {
            if after_dot {
                return false;
            }
            after_dot = true;
        } else if CLASSES[usize::from(b)] & LOCAL != 0 {
            after_dot = false;
        } else {
            return false;
        }
    }
    if after_dot {
        return false;
    }
    // Domain: labels of letters, digits and inner hyphens, 1 to 63 long, at least two.
    let mut labels = 1;
    let mut len = 0usize;
    let mut has_letter = false;
    let mut prev = b'.';
    for &b in domain {
        if b == b'.' {
            if len == 0 || prev == b'-' {
                return false;
            }
            labels += 1;
            len = 0;
            has_letter = false;
        } else {
            let class = CLASSES[usize::from(b)];
            if class & LABEL == 0 || (len == 0 && b == b'-') {
                return false;
            }
            len += 1;
            if len > 63 {
                return false;
            }
            has_letter |= class & LETTER != 0;
        }
        prev = b;
    }
    labels >= 2 && len > 0 && prev != b'-' && has_letter
}

/// Checks one address cell; returns the trimmed address to send to.
pub(crate) fn check_address(cell: &str) -> Result<&str, Refusal> {
    // Nothing to trim when both ends are visible ASCII (the usual cell).
    let visible = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    let address = if visible(cell.as_bytes().first()) && visible(cell.as_bytes().last()) {
        cell
    } else {
        cell.trim_matches(is_trimmed)
    };
    if is_plain_address(address) {
        return Ok(address);
    }
    check_address_fully(address)
}

/// The full path: every refusal with its reason, lettre's parser last.
fn check_address_fully(address: &str) -> Result<&str, Refusal> {
    if address.is_empty() {
        return Err((
            RejectReason::EmptyAddress,
            Detail::new("cell_empty", "the address cell is empty"),
        ));
    }
    // Two @-tokens in one cell would put two people in one message's To: the leak this
    // product exists to prevent. Counted before any other check so the reason is exact.
    let tokens = address
        .split(is_separator)
        .filter(|t| t.contains(['@', '＠']))
        .count();
    if tokens >= 2 {
        return Err((
            RejectReason::MultipleAddresses,
            Detail::new(
                "cell_multiple",
                format!("the cell holds {tokens} addresses; put one recipient on each row"),
            )
            .with("count", tokens),
        ));
    }
    invalid_if(
        address.contains('＠'),
        "addr_fullwidth_at",
        "it has a full-width ＠; type a half-width @ instead",
    )?;
    invalid_if(
        address.contains(['<', '>']),
        "addr_brackets",
        "write the bare address, without a name or angle brackets",
    )?;
    invalid_if(
        address.chars().any(|c| c.is_whitespace() || c.is_control()),
        "addr_space",
        "it contains a space or a control character",
    )?;
    invalid_if(
        address.contains('"'),
        "addr_quoted",
        "quoted local parts are not accepted",
    )?;
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(invalid("addr_no_at", "it has no @"));
    };
    invalid_if(local.is_empty(), "addr_no_local", "nothing before the @")?;
    invalid_if(domain.is_empty(), "addr_no_domain", "nothing after the @")?;
    // Non-ASCII before the @ needs SMTPUTF8 at every hop; relays commonly refuse it, so
    // such a row is better fixed than half-delivered. IDN domains are fine: they are
    // sent as punycode.
    invalid_if(
        !local.is_ascii(),
        "addr_non_ascii_local",
        "the part before @ has non-ASCII characters, which many mail servers refuse",
    )?;
    invalid_if(
        local.len() > 64,
        "addr_local_too_long",
        "the part before @ is longer than 64 characters",
    )?;
    invalid_if(
        address.len() > 254,
        "addr_too_long",
        "the address is longer than 254 characters",
    )?;
    invalid_if(
        domain.starts_with('['),
        "addr_ip_domain",
        "IP-address domains are not accepted",
    )?;
    if !domain.contains('.') {
        return Err(invalid_in_domain(
            "addr_domain_no_dot",
            format!("the domain \"{domain}\" has no dot"),
            domain,
        ));
    }
    match lettre::Address::from_str(address) {
        Ok(_) => Ok(address),
        Err(lettre::address::AddressError::InvalidUser) => {
            Err(invalid("addr_bad_local", "the part before @ is not valid"))
        }
        Err(lettre::address::AddressError::InvalidDomain) => Err(invalid_in_domain(
            "addr_bad_domain",
            format!("the domain \"{domain}\" is not valid"),
            domain,
        )),
        Err(other) => Err(invalid(
            "addr_invalid",
            format!("not a valid address ({other})"),
        )),
    }
}

fn invalid(key: &'static str, detail: impl Into<String>) -> Refusal {
    (RejectReason::InvalidAddress, Detail::new(key, detail))
}

fn invalid_if(condition: bool, key: &'static str, detail: &str) -> Result<(), Refusal> {
    if condition {
        Err(invalid(key, detail))
    } else {
        Ok(())
    }
}

/// A refusal that names the domain part, so the window can repeat it.
fn invalid_in_domain(key: &'static str, detail: String, domain: &str) -> Refusal {
    (
        RejectReason::InvalidAddress,
        Detail::new(key, detail).with("domain", domain),
    )
}

/// The duplicate key: the whole address, lower-cased, with an internationalised domain
/// in its ASCII (punycode, A-label) form. Local parts are case-sensitive in theory, but
/// no real mailbox provider treats them so, and sending twice is the worse mistake.
///
/// `taro@例え.jp`, `taro@XN--R8JZ45G.jp` and `taro@xn--r8jz45g.jp` are one mailbox (the
/// domain is sent as its A-label either way), so they get one key. An ASCII address is
/// only lower-cased — the importer's fast path, and an A-label lower-cased is already in
/// its IDNA form; only an address with a non-ASCII domain goes through IDNA (UTS #46
/// mapping: case, width and normalisation folded as a resolver folds them).
pub(crate) fn duplicate_key(address: &str) -> String {
    if address.is_ascii() {
        return address.to_ascii_lowercase();
    }
    match address.rsplit_once('@') {
        Some((local, domain)) => match idna::domain_to_ascii(domain) {
            Ok(ascii) if !ascii.is_empty() => {
                let mut key = local.to_lowercase();
                key.push('@');
                key.push_str(&ascii);
                key
            }
            // Not a valid IDN: the importer refuses such an address before it needs a
            // key; anything else is compared as written.
            _ => address.to_lowercase(),
        },
        None => address.to_lowercase(),
    }
}

/// Whether a cell holds an address for finding the address column by content: a valid
/// one, or several (a column of addresses with a leak in it is still the address column).
pub(crate) fn looks_like_address(cell: &str) -> bool {
    match check_address(cell) {
        Ok(_) => true,
        Err((reason, _)) => reason == RejectReason::MultipleAddresses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(cell: &str) -> Option<RejectReason> {
        check_address(cell).err().map(|(r, _)| r)
    }

    #[test]
    fn accepts_plain_and_idn_and_trims() {
        assert_eq!(
            check_address("  taro@example.jp\u{3000}"),
            Ok("taro@example.jp")
        );
        assert_eq!(check_address("taro@例え.jp"), Ok("taro@例え.jp"));
        assert_eq!(
            check_address("a.b+tag@sub.example.co.jp"),
            Ok("a.b+tag@sub.example.co.jp")
        );
    }

    #[test]
    fn refuses_each_kind_with_its_reason() {
        use RejectReason::*;
        assert_eq!(reason(" \u{3000}"), Some(EmptyAddress));
        assert_eq!(reason("a@x.jp; b@y.jp"), Some(MultipleAddresses));
        assert_eq!(reason("a@x.jp, b@y.jp"), Some(MultipleAddresses));
        assert_eq!(reason("a@x.jp b@y.jp"), Some(MultipleAddresses));
        assert_eq!(reason("a@x.jp、b@y.jp"), Some(MultipleAddresses));
        assert_eq!(reason("Taro <a@x.jp>"), Some(InvalidAddress));
        assert_eq!(reason("<a@x.jp>"), Some(InvalidAddress));
        assert_eq!(reason("taro＠example.jp"), Some(InvalidAddress));
        assert_eq!(reason("山田@例え.jp"), Some(InvalidAddress));
        assert_eq!(reason("taro@localhost"), Some(InvalidAddress));
        assert_eq!(reason("taro@[127.0.0.1]"), Some(InvalidAddress));
        assert_eq!(reason("\"a b\"@x.jp"), Some(InvalidAddress));
        assert_eq!(reason("a..b@x.jp"), Some(InvalidAddress));
        assert_eq!(reason("a@-x.jp"), Some(InvalidAddress));
        assert_eq!(reason("a@x..jp"), Some(InvalidAddress));
        assert_eq!(reason("taro.example.jp"), Some(InvalidAddress));
        assert_eq!(reason("=HYPERLINK(\"http://x\")"), Some(InvalidAddress));
    }

    #[test]
    fn plain_fast_path_accepts_nothing_the_full_path_refuses() {
        // Every combination of a few local parts and domains, plain and tricky.
        let locals = [
            "a",
            "taro.yamada",
            "x+tag",
            "o'neil",
            "a..b",
            ".a",
            "a.",
            "a/b",
            "a|b",
            "#!$%&*=?^_`{}~-",
            "ab\"c",
            "a b",
            "",
            &"l".repeat(64),
            &"l".repeat(65),
            "ａ",
        ];
        let domains = [
            "example.jp",
            "example.co.jp",
            "ex-ample.jp",
            "-ex.jp",
            "ex-.jp",
            "ex..jp",
            "ex.jp.",
            "localhost",
            "1.2.3.4",
            "ex.123",
            "xn--r8jz45g.jp",
            "例え.jp",
            "[127.0.0.1]",
            "a_b.jp",
            &format!("{}.jp", "d".repeat(63)),
            &format!("{}.jp", "d".repeat(64)),
            &format!("{}.jp", vec!["d".repeat(60); 4].join(".")),
        ];
        let mut fast = 0;
        for l in &locals {
            for d in &domains {
                let address = format!("{l}@{d}");
                if is_plain_address(&address) {
                    fast += 1;
                    assert_eq!(
                        check_address_fully(&address),
                        Ok(address.as_str()),
                        "the fast path accepted {address:?}, the full path refuses it"
                    );
                }
            }
        }
        assert!(
            fast > 20,
            "the fast path should take the plain cases ({fast})"
        );
    }

    #[test]
    fn duplicate_key_folds_case_everywhere() {
        assert_eq!(duplicate_key("Taro@Example.JP"), "taro@example.jp");
        // Deliberately changed: a non-ASCII domain is keyed by its A-label, so the
        // same mailbox typed either way is one key.
        assert_eq!(duplicate_key("a@ÉX.jp"), "a@xn--x-9fa.jp");
        assert_eq!(duplicate_key("a@éx.jp"), duplicate_key("A@XN--X-9FA.JP"));
    }

    #[test]
    fn u_label_and_a_label_forms_share_one_key() {
        assert_eq!(duplicate_key("taro@例え.jp"), "taro@xn--r8jz45g.jp");
        assert_eq!(duplicate_key("Taro@XN--R8JZ45G.JP"), "taro@xn--r8jz45g.jp");
        // Full-width letters are folded by IDNA as every resolver folds them.
        assert_eq!(duplicate_key("a@ｅｘａｍｐｌｅ.jp"), "a@example.jp");
        // The Cyrillic а keeps its own key: a look-alike is not the same mailbox.
        assert_ne!(duplicate_key("a@exаmple.test"), "a@example.test");
    }
}
