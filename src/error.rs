//! The closed set of error codes shared by the command line and the IPC boundary.
//!
//! Each module keeps its own error type; every one of them maps to one [`ErrorCode`],
//! which the UI branches on and translates into plain words (see `ui/i18n.js`).
//! A Rust `Debug` string never reaches a person.

use serde::Serialize;

/// Stable, machine-readable error codes. Serialised in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// A file could not be opened or read.
    Io,
    /// The recipient file is empty, binary, ragged beyond repair or otherwise unreadable.
    InvalidCsv,
    /// The campaign file is missing a key or has a wrong value.
    InvalidCampaign,
    /// A template has a syntax error.
    TemplateSyntax,
    /// A merge field is missing for a recipient (strict mode).
    MissingField,
    /// A merged header value holds CR/LF or another control character.
    HeaderInjection,
    /// A built message breaks the one-recipient rule or another message invariant.
    InvalidMessage,
    /// The address in a header or envelope is not a valid mailbox.
    InvalidAddress,
    /// A pre-flight check could not run (DNS, network).
    CheckFailed,
    /// Sign-in refused: wrong PIN, unknown or disabled operator.
    AuthFailed,
    /// Too many wrong PINs: the operator is locked for a while.
    LockedOut,
    /// The operator lacks the role for this action.
    Forbidden,
    /// No valid approval for the current campaign fingerprint.
    NotApproved,
    /// The OS keychain is missing, locked or refused the operation.
    Keychain,
    /// The local database failed.
    Database,
    /// The operation log's hash chain is broken.
    AuditBroken,
    /// A security record in the data folder (an operator, a setting, an approval, the
    /// install record) was written or changed outside MergeGuard: its seal does not match.
    Tampered,
    /// The PIN is right but below the current policy: a new PIN must be chosen first.
    PinChangeRequired,
    /// Sending failed at the relay or the connection.
    Send,
    /// A value given by the person is not acceptable (weak PIN, name taken, a setting
    /// out of range); the message says which.
    InvalidInput,
    /// An OAuth2 sign-in (Microsoft 365, Google) expired or was withdrawn: the person
    /// signs in again; nothing was sent.
    SignInRequired,
    /// Something unexpected; the message says what.
    Internal,
}

/// A user-facing error: a code the UI branches on and a plain-language message.
#[derive(Debug, Clone, Serialize)]
pub struct UserError {
    pub code: ErrorCode,
    pub message: String,
}

impl UserError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        UserError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// A database failure inside a store transaction, in the words every entry point uses.
impl From<rusqlite::Error> for UserError {
    fn from(e: rusqlite::Error) -> Self {
        UserError::new(
            ErrorCode::Database,
            format!("the local database failed: {e}"),
        )
    }
}
