//! Individual addressing: each message goes to exactly one recipient, and no other
//! recipient of the campaign is visible anywhere in it (headers, bodies, attachments).
//!
//! The "anywhere" search must stay linear for 100,000 messages, so it never compares
//! every address with every message. Instead a byte scanner finds each `@` (and its
//! URL-encoded form `%40`) with `memchr`, grows the local part to the left and the
//! domain to the right over the ASCII characters an address can hold, and looks the
//! lower-cased token up in a `HashMap` of the campaign's addresses. A hand-written
//! scanner is used rather than a regular expression because it can also try the
//! shorter readings of a token (`email=taro@example.jp` in a link, or
//! `taro@example.jp.Thanks` in prose) with a few extra hash look-ups, which a single
//! regex match would not give, and because it costs one pass over the bytes.
//! Non-ASCII characters end a token: Japanese text often touches an address directly.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use mail_parser::{HeaderValue, Message};

use super::messages::Findings;
use super::Status;
use crate::compose::BuiltMessage;
use crate::recipients::RecipientList;

pub const SINGLE_TO: &str = "addressing.single_to";
pub const ENVELOPE: &str = "addressing.envelope";
pub const NO_CC_BCC: &str = "addressing.no_cc_bcc";
pub const NO_OTHER_RECIPIENT: &str = "addressing.no_other_recipient";
pub const LOOKALIKE_DOMAIN: &str = "addressing.lookalike_domain";

/// One `@` found in text, with the longest local part and domain around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressHit<'a> {
    pub local: &'a [u8],
    pub domain: &'a [u8],
}

impl AddressHit<'_> {
    /// True when the token looks like a real address: a local part and a dotted domain
    /// whose last label is at least two letters. Used to count addresses in attachments.
    pub fn is_plausible(&self) -> bool {
        if self.local.is_empty() || self.domain.len() < 4 {
            return false;
        }
        let Some(dot) = self.domain.iter().rposition(|&b| b == b'.') else {
            return false;
        };
        let tld = &self.domain[dot + 1..];
        dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
    }

    /// True when the whole token is `lower` (an address already lower-cased).
    pub fn is(&self, lower: &str) -> bool {
        let l = lower.as_bytes();
        l.len() == self.local.len() + 1 + self.domain.len()
            && l[self.local.len()] == b'@'
            && self.local.eq_ignore_ascii_case(&l[..self.local.len()])
            && self.domain.eq_ignore_ascii_case(&l[self.local.len() + 1..])
    }

    /// The whole token, lower-cased.
    pub fn to_lowercase(&self) -> String {
        let mut s = String::with_capacity(self.local.len() + 1 + self.domain.len());
        push_lower(&mut s, self.local);
        s.push('@');
        push_lower(&mut s, self.domain);
        s
    }
}

fn push_lower(s: &mut String, bytes: &[u8]) {
    // Only ASCII bytes ever reach a hit, so each byte is one char.
    s.extend(bytes.iter().map(|b| b.to_ascii_lowercase() as char));
}

