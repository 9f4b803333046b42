//! Errors that stop a whole recipient import (row-level problems are rejections instead).

use crate::error::{ErrorCode, Reason};

/// The recipient file as a whole could not be imported.
///
/// The message is plain words for a person and names the line when one is known.
/// Boxed so that `Result<RecipientList, Error>` stays small on the happy path.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0)]
pub struct Error(Box<ErrorKind>);

/// What stopped the import. `#[non_exhaustive]`: more causes may be told apart later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened or read.
    #[error("could not read \"{path}\": {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Zero bytes, or nothing but a byte-order mark and blank lines.
    #[error("the file is empty")]
    Empty,
    /// A header line and nothing else.
    #[error("the file has a header but no rows")]
    HeaderOnly,
    /// A picture, archive, spreadsheet or other non-text file.
    #[error("this is not a text file ({what}); save the list as CSV and try again")]
    Binary { what: String },
    /// A NUL byte inside the text: a binary file or a damaged export.
    #[error("line {line} contains a NUL byte; the file is binary or damaged, not a CSV")]
    NulByte { line: u64 },
    /// A quoted field that never closes swallows the rest of the file.
    #[error("line {line} opens a quoted field (\") that is never closed")]
    UnterminatedQuote { line: u64 },
    /// One record longer than any real row (a runaway quote without a close is reported
    /// as [`ErrorKind::UnterminatedQuote`] instead).
    #[error("line {line} is longer than 1 MiB without a line break; this is not a recipient list")]
    LineTooLong { line: u64 },
    /// Bytes that are not UTF-8 in a file read as UTF-8.
    #[error("line {line} is not valid UTF-8; choose the file's encoding (for example shift_jis)")]
    InvalidUtf8 { line: u64 },
    /// `ImportOptions::email_column` names a column the header does not have.
    #[error("there is no column named \"{name}\"; the columns are: {available}")]
    MissingColumn { name: String, available: String },
    /// Neither a header name nor the cell contents point at an address column.
    #[error(
        "could not find the e-mail address column; the columns are: {available}; choose one by hand"
    )]
    NoAddressColumn { available: String },
    /// The CSV reader failed in a way not covered above.
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }

    /// What stopped the import.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The 1-based line the problem was found on, when there is one.
    pub fn line(&self) -> Option<u64> {
        match *self.0 {
            ErrorKind::NulByte { line }
            | ErrorKind::UnterminatedQuote { line }
            | ErrorKind::InvalidUtf8 { line }
            | ErrorKind::LineTooLong { line }
            | ErrorKind::Csv { line, .. } => Some(line),
            _ => None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match *self.0 {
            ErrorKind::Io { .. } => ErrorCode::Io,
            _ => ErrorCode::InvalidCsv,
        }
    }

    /// What the window needs to say this in the person's language.
    pub fn reason(&self) -> Reason {
        match &*self.0 {
            ErrorKind::Io { path, source } => Reason::io(std::path::Path::new(path), source),
            ErrorKind::Empty => Reason::new("csv_empty"),
            ErrorKind::HeaderOnly => Reason::new("csv_header_only"),
            ErrorKind::Binary { what } => Reason::new("csv_binary").with("what", what.as_str()),
            ErrorKind::NulByte { line } => Reason::new("csv_nul_byte").with("line", *line),
            ErrorKind::UnterminatedQuote { line } => {
                Reason::new("csv_unterminated_quote").with("line", *line)
            }
            ErrorKind::LineTooLong { line } => Reason::new("csv_line_too_long").with("line", *line),
            ErrorKind::InvalidUtf8 { line } => Reason::new("csv_invalid_utf8").with("line", *line),
            ErrorKind::MissingColumn { name, available } => Reason::new("csv_missing_column")
                .with("name", name.as_str())
                .with("columns", available.as_str()),
            ErrorKind::NoAddressColumn { available } => {
                Reason::new("csv_no_address_column").with("columns", available.as_str())
            }
            ErrorKind::Csv { line, .. } => Reason::new("csv_other").with("line", *line),
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}
