// The only module that talks to the Rust side. Every command goes through `call`, and
// every failure comes back as `{code, message}` so the screens can translate it.

function rawInvoke(command, args) {
  const tauri = window.__TAURI__;
  if (!tauri || !tauri.core) {
    return Promise.reject({ code: "internal", message: "The app bridge is not available." });
  }
  return tauri.core.invoke(command, args);
}

async function call(command, args = {}) {
  try {
    return await rawInvoke(command, args);
  } catch (error) {
    if (error && typeof error === "object" && "code" in error) throw error;
    // Errors that did not come from our commands (e.g. a permission denied by the
    // capability file) arrive as plain strings.
    throw { code: "internal", message: String(error) };
  }
}

export const recipientsPage = (offset, limit) => guarded("recipients_page", { offset, limit });

// ---------- campaigns as documents ----------

export const openCampaign = (path) => guarded("open_campaign", { path });
export const saveCampaign = (form) => guarded("save_campaign", { form });
export const saveCampaignAs = (form, title) => guarded("save_campaign_as", { form, title });
export const checkCampaignForm = (form) => guarded("check_campaign_form", { form });
export const newCampaign = (title) => guarded("new_campaign", { title });
export const duplicateCampaign = (path, title) => guarded("duplicate_campaign", { path, title });
export const closeCampaign = () => guarded("close_campaign");
export const listCampaigns = () => guarded("list_campaigns");
export const setRecipientFile = (file, copy, { encoding, delimiter, emailColumn }) =>
  guarded("set_recipient_file", { file, copy, encoding, delimiter, emailColumn });
export const addAttachment = (file) => guarded("add_attachment", { file });

// ---------- sending server and sender domain ----------

export const relayProfiles = () => guarded("relay_profiles");
export const saveRelayProfile = (original, input, password) =>
  guarded("save_relay_profile", { original, input, password });
export const removeRelayProfile = (name) => guarded("remove_relay_profile", { name });
export const testRelayProfile = (name) => guarded("test_relay_profile", { name });

// ---------- what comes back: the mailbox, domain reports, OAuth2 sign-in ----------

export const mailboxView = (profile) => guarded("mailbox_view", { profile });
export const saveMailbox = (profile, input) => guarded("save_mailbox", { profile, input });
export const checkMailbox = (profile) => guarded("check_mailbox", { profile });
export const importDmarcReports = (files) => guarded("import_dmarc_reports", { files });
export const dmarcSummary = (relayIps = []) => guarded("dmarc_summary", { from: null, until: null, relayIps });
export const configureRelayOauth = (profile, input) => guarded("configure_relay_oauth", { profile, input });
export const startRelaySignIn = (profile) => guarded("start_relay_sign_in", { profile });
export const finishRelaySignIn = (profile) => guarded("finish_relay_sign_in", { profile });
export const startRelayBrowserSignIn = (profile) => guarded("start_relay_browser_sign_in", { profile });
export const finishRelayBrowserSignIn = (profile) => guarded("finish_relay_browser_sign_in", { profile });
export const cancelRelaySignIn = (profile) => guarded("cancel_relay_sign_in", { profile });
export const relaySignOut = (profile) => guarded("relay_sign_out", { profile });
export const setUpDomain = (request, profile) => guarded("set_up_domain", { request, profile });
export const domainRecords = (request, profile) => guarded("domain_records", { request, profile });
export const checkDomain = (request) => guarded("check_domain", { request });

export const previewMessage = (index) => guarded("preview_message", { index });

export const findMessage = (query) => guarded("find_message", { query });

export const exampleCampaignPath = () => call("example_campaign_path");

/** The native file-open dialog; resolves to a path, or null when cancelled. Without
 * `extensions` every file can be chosen. */
export const chooseFile = (title, filterName, extensions = ["csv", "tsv", "txt"]) =>
  call("plugin:dialog|open", {
    options: {
      title,
      multiple: false,
      directory: false,
      filters: extensions ? [{ name: filterName, extensions }] : [],
    },
  });

/** The native folder dialog; resolves to a path, or null when cancelled. */
export const chooseFolder = (title) =>
  call("plugin:dialog|open", { options: { title, multiple: false, directory: true } });

// ---------- sign-in, operators ----------

// A refused command because nobody is signed in or the session locked itself: the
// screens do not each handle it; screens/gate.js listens and shows the sign-in screen.
function announceLock(error) {
  if (error && (error.code === "locked" || error.code === "signed_out")) {
    window.dispatchEvent(new CustomEvent("mergeguard:locked", { detail: error }));
  }
}

async function guarded(command, args = {}) {
  try {
    return await call(command, args);
  } catch (error) {
    announceLock(error);
    throw error;
  }
}

export const appStatus = () => call("app_status");
export const createFirstAdmin = (name, pin, pinAgain) => call("create_first_admin", { name, pin, pinAgain });
export const signIn = (name, pin) => call("sign_in", { name, pin });
export const changePin = (name, oldPin, newPin, newPinAgain) => call("change_pin", { name, oldPin, newPin, newPinAgain });
export const signOut = () => call("sign_out");
export const listOperators = () => guarded("list_operators");
export const addOperator = (name, roles, pin, pinAgain) => guarded("add_operator", { name, roles, pin, pinAgain });
export const disableOperator = (name) => guarded("disable_operator", { name });
export const enableOperator = (name) => guarded("enable_operator", { name });
export const setOperatorRoles = (name, roles) => guarded("set_operator_roles", { name, roles });
export const resetOperatorPin = (name, pin, pinAgain) => guarded("reset_operator_pin", { name, pin, pinAgain });
export const settings = () => guarded("settings");
export const saveSettings = (idleMinutes, approvalHours) => guarded("save_settings", { idleMinutes, approvalHours });

// ---------- checklist, approval, send ----------

function channel(onMessage) {
  const ch = new window.__TAURI__.core.Channel();
  ch.onmessage = onMessage;
  return ch;
}

export const runChecklist = (onProgress) => guarded("run_checklist", { onProgress: channel(onProgress) });
export const review = () => guarded("review");
export const submitForApproval = () => guarded("submit_for_approval");
export const approve = (approver, pin, acknowledged) => guarded("approve", { approver, pin, acknowledged });
export const startSend = (rate, onEvent) =>
  guarded("start_send", { rate, onEvent: channel(onEvent) });
export const controlSend = (action) => guarded("control_send", { action });
export const sendReport = () => guarded("send_report");
export const requeueUnknown = () => guarded("requeue_unknown");
export const saveRelayPassword = (password) => guarded("save_relay_password", { password });
export const exportSendReport = (path) => guarded("export_send_report", { path });

// ---------- operation log ----------

export const logEntries = (filter) => guarded("log_entries", { filter });
export const exportLog = (filter, format, path) => guarded("export_log", { filter, format, path });

export const suppressionList = () => guarded("suppression_list");

export const testSend = (row, to) => guarded("test_send", { row, to });

export const suppressionAdd = (addresses, reason) => guarded("suppression_add", { addresses, reason });

export const suppressionRemove = (addresses) => guarded("suppression_remove", { addresses });

/** The native save dialog; resolves to a path, or null when cancelled. */
export const chooseSavePath = (title, defaultPath, extension) =>
  call("plugin:dialog|save", {
    options: { title, defaultPath, filters: [{ name: extension.toUpperCase(), extensions: [extension] }] },
  });
