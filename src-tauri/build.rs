//! Build script: reads tauri.conf.json and generates one `allow-<command>` permission per
//! app command, so the capability file can grant the window exactly these and no others.

/// Every `#[tauri::command]` the window may call. Keep in step with `invoke_handler!` in
/// `src/main.rs` and with `capabilities/main.json`.
const COMMANDS: &[&str] = &[
    "import_recipients",
    "recipients_page",
    "open_campaign",
    "update_draft",
    "preview_message",
    "find_message",
    "example_campaign_path",
];

fn main() {
    // `src-tauri/tauri.conf.json` is a link to the root config, so the default config
    // path works for plain cargo and for the Tauri CLI alike.
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
