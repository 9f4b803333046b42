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

export const importRecipients = (path, { encoding, delimiter, emailColumn }) =>
  call("import_recipients", { path, encoding, delimiter, emailColumn });

export const recipientsPage = (offset, limit) => call("recipients_page", { offset, limit });

export const openCampaign = (path) => call("open_campaign", { path });

export const updateDraft = (draft) => call("update_draft", { draft });

export const previewMessage = (index) => call("preview_message", { index });

export const findMessage = (query) => call("find_message", { query });

export const exampleCampaignPath = () => call("example_campaign_path");

/** The native file-open dialog; resolves to a path, or null when cancelled. */
export const chooseFile = (title, filterName) =>
  call("plugin:dialog|open", {
    options: {
      title,
      multiple: false,
      directory: false,
      filters: [{ name: filterName, extensions: ["csv", "tsv", "txt", "toml"] }],
    },
  });
