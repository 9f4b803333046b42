//! MergeGuard desktop shell: starts the Tauri window and registers the IPC commands.
//!
//! Architecture invariant: no business rule lives in this crate. Each command in
//! [`commands`] stamps the time and calls one plain function over [`state::AppState`]
//! (`preview`, `access`, `flow`, `oplog`), which converts IPC types, calls the core and
//! maps its error. Every check that matters — PINs, roles, approval before sending — is
//! enforced by the `mergeguard` core; the command layer adds only the idle lock.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc returns freed memory to the system; glibc's per-thread arenas kept the
/// checklist's freed buffers, so the app grew by ~60–90 MiB per checklist run on a
/// 100,000-recipient campaign (`scripts/bench-app.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod access;
mod campaigns;
mod commands;
mod error;
mod flow;
mod logging;
mod mailbox;
mod oplog;
mod preview;
mod relay;
mod state;
mod suppress;

#[cfg(test)]
mod tests;

/// Set to any value: print when the page has loaded (milliseconds since the Unix epoch)
/// and quit. `scripts/bench-startup.sh` measures launch-to-page time with it. Set to
/// `example`: also do what "Load example" does (copy the bundled example into the user's
/// campaigns folder, open it) and print where it came from, where it went and how many
/// recipients it holds: the package test checks an installed app this way. Set to
/// `trace`: keep running and print on stdout when each start-up step happened
/// (`startup STEP MS`, milliseconds since the Unix epoch), for scripts/first-paint.py.
const STARTUP_PROBE_ENV: &str = "MG_STARTUP_PROBE";

/// Start-up steps for `MG_STARTUP_PROBE=trace`: where the time to the first paint goes.
mod trace {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    static ON: AtomicBool = AtomicBool::new(false);
    static IPC_SEEN: AtomicU32 = AtomicU32::new(0);

    pub fn enable() {
        ON.store(true, Ordering::Relaxed);
    }

    pub fn step(what: &str) {
        if ON.load(Ordering::Relaxed) {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            println!("startup {what} {at}");
        }
    }

    /// The first few commands the page calls, in order.
    pub fn ipc(command: &str) {
        if ON.load(Ordering::Relaxed) && IPC_SEEN.fetch_add(1, Ordering::Relaxed) < 4 {
            step(&format!("ipc:{command}"));
        }
    }
}

/// WebKitGTK's accelerated compositing loads a GL stack (Mesa's llvmpipe where there is
/// no GPU driver, as under Xvfb or in many virtual machines) into the web process: about
/// 80 MiB of the window's memory at idle for a page of forms and tables that never needs
/// it (issue 11; `scripts/bench-app.sh`). Painting without it is what WebKit does anyway
/// when GL is missing. A value the person set is kept.
#[cfg(target_os = "linux")]
fn without_compositing() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(VAR).is_none() {
        // First thing in `main`, before any other thread exists: nothing else can be
        // reading the environment at the same time.
        std::env::set_var(VAR, "1");
    }
}

/// The window starts hidden (`"visible": false` in tauri.conf.json) and is shown when the
/// page has loaded. Shown at once, WebKitGTK (non-composited, as this app runs) paints
/// the empty view by waiting up to 500 ms on the main thread for a web process that is
/// still starting, and that wait delays the page load itself: the first frame with
/// content came at ~1.1 s; shown after the load it comes at ~0.55 s
/// (`scripts/bench-first-paint.sh`, BENCHMARKS.md). If the page never reports its load,
/// the window is shown after [`SHOW_ANYWAY_AFTER`] all the same.
const SHOW_ANYWAY_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

fn show_when_loaded_or_after(window: tauri::WebviewWindow, after: std::time::Duration) {
    let _ = std::thread::Builder::new()
        .name("show-window".into())
        .spawn(move || {
            std::thread::sleep(after);
            let _ = window.show();
        });
}