fn is_local_byte(b: u8) -> bool {
    // RFC 5322 atext plus '.', without '%' (it starts URL escapes, see `%40`).
    b.is_ascii_alphanumeric() || b"!#$&'*+-/=?^_`{|}~.".contains(&b)
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Characters after which a shorter local part is also tried: they separate an
/// address from what precedes it in URLs and prose, but rarely occur in real addresses.
fn is_local_split(b: u8) -> bool {
    b"!#$&'*/=?^`{|}~".contains(&b)
}

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;

/// Calls `f` for every `@` (or `%40`) in `text` that has a non-empty local part and
/// domain around it. One pass; linear in the length of `text`.
pub fn scan_addresses<'a>(text: &'a [u8], mut f: impl FnMut(AddressHit<'a>)) {
    for pos in memchr::memchr2_iter(b'@', b'%', text) {
        let after = if text[pos] == b'@' {
            pos + 1
        } else if text[pos..].starts_with(b"%40") {
            pos + 3
        } else {
            continue;
        };
        let mut start = pos;
        while start > 0 && pos - start < MAX_LOCAL && is_local_byte(text[start - 1]) {
            start -= 1;
        }
        let mut local = &text[start..pos];
        while let [b'.', rest @ ..] = local {
            local = rest;
        }
        let mut end = after;
        while end < text.len() && end - after < MAX_DOMAIN && is_domain_byte(text[end]) {
            end += 1;
        }
        let mut domain = &text[after..end];
        while let [rest @ .., b'.' | b'-'] = domain {
            domain = rest;
        }
        if !local.is_empty() && !domain.is_empty() {
            f(AddressHit { local, domain });
        }
    }
}

/// FxHash-style hasher for the address maps: every token of every message is looked
/// up, and SipHash's DoS resistance buys nothing against the operator's own list.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The campaign's addresses, lower-cased, with their rows.
#[derive(Debug, Default)]
pub struct AddressBook {
    rows: FastMap<String, u64>,
    emails: FastMap<u64, String>,
}

impl AddressBook {
    pub fn new(list: &RecipientList) -> AddressBook {
        let n = list.recipients.len();
        let mut book = AddressBook {
            rows: FastMap::with_capacity_and_hasher(n, Default::default()),
            emails: FastMap::with_capacity_and_hasher(n, Default::default()),
        };
        for r in &list.recipients {
            let lower = r.email().trim().to_lowercase();
            book.rows.entry(lower.clone()).or_insert(r.row);
            book.emails.insert(r.row, lower);
        }
        book
    }

    /// The lower-cased address of `row`, if it is a recipient.
    pub fn email_of(&self, row: u64) -> Option<&str> {
        self.emails.get(&row).map(String::as_str)
    }

    /// The row of a lower-cased address.
    pub fn row_of(&self, lower: &str) -> Option<u64> {
        self.rows.get(lower).copied()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The campaign address this hit stands for, if any: first the whole token, then
    /// shorter readings (local part after a separator, domain cut at a dot).
    pub fn lookup(&self, hit: &AddressHit<'_>, buf: &mut String) -> Option<(u64, String)> {
        self.find(hit, buf)
            .map(|(row, addr)| (row, addr.to_string()))
    }

    /// Like [`AddressBook::lookup`], borrowing the address from the book: this runs
    /// for every `@` of every message, so it allocates nothing.
    pub(crate) fn find(&self, hit: &AddressHit<'_>, buf: &mut String) -> Option<(u64, &str)> {
        // At most 8 readings each way, as before; kept on the stack.
        let mut local_starts = [0usize; 8];
        let mut n_local = 1;
        for (i, &b) in hit.local.iter().enumerate() {
            if n_local == local_starts.len() {
                break;
            }
            if is_local_split(b) && i + 1 < hit.local.len() {
                local_starts[n_local] = i + 1;
                n_local += 1;
            }
        }
        let mut domain_ends = [hit.domain.len(); 8];
        let mut n_domain = 1;
        for (i, &b) in hit.domain.iter().enumerate().rev() {
            if n_domain == domain_ends.len() {
                break;
            }
            if b == b'.' && hit.domain[..i].contains(&b'.') {
                domain_ends[n_domain] = i;
                n_domain += 1;
            }
        }
        for &ls in &local_starts[..n_local] {
            for &de in &domain_ends[..n_domain] {
                buf.clear();
                push_lower(buf, &hit.local[ls..]);
                buf.push('@');
                push_lower(buf, &hit.domain[..de]);
                if let Some((addr, &row)) = self.rows.get_key_value(buf.as_str()) {
                    return Some((row, addr.as_str()));
                }
            }
        }
        None
    }
}

/// Where another recipient's address was seen in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub row: u64,
    pub address: String,
    pub place: String,
}

/// Collects campaign addresses other than `own` (and the sender's) seen in `text`.
pub(crate) struct Sightings<'b> {
    book: &'b AddressBook,
    ignore: Vec<String>,
    buf: String,
    pub found: Vec<Sighting>,
}

impl<'b> Sightings<'b> {
    pub(crate) fn new(book: &'b AddressBook, ignore: Vec<String>) -> Self {
        Sightings {
            book,
            ignore,
            buf: String::new(),
            found: Vec::new(),
        }
    }

    pub(crate) fn scan(&mut self, text: &[u8], place: &str) {
        self.scan_at(text, || place.to_string());
    }

    /// Like [`Sightings::scan`], naming the place only when something is found (most
    /// texts hold no other recipient, and the name would be an allocation per header).
    pub(crate) fn scan_at(&mut self, text: &[u8], place: impl Fn() -> String) {
        let (book, ignore, buf, found) = (self.book, &self.ignore, &mut self.buf, &mut self.found);
        scan_addresses(text, |hit| {
            // The row's own and the sender's addresses are most of what a message
            // holds; recognising them first saves a look-up in a table that does not
            // fit the cache.
            if ignore.iter().any(|i| hit.is(i)) {
                return;
            }
            if let Some((row, addr)) = book.find(&hit, buf) {
                if ignore.iter().any(|i| i == addr) {
                    return;
                }
                let place = place();
                if !found.iter().any(|s| s.address == addr && s.place == place) {
                    found.push(Sighting {
                        row,
                        address: addr.to_string(),
                        place,
                    });
                }
            }
        });
    }

