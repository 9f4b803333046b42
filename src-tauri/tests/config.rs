//! The window's security configuration, checked as data: the CSP allows nothing but the
//! app's own files and its IPC, and the capability file grants exactly the app's own
//! commands (each one registered in `invoke_handler!` and in `build.rs`) plus the two
//! file dialogs. A command added in one place but not the others fails here, not in a
//! user's window.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The quoted names in `build.rs`'s COMMANDS list.
fn build_rs_commands() -> BTreeSet<String> {
    let src = read("build.rs");
    let start = src.find("const COMMANDS").expect("COMMANDS in build.rs");
    let end = start + src[start..].find("];").expect("end of COMMANDS");
    src[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The `commands::NAME` entries of `invoke_handler!` in main.rs.
fn invoke_handler_commands() -> BTreeSet<String> {
    let src = read("src/main.rs");
    let start = src
        .find("generate_handler![")
        .expect("generate_handler! in main.rs");
    let end = start + src[start..].find(']').expect("end of generate_handler!");
    // Entries are `module::name` (`commands::…`, `mailbox::…`): the name after the last `::`.
    src[start + "generate_handler![".len()..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit("::").next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_command_is_registered_built_and_granted_and_nothing_else_is_granted() {
    let handled = invoke_handler_commands();
    let built = build_rs_commands();
    assert!(handled.len() > 20, "{handled:?}");
    assert_eq!(
        handled, built,
        "invoke_handler! and build.rs list different commands"
    );

    let caps: serde_json::Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    assert_eq!(caps["windows"], serde_json::json!(["main"]));
    let granted: BTreeSet<String> = caps["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().expect("permission names only").to_owned())
        .collect();
    let mut expected: BTreeSet<String> = built
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    expected.insert("dialog:allow-open".into());
    expected.insert("dialog:allow-save".into());
    // A file dropped on the window arrives as Tauri's drag-drop event.
    expected.insert("core:event:allow-listen".into());
    expected.insert("core:event:allow-unlisten".into());
    assert_eq!(granted, expected);
}

#[test]
fn csp_allows_only_the_apps_own_files_and_ipc() {
    let conf: serde_json::Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let security = &conf["app"]["security"];
    let csp = security["csp"]
        .as_object()
        .expect("a CSP is set (never null)");
    let get = |k: &str| csp.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    assert_eq!(get("default-src"), "'self'");
    assert_eq!(get("script-src"), "'self'", "no inline or remote scripts");
    assert_eq!(get("object-src"), "'none'");
    assert_eq!(get("base-uri"), "'none'");
    assert_eq!(get("form-action"), "'none'");
    for (directive, value) in csp {
        let value = value.as_str().unwrap_or_default();
        assert!(
            !value.contains("unsafe-") && !value.contains('*') && !value.contains("https:"),
            "{directive} allows too much: {value}"
        );
    }
    assert_eq!(
        get("connect-src"),
        "ipc: http://ipc.localhost",
        "only the IPC"
    );
    assert_eq!(security["freezePrototype"], serde_json::json!(true));
}

/// The HTML part of a message is shown in a frame with an empty `sandbox` (no scripts, a
/// unique origin) whose document carries its own CSP: nothing remote loads, nothing runs.
#[test]
fn the_html_preview_frame_is_sandboxed_with_its_own_csp() {
    let html = read("../ui/index.html");
    let frames: Vec<&str> = html
        .match_indices("<iframe")
        .map(|(i, _)| &html[i..])
        .collect();
    assert_eq!(frames.len(), 1, "one frame: the HTML preview");
    let tag = &frames[0][..frames[0].find('>').unwrap()];
    assert!(tag.contains("id=\"preview-html\""), "{tag}");
    assert!(
        tag.contains("sandbox=\"\""),
        "an empty sandbox grants nothing: {tag}"
    );
    assert!(tag.contains("referrerpolicy=\"no-referrer\""), "{tag}");

    let js = read("../ui/screens/preview.js");
    let csp_line = js
        .lines()
        .find(|l| l.starts_with("const FRAME_CSP"))
        .expect("FRAME_CSP in ui/screens/preview.js");
    assert!(csp_line.contains("default-src 'none'"), "{csp_line}");
    assert!(
        !csp_line.contains("script-src") && !csp_line.contains("http"),
        "{csp_line}"
    );
    assert!(
        js.contains("frame.srcdoc = m.html ? frameDocument(m.html)"),
        "the frame only gets frameDocument's output"
    );
}
