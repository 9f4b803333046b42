//! Recipients: import a CSV/TSV customer list and account for every row.
//!
//! Every input record ends up either as a [`Recipient`] or as a [`Rejection`] with its
//! row number and reason; nothing is silently dropped. Row numbers are 1-based record
//! numbers with the header as row 1.

use serde::Serialize;

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// 1-based record number, header = 1.
    pub row: u64,
    /// The address as it will be used in `To` and the envelope (trimmed; domain as typed).
    pub email: String,
    /// Cell values aligned with [`RecipientList::fields`].
    pub values: Vec<String>,
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
        recipient.values.get(i).map(String::as_str)
    }
}
