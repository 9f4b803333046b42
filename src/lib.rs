//! MergeGuard core: every rule of the mail-merge client, testable without a window.
//!
//! Architecture invariant: this crate knows nothing of Tauri, windows or IPC transport.
//! The desktop shell (`src-tauri/`) and the command line (`src/main.rs`) are thin
//! adapters over the functions here; every security rule is enforced in this crate.
#![forbid(unsafe_code)]

pub mod approval;
pub mod audit;
pub mod campaign;
pub mod compose;
pub mod dmarc_report;
pub mod documents;
pub mod domain_setup;
pub mod duration_input;
pub mod error;
pub mod example;
pub mod export;
pub mod mailbox;
pub mod oauth;
pub mod operators;
pub mod preflight;
pub mod profiles;
pub mod recipients;
pub mod secrets;
pub mod send;
pub mod store;
pub mod suppression;
pub mod trust;
pub mod unsubscribe;
pub mod workflow;
