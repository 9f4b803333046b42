//! Recipients: import a CSV/TSV customer list and account for every row.
//!
//! Every input record ends up either as a [`Recipient`] or as a [`Rejection`] with its
//! row number and reason; nothing is silently dropped. Row numbers are 1-based record
//! numbers with the header as row 1.
//!
//! Decisions a reviewer should know (each is tested by a fixture in
//! `tests/data/recipients/`):
//! - **Encoding**: a byte-order mark wins; then the user's choice; then UTF-8 if the first
//!   64 KiB are valid UTF-8; then chardetng's guess over those bytes (Shift_JIS is decoded
//!   as WHATWG Shift_JIS, i.e. CP932 with the NEC and IBM extensions). UTF-16 needs a mark
//!   (or the user's choice). UTF-8 bytes reach the CSV reader undecoded and a bad byte
//!   anywhere is an error naming its line; other encodings stream through
//!   `encoding_rs_io`, so memory stays bounded beyond the kept rows.
//! - **Rows**: csv's record numbering, so blank lines are not rows and a quoted field may
//!   span lines. A row with fewer fields than the header, or more with any non-empty
//!   extra, is `malformed_row` (shifted cells could put one customer's data under
//!   another's header); extra fields that are all empty are trailing delimiters and are
//!   accepted. A row of empty cells is `empty_address` ("the row is empty").
//! - **Order of reasons**: malformed_row, then the address (empty_address,
//!   multiple_addresses, invalid_address), then suppressed, then duplicate. Only accepted
//!   rows count as the "first row" a duplicate points to.
//! - **Addresses**: trimmed of all Unicode white space; otherwise never rewritten. A
//!   full-width ＠ is refused with a hint rather than silently changed. ASCII local parts
//!   only (non-ASCII needs SMTPUTF8); IDN domains are accepted as typed, and for
//!   duplicates a Unicode (U-label) domain and its punycode (A-label) form are the same
//!   mailbox ([`address_key`]). Display names,
//!   angle brackets, quoted local parts, IP-literal and dot-less domains are refused.
//!   Two @-tokens separated by white space, `,` `;` `、` `/` `|` are multiple_addresses.
//! - **Cells** are kept verbatim (formulas included: escaping is `export`'s job), except
//!   the address cell, which holds the trimmed address so a merge field shows what `To`
//!   will be.
//! - **Whole-file errors**: missing/unreadable, empty (only a BOM or blank lines), a
//!   header with no rows, binary (known magic numbers, control-character noise), NUL byte
//!   (line), unterminated quote (the line where it opened), invalid UTF-8 (line), no
//!   address column or a named column that does not exist (the columns are listed).

use serde::Serialize;

/// One accepted recipient.
///
/// The cell values live in one string with their end offsets, and the address is a range
/// of that same string: a row costs one allocation instead of one per cell plus one for
/// the address, which was most of an import's time. Serialises as
/// `{"row", "email", "values": [...]}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient {
    /// 1-based record number, header = 1.
    pub row: u64,
    /// Every cell, concatenated; then the address, unless it is one of the cells.
    text: String,
    /// End offset in `text` of each cell, aligned with [`RecipientList::fields`].
    ends: smallvec::SmallVec<[u32; 8]>,
    /// Where the address is in `text`.
    email: (u32, u32),
}

impl Recipient {
    /// A recipient from its cell values, aligned with [`RecipientList::fields`].
    pub fn new<S: AsRef<str>>(
        row: u64,
        email: impl AsRef<str>,
        values: impl IntoIterator<Item = S>,
    ) -> Recipient {
        let mut r = Recipient::with_capacity(row, 0);
        for v in values {
            r.push_value(v.as_ref());
        }
        let start = offset(&r.text);
        r.text.push_str(email.as_ref());
        r.email = (start, offset(&r.text));
        r
    }

    /// An empty row with room for `bytes` of cell text; the importer fills it cell by
    /// cell and marks which cell is the address.
    pub(crate) fn with_capacity(row: u64, bytes: usize) -> Recipient {
        Recipient {
            row,
            text: String::with_capacity(bytes),
            ends: smallvec::SmallVec::new(),
            email: (0, 0),
        }
    }

    /// A row holding `text`, with the address at `email`; the importer then marks
    /// where each cell ends with [`Recipient::push_end`]. One copy of the whole record
    /// instead of one per cell.
    pub(crate) fn from_text(row: u64, text: &str, email: std::ops::Range<usize>) -> Recipient {
        Recipient {
            row,
            text: text.to_string(),
            ends: smallvec::SmallVec::new(),
            email: (to_offset(email.start), to_offset(email.end)),
        }
    }

    pub(crate) fn push_end(&mut self, end: usize) {
        self.ends.push(to_offset(end));
    }

    pub(crate) fn push_value(&mut self, value: &str) {
        self.text.push_str(value);
        self.push_end(self.text.len());
    }

    /// Marks the cell pushed last as the address.
    pub(crate) fn last_value_is_email(&mut self) {
        let i = self.ends.len() - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.email = (start, self.ends[i]);
    }

    /// The address as it will be used in `To` and the envelope (trimmed; domain as typed).
    pub fn email(&self) -> &str {
        self.text
            .get(self.email.0 as usize..self.email.1 as usize)
            .unwrap_or("")
    }

    /// Cell `i`, if the row has that many cells.
    pub fn value(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }

    /// Every cell, in field order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        (0..self.ends.len()).map(|i| self.value(i).unwrap_or(""))
    }

    /// How many cells the row has (the number of fields).
    pub fn value_count(&self) -> usize {
        self.ends.len()
    }
}