    pub(crate) fn add(&mut self, row: u64, address: &str, place: &str) {
        if !self.ignore.iter().any(|i| i == address)
            && !self
                .found
                .iter()
                .any(|s| s.address == address && s.place == place)
        {
            self.found.push(Sighting {
                row,
                address: address.to_string(),
                place: place.to_string(),
            });
        }
    }
}

fn addresses_of(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Address(a) => a
            .iter()
            .filter_map(|m| m.address())
            .map(|s| s.trim().to_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

/// The sender's own addresses: never counted as "another recipient" even when the
/// sender is also on the list, because the sender's address is disclosed anyway.
pub(crate) fn sender_addresses(msg: &BuiltMessage, parsed: &Message<'_>) -> Vec<String> {
    let mut v = vec![msg.envelope_from.trim().to_lowercase()];
    for name in ["From", "Sender", "Reply-To", "Return-Path"] {
        if let Some(h) = parsed.header(name) {
            v.extend(addresses_of(h));
            if let HeaderValue::Text(t) = h {
                v.push(t.trim().trim_matches(['<', '>']).to_lowercase());
            }
        }
    }
    v
}

/// Checks one message's envelope, `To`, `Cc`/`Bcc`/`Resent-*` and its headers and
/// bodies for other recipients' addresses. Attachments are scanned by the caller
/// (once per distinct attachment) and added to `sightings`.
pub(crate) fn inspect(
    msg: &BuiltMessage,
    parsed: &Message<'_>,
    book: &AddressBook,
    sightings: &mut Sightings<'_>,
    findings: &mut Findings,
) {
    let row = msg.row;
    let own = book.email_of(row);

    // addressing.single_to
    let tos: Vec<String> = parsed.header_values("To").flat_map(addresses_of).collect();
    let to_headers = parsed.header_values("To").count();
    match own {
        None => findings.add(
            SINGLE_TO,
            Status::Fail,
            row,
            format!("row {row} is not in the recipient list"),
        ),
        Some(own) => {
            if to_headers != 1 || tos.len() != 1 {
                let shown = if tos.is_empty() {
                    "none".to_string()
                } else {
                    tos.join(", ")
                };
                findings.add(
                    SINGLE_TO,
                    Status::Fail,
                    row,
                    format!(
                        "row {row}: To has {} mailboxes ({shown}), expected exactly one",
                        tos.len()
                    ),
                );
            } else if tos[0] != own {
                findings.add(
                    SINGLE_TO,
                    Status::Fail,
                    row,
                    format!("row {row}: To is {} but the row's address is {own}", tos[0]),
                );
            } else if !msg.to.trim().eq_ignore_ascii_case(own) {
                findings.add(
                    SINGLE_TO,
                    Status::Fail,
                    row,
                    format!(
                        "row {row}: the message says it goes to {} but the row's address is {own}",
                        msg.to
                    ),
                );
            }
        }
    }

    // addressing.envelope
    if let Some(own) = own {
        let env: Vec<String> = msg
            .envelope_to
            .iter()
            .map(|e| e.trim().to_lowercase())
            .collect();
        if env.len() != 1 {
            findings.add(
                ENVELOPE,
                Status::Fail,
                row,
                format!(
                    "row {row}: {} envelope recipients ({}), expected exactly one",
                    env.len(),
                    env.join(", ")
                ),
            );
        } else if env[0] != own {
            findings.add(
                ENVELOPE,
                Status::Fail,
                row,
                format!(
                    "row {row}: envelope recipient is {} but the row's address is {own}",
                    env[0]
                ),
            );
        }
    }

    // addressing.no_cc_bcc
    let banned: Vec<String> = parsed
        .headers()
        .iter()
        .map(|h| h.name())
        .filter(|n| {
            n.eq_ignore_ascii_case("cc")
                || n.eq_ignore_ascii_case("bcc")
                || n.len() > 7 && n[..7].eq_ignore_ascii_case("resent-")
        })
        .map(str::to_string)
        .collect();
    if !banned.is_empty() {
        findings.add(
            NO_CC_BCC,
            Status::Fail,
            row,
            format!("row {row}: has {} header", banned.join(", ")),
        );
    }

    // addressing.no_other_recipient: headers (decoded) and bodies (decoded).
    for h in parsed.headers() {
        let place = || format!("the {} header", h.name());
        match h.value() {
            HeaderValue::Address(a) => {
                for m in a.iter() {
                    if let Some(addr) = m.address() {
                        let lower = addr.trim().to_lowercase();
                        if let Some(r) = book.row_of(&lower) {
                            if Some(lower.as_str()) != own {
                                sightings.add(r, &lower, &place());
                            }
                        }
                    }
                    if let Some(name) = m.name() {
                        sightings.scan_at(name.as_bytes(), place);
                    }
                }
            }
            HeaderValue::Text(t) => sightings.scan_at(t.as_bytes(), place),
            HeaderValue::TextList(l) => l
                .iter()
                .for_each(|t| sightings.scan_at(t.as_bytes(), place)),
            _ => {}
        }
    }
    // Raw header block too: catches addresses in headers mail-parser decodes into
    // structured values we do not walk (e.g. Content-Type parameters).
    let head_end =
        memchr::memmem::find(&msg.raw, b"\r\n\r\n").unwrap_or(msg.raw.len().min(64 * 1024));
    sightings.scan(&msg.raw[..head_end], "the message headers");
    for part in parsed.text_bodies() {
        sightings.scan(part.contents(), "the text body");
    }
    for part in parsed.html_bodies() {
        sightings.scan(part.contents(), "the HTML body");
    }
}

/// Records the sightings of one message (after attachments were added).
pub(crate) fn record_sightings(
    row: u64,
    own: Option<&str>,
    found: &[Sighting],
    findings: &mut Findings,
) {
    let others: Vec<&Sighting> = found
        .iter()
        .filter(|s| Some(s.address.as_str()) != own)
        .collect();
    if others.is_empty() {
        return;
    }
    let shown: Vec<String> = others
        .iter()
        .take(3)
        .map(|s| format!("row {}'s address {} in {}", s.row, s.address, s.place))
        .collect();
    let more = if others.len() > 3 {
        format!(" and {} more", others.len() - 3)
    } else {
        String::new()
    };
    findings.add(
        NO_OTHER_RECIPIENT,
        Status::Fail,
        row,
        format!("row {row}: contains {}{more}", shown.join(", ")),
    );
}

pub(crate) fn verdicts(findings: &Findings, messages: usize) -> Vec<super::Check> {
    vec![
        findings.verdict(
            SINGLE_TO,
            format!("All {messages} messages have exactly one To mailbox, equal to the row's address."),
            "Each message must be addressed to its own row only: remove extra To addresses and rebuild the messages.",
        ),
        findings.verdict(
            ENVELOPE,
            format!("All {messages} messages have exactly one envelope recipient, the row's address."),
            "Each message must be sent to one envelope recipient, its own row: rebuild the messages.",
        ),
        findings.verdict(
            NO_CC_BCC,
            format!("None of the {messages} messages has a Cc, Bcc or Resent- header."),
            "Remove Cc, Bcc and Resent- headers: every customer gets a separate message.",
        ),
        findings.verdict(
            NO_OTHER_RECIPIENT,
            "No message shows another recipient's address (headers, text, HTML and attachments scanned).".to_string(),
            "A message contains another customer's address. Check the merge fields, templates and attachments so each message only holds its own recipient's data.",
        ),
    ]
}

/// A recipient domain written in mixed scripts, or in letters that imitate an ASCII name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    /// The domain in Unicode form, as IDNA reads it.
    pub domain: String,
    /// Its ASCII (punycode) form, the one that is really sent to.
    pub ascii: String,
    /// Why it is suspicious, in plain words.
    pub why: String,
    /// The rows whose address uses it, in list order.
    pub rows: Vec<u64>,
}

/// The recipient domains that mix scripts (UTS #39 restriction level "minimally
/// restrictive" or worse in a label: Latin with Cyrillic or Greek, say; Latin with
/// Japanese is normal and passes) or whose non-ASCII letters all have an ASCII
/// look-alike (`exаmple.test` with a Cyrillic а, `аррӏе.test` all in Cyrillic).
///
/// An ASCII domain without an `xn--` label cannot be either and costs one pass over its
/// bytes; each distinct internationalised domain is looked at once.
pub fn lookalike_domains(list: &RecipientList) -> Vec<Lookalike> {
    // Typed domain (lower-cased) → index into `out`, or `None` for a domain that passed.
    // The Unicode and punycode spellings of one domain meet in `by_ascii`.
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    let mut by_ascii: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Lookalike> = Vec::new();
    for r in &list.recipients {
        let Some((_, domain)) = r.email().trim().rsplit_once('@') else {
            continue;
        };
        if domain.is_ascii() && !has_a_label(domain) {
            continue;
        }
        let key = domain.to_lowercase();
        let index = match seen.get(&key) {
            Some(found) => *found,
            None => {
                let found = judge_domain(domain).map(|(unicode, ascii, why)| {
                    *by_ascii.entry(ascii.clone()).or_insert_with(|| {
                        out.push(Lookalike {
                            domain: unicode,
                            ascii,
                            why,
                            rows: Vec::new(),
                        });
                        out.len() - 1
                    })
                });
                seen.insert(key, found);
                found
            }
        };
        if let Some(i) = index {
            out[i].rows.push(r.row);
        }
    }
    out
}

fn has_a_label(domain: &str) -> bool {
    domain
        .split('.')
        .any(|l| l.len() > 4 && l.as_bytes()[..4].eq_ignore_ascii_case(b"xn--"))
}

/// (Unicode form, ASCII form, why) when the domain is suspicious.
fn judge_domain(domain: &str) -> Option<(String, String, String)> {
    use unicode_script::{Script, UnicodeScript};
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

    let ascii = idna::domain_to_ascii(domain).ok()?;
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.ok()?;
    let mut mixed: Vec<&'static str> = Vec::new();
    let mut imitates = true;
    let mut any_non_ascii = false;
    let mut look = String::with_capacity(unicode.len());
    for (i, label) in unicode.split('.').enumerate() {
        if i > 0 {
            look.push('.');
        }
        if label.is_ascii() {
            look.push_str(label);
            continue;
        }
        any_non_ascii = true;
        if label.detect_restriction_level() >= RestrictionLevel::MinimallyRestrictive {
            for c in label.chars() {
                let script = c.script();
                if !matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
                    let name = script.full_name();
                    if !mixed.contains(&name) {
                        mixed.push(name);
                    }
                }
            }
        }
        for c in label.chars() {
            if c.is_ascii() {
                look.push(c);
                continue;
            }
            let skeleton: String = unicode_security::skeleton(&c.to_string()).collect();
            if skeleton.is_ascii() && !skeleton.is_empty() {
                look.push_str(&skeleton);
            } else {
                imitates = false;
                look.push(c);
            }
        }
    }
    if !any_non_ascii {
        return None;
    }
    let why = match (mixed.len() > 1, imitates) {
        (true, true) => format!("mixes {} letters and looks like {look}", names(&mixed)),
        (true, false) => format!("mixes {} letters in one name", names(&mixed)),
        (false, true) => format!("is written in letters that look like {look}"),
        (false, false) => return None,
    };
    Some((unicode, ascii, why))
}

