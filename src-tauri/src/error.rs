//! The one error type at the IPC boundary: the core's `UserError` codes, plus the two
//! states only the desktop shell knows (`signed_out`, `locked` after idle time).
//! Serialised as `{ code, message }`; `ui/i18n.js` turns `code` into plain words.

use serde::Serialize;

use mergeguard::error::{ErrorCode, Reason, UserError};

/// Codes the shell adds to the core's closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShellCode {
    /// Nobody is signed in.
    SignedOut,
    /// The session was idle too long; the operator must give their PIN again.
    Locked,
    /// A form value is not acceptable (PINs differ, weak PIN, name taken); the message says which.
    InvalidInput,
    /// An earlier step is missing (no campaign open, no checklist run yet); the reason
    /// says which.
    NotReady,
}

#[cfg(test)]
impl ShellCode {
    pub const ALL: &'static [ShellCode] = &[
        ShellCode::SignedOut,
        ShellCode::Locked,
        ShellCode::InvalidInput,
        ShellCode::NotReady,
    ];
}

/// A core code or a shell code; both serialise as a bare `snake_case` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Code {
    Core(ErrorCode),
    Shell(ShellCode),
}

#[derive(Debug, Clone)]
pub struct CommandError {
    pub code: Code,
    pub message: String,
    /// The finer reason and its parameters, for a sentence in the person's language.
    pub reason: Option<Reason>,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError {
            code: Code::Core(code),
            message: message.into(),
            reason: None,
        }
    }

    pub fn shell(code: ShellCode, message: impl Into<String>) -> Self {
        CommandError {
            code: Code::Shell(code),
            message: message.into(),
            reason: None,
        }
    }

    /// A missing earlier step, named by its reason key (see `REASON_KEYS`).
    pub fn not_ready(key: &'static str, message: impl Into<String>) -> Self {
        Self::shell(ShellCode::NotReady, message).because(Reason::new(key))
    }

    pub fn because(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    #[cfg(test)]
    pub fn is(&self, code: ShellCode) -> bool {
        self.code == Code::Shell(code)
    }

    #[cfg(test)]
    pub fn is_core(&self, code: ErrorCode) -> bool {
        self.code == Code::Core(code)
    }
}

impl From<UserError> for CommandError {
    fn from(e: UserError) -> Self {
        CommandError {
            code: Code::Core(e.code),
            message: e.message,
            reason: e.reason,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Serialised as `{ code, message, reason? }` when it crosses to the window, which is also
/// where it is written to the diagnostics file: by code and reason key only (the message
/// may name a file or an address).
impl Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let key = self.reason.as_ref().map(|r| r.key).unwrap_or("");
        match self.code {
            Code::Core(ErrorCode::Internal | ErrorCode::Database | ErrorCode::AuditBroken)
            | Code::Core(ErrorCode::Tampered) => {
                tracing::error!(code = ?self.code, reason = key, "command failed")
            }
            _ => tracing::info!(code = ?self.code, reason = key, "command refused"),
        }
        let mut s = serializer.serialize_struct("CommandError", 3)?;
        s.serialize_field("code", &self.code)?;
        s.serialize_field("message", &self.message)?;
        if let Some(reason) = &self.reason {
            s.serialize_field("reason", reason)?;
        }
        s.end()
    }
}

pub type CommandResult<T> = Result<T, CommandError>;

impl From<mergeguard::profiles::Error> for CommandError {
    fn from(e: mergeguard::profiles::Error) -> Self {
        UserError::from(e).into()
    }
}

impl From<mergeguard::domain_setup::Error> for CommandError {
    fn from(e: mergeguard::domain_setup::Error) -> Self {
        UserError::from(e).into()
    }
}