/// The length of a row's text as an offset. A row is at most [`quotes::MAX_RECORD`]
/// bytes (the reader stops longer ones), far below 4 GiB.
fn offset(text: &str) -> u32 {
    to_offset(text.len())
}

fn to_offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient")
            .field("row", &self.row)
            .field("email", &self.email())
            .field("values", &self.values().collect::<Vec<_>>())
            .finish()
    }
}

impl Serialize for Recipient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Values<'a>(&'a Recipient);
        impl Serialize for Values<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.values())
            }
        }
        let mut st = s.serialize_struct("Recipient", 3)?;
        st.serialize_field("row", &self.row)?;
        st.serialize_field("email", self.email())?;
        st.serialize_field("values", &Values(self))?;
        st.end()
    }
}

/// Why a row did not become a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    InvalidAddress,
    EmptyAddress,
    MultipleAddresses,
    Duplicate,
    MalformedRow,
    Suppressed,
}

/// A row that did not become a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub row: u64,
    pub reason: RejectReason,
    /// Plain-language detail, e.g. "same address as row 4".
    pub detail: String,
    /// The same detail as a key and its parameters, for the window's languages.
    pub why: crate::error::Reason,
    /// The row's first other non-empty cell (usually the name), so the person can tell
    /// whom the row is about; empty when there is none.
    pub label: String,
    /// What the address cell held (trimmed, cut to 120 characters), to be corrected.
    pub cell: String,
}

/// The result of importing one recipient file.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientList {
    /// The encoding used: "utf-8", "shift_jis", "utf-16le", "utf-16be".
    pub encoding: String,
    /// The delimiter used, as a string: ",", ";" or "\t".
    pub delimiter: String,
    /// The header of the address column.
    pub email_column: String,
    /// Header names, trimmed, in file order.
    pub fields: Vec<String>,
    pub recipients: Vec<Recipient>,
    pub rejected: Vec<Rejection>,
    /// SHA-256 of the raw file bytes, lower-case hex.
    pub source_sha256: String,
}

impl RecipientList {
    /// The value of `field` for `recipient`, if the column exists.
    pub fn value<'a>(&self, recipient: &'a Recipient, field: &str) -> Option<&'a str> {
        let i = self.fields.iter().position(|f| f == field)?;
        recipient.value(i)
    }
}

mod address;
mod columns;
mod decode;
mod delimiter;
mod error;
mod quotes;
mod rows;
pub use error::{Error, ErrorKind};

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// Which text encoding to decode the file with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    #[default]
    Auto,
    Utf8,
    ShiftJis,
    /// UTF-16; the byte order comes from the BOM (little-endian without one).
    Utf16,
}

/// Which field delimiter to split records with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DelimiterChoice {
    #[default]
    Auto,
    Comma,
    Semicolon,
    Tab,
}

/// How to import a recipient file. `Default` detects everything.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub encoding: EncodingChoice,
    pub delimiter: DelimiterChoice,
    /// The header of the address column; `None` finds it by header name or content.
    pub email_column: Option<String>,
    /// Lower-cased addresses that must not be mailed (unsubscribed, bounced); a row with
    /// one of them is rejected as `suppressed`. Shared, because the list can be large.
    pub suppressed: Option<Arc<HashSet<String>>>,
}

impl FromStr for EncodingChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "shift_jis" | "shift-jis" | "sjis" | "cp932" | "windows-31j" => Ok(Self::ShiftJis),
            "utf-16" | "utf16" => Ok(Self::Utf16),
            other => Err(format!(
                "unknown encoding \"{other}\": use auto, utf-8, shift_jis or utf-16"
            )),
        }
    }
}

impl FromStr for DelimiterChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "," | "comma" => Ok(Self::Comma),
            ";" | "semicolon" => Ok(Self::Semicolon),
            "\t" | "tab" | "\\t" => Ok(Self::Tab),
            other => Err(format!(
                "unknown delimiter \"{other}\": use auto, \",\", \";\" or tab"
            )),
        }
    }
}

/// The form in which an address is compared for duplicates and with the suppression
/// list: trimmed of white space, lower-cased, and an internationalised domain in its
/// ASCII (A-label, `xn--…`) form, so `taro@例え.jp` and `taro@xn--r8jz45g.jp` are one
/// key. ASCII addresses are only lower-cased.
pub fn address_key(address: &str) -> String {
    address::duplicate_key(address.trim_matches(address::is_trimmed))
}

/// Imports the recipient file at `path`.
///
/// Errors only when the file as a whole cannot be read (missing, empty, header only,
/// binary, NUL bytes, unterminated quote, bad UTF-8 when read as UTF-8, no address
/// column); row-level problems become [`Rejection`]s. The file is streamed: memory
/// beyond the kept recipients and rejections is bounded.
pub fn import_path(path: &Path, options: &ImportOptions) -> Result<RecipientList, Error> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ErrorKind::Io {
        path: name.clone(),
        source,
    })?;
    let size = file.metadata().ok().map(|m| m.len());
    rows::import_stream(file, &name, options, size)
}

/// Imports a recipient file already in memory.
pub fn import_bytes(bytes: &[u8], options: &ImportOptions) -> Result<RecipientList, Error> {
    rows::import_stream(bytes, "the input", options, Some(bytes.len() as u64))
}

/// Imports a recipient file from any reader (read once, to the end, in bounded chunks).
pub fn import_reader<R: Read>(reader: R, options: &ImportOptions) -> Result<RecipientList, Error> {
    rows::import_stream(reader, "the input", options, None)
}