/// Without a display GTK cannot start, and tao then panics with a backtrace: say it in
/// one plain sentence instead.
#[cfg(target_os = "linux")]
fn require_display() {
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        eprintln!(
            "MergeGuard needs a desktop session to show its window (no display found). \
             The command-line tool is `mergeguard`."
        );
        std::process::exit(1);
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("MergeGuard {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    #[cfg(target_os = "linux")]
    require_display();
    #[cfg(target_os = "linux")]
    without_compositing();
    let probe_mode = std::env::var(STARTUP_PROBE_ENV).ok();
    if probe_mode.as_deref() == Some("trace") {
        trace::enable();
    }
    trace::step("main");
    let probe = probe_mode.is_some() && probe_mode.as_deref() != Some("trace");
    let probe_example = probe_mode.as_deref() == Some("example");
    let app_state = state::AppState::from_env();
    app_state.open_in_background(|store| {
        trace::step("store-opened");
        if let Err(e) = logging::init(&store.dir().join("logs")) {
            eprintln!("MergeGuard: no diagnostics file ({e})");
        }
    });
    let handler: fn(tauri::ipc::Invoke) -> bool = tauri::generate_handler![
        commands::app_status,
        commands::create_first_admin,
        commands::sign_in,
        commands::sign_out,
        commands::list_operators,
        commands::add_operator,
        commands::disable_operator,
        commands::enable_operator,
        commands::set_operator_roles,
        commands::reset_operator_pin,
        commands::change_pin,
        commands::settings,
        commands::save_settings,
        commands::recipients_page,
        commands::open_campaign,
        commands::save_campaign,
        commands::save_campaign_as,
        commands::check_campaign_form,
        commands::new_campaign,
        commands::duplicate_campaign,
        commands::close_campaign,
        commands::list_campaigns,
        commands::set_recipient_file,
        commands::add_attachment,
        commands::relay_profiles,
        commands::save_relay_profile,
        commands::remove_relay_profile,
        commands::test_relay_profile,
        commands::set_up_domain,
        commands::domain_records,
        commands::check_domain,
        commands::preview_message,
        commands::find_message,
        commands::example_campaign_path,
        commands::run_checklist,
        commands::review,
        commands::submit_for_approval,
        commands::approve,
        commands::start_send,
        commands::control_send,
        commands::requeue_unknown,
        commands::save_relay_password,
        commands::send_report,
        commands::export_send_report,
        commands::log_entries,
        commands::export_log,
        commands::suppression_list,
        commands::suppression_add,
        commands::suppression_remove,
        commands::test_send,
        mailbox::mailbox_view,
        mailbox::save_mailbox,
        mailbox::check_mailbox,
        mailbox::import_dmarc_reports,
        mailbox::dmarc_summary,
        mailbox::configure_relay_oauth,
        mailbox::start_relay_sign_in,
        mailbox::finish_relay_sign_in,
        mailbox::start_relay_browser_sign_in,
        mailbox::finish_relay_browser_sign_in,
        mailbox::cancel_relay_sign_in,
        mailbox::relay_sign_out,
    ];
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            trace::step("setup");
            if let Some(window) = tauri::Manager::get_webview_window(app, "main") {
                show_when_loaded_or_after(window, SHOW_ANYWAY_AFTER);
            }
            Ok(())
        })
        .on_page_load(move |webview, payload| {
            trace::step(match payload.event() {
                tauri::webview::PageLoadEvent::Started => "page-load-started",
                tauri::webview::PageLoadEvent::Finished => "page-load-finished",
            });
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                let _ = webview.window().show();
                trace::step("shown");
            }
            if probe && payload.event() == tauri::webview::PageLoadEvent::Finished {
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                println!("page-loaded-at-ms {at}");
                let app = tauri::Manager::app_handle(webview);
                let code = if probe_example {
                    probe_load_example(app)
                } else {
                    0
                };
                app.exit(code);
            }
        })
        .manage(app_state)
        .invoke_handler(move |invoke| {
            trace::ipc(invoke.message.command());
            handler(invoke)
        })
        .run(tauri::generate_context!());

    if let Err(error) = result {
        // Without a window there is nobody to show a dialog to: say it on stderr.
        eprintln!("MergeGuard could not start: {error}");
        std::process::exit(1);
    }
}

/// The `MG_STARTUP_PROBE=example` check: the same calls as the "Load example" button,
/// then the copy opened by the core. Prints one line; returns the exit code.
fn probe_load_example(app: &tauri::AppHandle) -> i32 {
    use tauri::Manager;
    let state = app.state::<state::AppState>();
    let opened = commands::bundled_examples(app).and_then(|bundled| {
        let copy = preview::example_campaign(&state, &bundled)?;
        let campaign = mergeguard::campaign::Campaign::load(std::path::Path::new(&copy))
            .map_err(|e| error::CommandError::new(e.code(), e.to_string()))?;
        let list = mergeguard::preflight::campaign::import_campaign_recipients(&campaign, None)?;
        Ok((bundled, copy, list.recipients.len()))
    });
    match opened {
        Ok((bundled, copy, n)) => {
            println!(
                "example-opened from={} copy={copy} recipients={n}",
                bundled.display()
            );
            0
        }
        Err(e) => {
            println!("example-failed {}", e.message);
            1
        }
    }
}
