//! MergeGuard desktop shell: starts the Tauri window and registers the IPC commands.
//!
//! Architecture invariant: no business rule lives in this crate. Each command in
//! [`commands`] converts IPC types, calls one core function and maps its error to a
//! `UserError`; every check that matters is enforced by the `mergeguard` core.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod state;

fn main() {
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(state::AppState::default())
        .invoke_handler(tauri::generate_handler![
            commands::import_recipients,
            commands::recipients_page,
            commands::open_campaign,
            commands::update_draft,
            commands::preview_message,
            commands::find_message,
            commands::example_campaign_path,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        // Without a window there is nobody to show a dialog to: say it on stderr.
        eprintln!("MergeGuard could not start: {error}");
        std::process::exit(1);
    }
}
