//! Build script: reads tauri.conf.json and generates one `allow-<command>` permission per
//! app command, so the capability file can grant the window exactly these and no others.

/// Every `#[tauri::command]` the window may call. Keep in step with `invoke_handler!` in
/// `src/main.rs` and with `capabilities/main.json`.
const COMMANDS: &[&str] = &[
    "app_status",
    "create_first_admin",
    "sign_in",
    "sign_out",
    "list_operators",
    "add_operator",
    "disable_operator",
    "enable_operator",
    "set_operator_roles",
    "reset_operator_pin",
    "change_pin",
    "settings",
    "save_settings",
    "recipients_page",
    "open_campaign",
    "save_campaign",
    "save_campaign_as",
    "check_campaign_form",
    "new_campaign",
    "duplicate_campaign",
    "close_campaign",
    "list_campaigns",
    "set_recipient_file",
    "add_attachment",
    "relay_profiles",
    "save_relay_profile",
    "remove_relay_profile",
    "test_relay_profile",
    "set_up_domain",
    "domain_records",
    "check_domain",
    "preview_message",
    "find_message",
    "example_campaign_path",
    "run_checklist",
    "review",
    "submit_for_approval",
    "approve",
    "start_send",
    "control_send",
    "requeue_unknown",
    "save_relay_password",
    "send_report",
    "export_send_report",
    "log_entries",
    "export_log",
    "suppression_list",
    "suppression_add",
    "suppression_remove",
    "test_send",
    "mailbox_view",
    "save_mailbox",
    "check_mailbox",
    "import_dmarc_reports",
    "dmarc_summary",
    "configure_relay_oauth",
    "start_relay_sign_in",
    "finish_relay_sign_in",
    "start_relay_browser_sign_in",
    "finish_relay_browser_sign_in",
    "cancel_relay_sign_in",
    "relay_sign_out",
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
