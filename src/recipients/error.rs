//! Errors that stop a whole recipient import (row-level problems are rejections instead).

use crate::error::ErrorCode;

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
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}