fn names(scripts: &[&str]) -> String {
    match scripts {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `addressing.lookalike_domain`: a warning naming the rows of every suspicious domain.
pub fn lookalike_verdict(list: &RecipientList) -> super::Check {
    let found = lookalike_domains(list);
    if found.is_empty() {
        return super::Check::pass(
            LOOKALIKE_DOMAIN,
            "No recipient domain mixes scripts or imitates another name.",
        );
    }
    let rows: usize = found.iter().map(|f| f.rows.len()).sum();
    let shown: Vec<String> = found
        .iter()
        .take(10)
        .map(|f| {
            let list: Vec<String> = f.rows.iter().take(10).map(u64::to_string).collect();
            let more = if f.rows.len() > 10 {
                format!(" and {} more", f.rows.len() - 10)
            } else {
                String::new()
            };
            let word = if f.rows.len() == 1 { "row" } else { "rows" };
            format!(
                "{word} {}{more}: {} ({}) {}",
                list.join(", "),
                f.domain,
                f.ascii,
                f.why
            )
        })
        .collect();
    let more = if found.len() > 10 {
        format!("; and {} more domains", found.len() - 10)
    } else {
        String::new()
    };
    super::Check::warning(
        LOOKALIKE_DOMAIN,
        format!(
            "{} look-alike domain(s) on {rows} row(s): {}{more}.",
            found.len(),
            shown.join("; ")
        ),
        "Check these addresses with the customer: a domain that imitates another is usually a typo copied from a spoofed message. Correct or remove the rows; acknowledge the warning only if the domain is genuine.",
    )
}
