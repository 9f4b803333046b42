//! Errors that stop a whole recipient import.

use crate::error::ErrorCode;

/// The recipient file as a whole could not be imported.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn not_yet() -> Self {
        Error { message: "importing is not available yet".into() }
    }

    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidCsv
    }
}
