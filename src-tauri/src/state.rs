//! The session the window works on: the loaded recipients, the current draft and its
//! compiled form, and the messages built so far for the preview.

use std::collections::HashMap;
use std::sync::Mutex;

use mergeguard::compose::{BuiltMessage, Composer, Draft, RenderError};
use mergeguard::recipients::RecipientList;

/// How many built messages the preview keeps. Stepping back and forth stays instant,
/// while a 100,000-row list walked end to end does not hold every message in memory.
const BUILT_CACHE_LIMIT: usize = 256;

/// Tauri-managed state; one session per window process.
#[derive(Default)]
pub struct AppState {
    pub session: Mutex<Session>,
}

#[derive(Default)]
pub struct Session {
    pub recipients: Option<RecipientList>,
    /// The file the recipients came from, shown in the summary.
    pub recipients_path: Option<String>,
    /// The last draft accepted by `Composer::new`; keeps what the compose screen does
    /// not edit (campaign id, attachments, unsubscribe) across `update_draft`.
    pub draft: Option<Draft>,
    pub composer: Option<Composer>,
    built: HashMap<usize, Result<BuiltMessage, RenderError>>,
}

impl Session {
    /// Replaces the recipient list; built messages belonged to the old list.
    pub fn set_recipients(&mut self, list: RecipientList, path: String) {
        self.recipients = Some(list);
        self.recipients_path = Some(path);
        self.built.clear();
    }

    /// Replaces the draft and its composer; built messages belonged to the old draft.
    pub fn set_draft(&mut self, draft: Draft, composer: Composer) {
        self.draft = Some(draft);
        self.composer = Some(composer);
        self.built.clear();
    }

    /// The built message for recipient `index`, rendering it on first use.
    /// `None` when no list or no draft is loaded or `index` is out of range.
    pub fn built(&mut self, index: usize) -> Option<&Result<BuiltMessage, RenderError>> {
        let list = self.recipients.as_ref()?;
        let composer = self.composer.as_ref()?;
        let recipient = list.recipients.get(index)?;
        if !self.built.contains_key(&index) {
            if self.built.len() >= BUILT_CACHE_LIMIT {
                self.built.clear();
            }
            self.built.insert(index, composer.render(list, recipient));
        }
        self.built.get(&index)
    }
}
