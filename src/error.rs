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
    /// signs in again; nothing more is sent (what was sent before stays in the report).
    SignInRequired,
    /// Something unexpected; the message says what.
    Internal,
}

/// The finer reason under an [`ErrorCode`] and its parameters (a row, a field, a time, a
/// role, tries left), so that the window can say the whole sentence in the person's
/// language. The English `message` stays for the command line and the logs.
///
/// Every key is listed in [`REASON_KEYS`]; a test checks that `ui/i18n.js` has a sentence
/// for each, in English and in Japanese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub key: &'static str,
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Reason {
    pub fn new(key: &'static str) -> Reason {
        debug_assert!(
            REASON_KEYS.contains(&key),
            "reason {key} is not listed in REASON_KEYS"
        );
        Reason {
            key,
            params: serde_json::Map::new(),
        }
    }

    /// A file that could not be read, by what the system said.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Reason {
        let key = match e.kind() {
            std::io::ErrorKind::NotFound => "file_not_found",
            std::io::ErrorKind::PermissionDenied => "file_denied",
            _ => "file_unreadable",
        };
        Reason::new(key).with("path", path.display().to_string())
    }

    /// Adds a parameter. A parameter named `until`/`at` is an RFC 3339 time the window
    /// shows in local time.
    pub fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Reason {
        self.params.insert(name.to_owned(), value.into());
        self
    }
}

/// Every [`Reason::key`] the core and the desktop shell give.
pub const REASON_KEYS: &[&str] = &[
    // sign-in and operators
    "wrong_pin",
    "wrong_pin_tries_left",
    "operator_disabled",
    "locked_until",
    "missing_role",
    "admin_only",
    "last_admin",
    "first_admin_exists",
    "weak_pin",
    "name_taken",
    "bad_name",
    "no_such_operator",
    "pin_change_required",
    "pins_differ",
    "no_role_chosen",
    // approval and the send gate
    "not_submitted",
    "checklist_failed",
    "approval_changed",
    "approval_expired",
    "approval_revoked",
    "same_person",
    "not_approver",
    "not_sender",
    "unacknowledged",
    "no_approval",
    "no_checklist_run",
    "no_campaign",
    "no_recipients",
    "no_message",
    "bad_date",
    // files
    "file_not_found",
    "file_denied",
    "file_unreadable",
    "campaign_invalid",
    "no_recipient_file",
    // the recipient file
    "csv_empty",
    "csv_header_only",
    "csv_binary",
    "csv_nul_byte",
    "csv_unterminated_quote",
    "csv_line_too_long",
    "csv_invalid_utf8",
    "csv_missing_column",
    "csv_no_address_column",
    "csv_other",
    // a row of the recipient file left out
    "row_ragged",
    "row_empty",
    "row_suppressed",
    "row_duplicate",
    "cell_empty",
    "cell_multiple",
    "addr_fullwidth_at",
    "addr_brackets",
    "addr_space",
    "addr_quoted",
    "addr_no_at",
    "addr_no_local",
    "addr_no_domain",
    "addr_non_ascii_local",
    "addr_local_too_long",
    "addr_too_long",
    "addr_ip_domain",
    "addr_domain_no_dot",
    "addr_bad_local",
    "addr_bad_domain",
    "addr_invalid",
    // a mail service sign-in (OAuth2) that did not finish
    "sign_in_declined",
    "sign_in_too_long",
    // what the domain (DMARC) reports show
    "dmarc_someone_else",
    "dmarc_relay_not_in_spf",
    "dmarc_relay_unsigned",
];

/// A user-facing error: a code the UI branches on and a plain-language message.
#[derive(Debug, Clone, Serialize)]
pub struct UserError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl UserError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        UserError {
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn with_reason(mut self, reason: Option<Reason>) -> Self {
        self.reason = reason;
        self
    }
}

impl ErrorCode {
    /// Every code, for the test that each has words in both languages.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Io,
        ErrorCode::InvalidCsv,
        ErrorCode::InvalidCampaign,
        ErrorCode::TemplateSyntax,
        ErrorCode::MissingField,
        ErrorCode::HeaderInjection,
        ErrorCode::InvalidMessage,
        ErrorCode::InvalidAddress,
        ErrorCode::CheckFailed,
        ErrorCode::AuthFailed,
        ErrorCode::LockedOut,
        ErrorCode::Forbidden,
        ErrorCode::NotApproved,
        ErrorCode::Keychain,
        ErrorCode::Database,
        ErrorCode::AuditBroken,
        ErrorCode::Tampered,
        ErrorCode::PinChangeRequired,
        ErrorCode::Send,
        ErrorCode::InvalidInput,
        ErrorCode::Internal,
        ErrorCode::SignInRequired,
    ];
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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// A match without a wildcard: a new code does not compile until it is numbered
    /// here, and the test below then fails until it is also in [`ErrorCode::ALL`].
    fn number(c: ErrorCode) -> usize {
        use ErrorCode::*;
        match c {
            Io => 0,
            InvalidCsv => 1,
            InvalidCampaign => 2,
            TemplateSyntax => 3,
            MissingField => 4,
            HeaderInjection => 5,
            InvalidMessage => 6,
            InvalidAddress => 7,
            CheckFailed => 8,
            AuthFailed => 9,
            LockedOut => 10,
            Forbidden => 11,
            NotApproved => 12,
            Keychain => 13,
            Database => 14,
            AuditBroken => 15,
            Tampered => 16,
            PinChangeRequired => 17,
            Send => 18,
            InvalidInput => 19,
            Internal => 20,
            SignInRequired => 21,
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        let mut seen: Vec<usize> = ErrorCode::ALL.iter().map(|c| number(*c)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..=21).collect::<Vec<_>>());
    }
}
