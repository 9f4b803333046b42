// The sending-server screen (admin): relay profiles with presets for Microsoft 365 and
// Google Workspace, the password into the system keychain, and "Test connection" with
// its answer in plain words. Who may change a profile is decided by the core.

import * as ipc from "../ipc.js";
import { t, relayTestText } from "../i18n.js";
import { $, el, busy, showErrorAt, hideErrorAt, showStatus, errorDetail } from "../dom.js";
import * as store from "../store.js";

let presets = [];
let armedRemove = null; // the profile whose Remove was clicked once
let lastTest = null; // the last Test connection result, shown again in another language

// The core names speeds in snake_case; the form's options use the names it reads back.
const rateValue = (r) => String(r || "generic").replace(/_/g, "-");

function preset(provider) {
  return presets.find((p) => p.provider === provider);
}

function applyPreset(provider, force) {
  const p = preset(provider);
  if (!p) return;
  const fill = (id, value) => {
    if (value != null && (force || !$(id).value)) $(id).value = String(value);
  };
  fill("relay-host", p.host);
  fill("relay-port", p.port);
  if (p.security) $("relay-security").value = p.security;
  $("relay-rate").value = rateValue(p.rate);
  if (force && !p.host) {
    $("relay-host").value = "";
    $("relay-port").value = "587";
  }
}

// A profile being edited keeps its sign-in method (password, or the OAuth2 sign-in set on
// the Replies and reports screen).
let editingAuth = "password";

function resetForm() {
  editingAuth = "password";
  $("relay-original").value = "";
  $("relay-form-title").textContent = t("relay_add");
  for (const id of ["relay-name", "relay-host", "relay-port", "relay-username", "relay-password", "relay-ca", "relay-outbound"]) $(id).value = "";
  $("relay-provider").value = "microsoft365";
  applyPreset("microsoft365", true);
  hideErrorAt("relay-error");
}

function edit(p) {
  $("relay-original").value = p.name;
  $("relay-form-title").textContent = t("relay_edit", { name: p.name });
  $("relay-provider").value = p.provider;
  $("relay-name").value = p.name;
  $("relay-host").value = p.host;
  $("relay-port").value = String(p.port);
  $("relay-security").value = p.security;
  $("relay-rate").value = rateValue(p.rate);
  $("relay-username").value = p.username;
  $("relay-password").value = "";
  $("relay-ca").value = p.ca ? p.ca.path : "";
  $("relay-outbound").value = (p.outbound_ips || []).join(", ");
  editingAuth = p.auth || "password";
  hideErrorAt("relay-error");
  $("relay-name").focus();
}

function showTest(result) {
  lastTest = result;
  const box = $("relay-test-result");
  box.className = "status " + (result.outcome === "ok" ? "ok" : "error");
  box.dataset.outcome = result.outcome;
  box.replaceChildren(
    el("span", { class: "status-text" }, `${result.profile}: ${relayTestText(result.outcome)}`),
    // The relay's own words (its reply, the certificate's name) on request.
    result.outcome === "ok" ? "" : errorDetail({ message: [result.message, result.fix].filter(Boolean).join("\n") }),
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

async function test(p, button) {
  await busy(button, async () => {
    $("relay-test-result").className = "status info";
    $("relay-test-result").replaceChildren(el("span", { class: "status-text" }, t("relay_testing", { name: p.name })));
    $("relay-test-result").hidden = false;
    try {
      showTest(await ipc.testRelayProfile(p.name));
    } catch (err) {
      showErrorAt("relay-error", err);
      $("relay-test-result").hidden = true;
    }
  });
}

async function remove(p) {
  if (armedRemove !== p.name) {
    armedRemove = p.name;
    render(store.state.profiles);
    return;
  }
  armedRemove = null;
  try {
    await ipc.removeRelayProfile(p.name);
    showStatus("ok", t("relay_removed", { name: p.name }));
    await load();
  } catch (err) {
    showErrorAt("relay-error", err);
  }
}

function render(profiles) {
  $("relay-empty").hidden = profiles.length > 0;
  $("relay-table").tBodies[0].replaceChildren(...profiles.map((p) =>
    el("tr", { dataset: { name: p.name } },
      el("td", {}, p.name),
      el("td", { class: "mono" }, `${p.host}:${p.port} (${p.security === "tls" ? "TLS" : "STARTTLS"})`),
      el("td", { class: "mono" }, p.username),
      el("td", {}, p.has_password === true ? t("relay_password_stored")
        : p.has_password === false ? el("span", { class: "count-warn" }, t("relay_password_missing"))
          : el("span", { class: "count-warn" }, t("relay_keychain_unavailable"))),
      el("td", { class: "row-actions" },
        el("button", { type: "button", class: "small primary", dataset: { action: "test" }, onclick: (e) => test(p, e.currentTarget) }, t("relay_test")),
        el("button", { type: "button", class: "small", onclick: () => edit(p) }, t("relay_change")),
        el("button", {
          type: "button", class: "small" + (armedRemove === p.name ? " danger" : ""),
          onclick: () => remove(p),
        }, armedRemove === p.name ? t("relay_remove_confirm") : t("relay_remove"))))));
}

async function load() {
  try {
    const v = await ipc.relayProfiles();
    presets = v.presets;
    store.set({ profiles: v.profiles });
    store.emit("profiles-loaded", v.profiles);
    render(v.profiles);
  } catch (err) {
    showErrorAt("relay-error", err);
  }
}

export async function enter() {
  armedRemove = null;
  lastTest = null;
  $("relay-test-result").hidden = true;
  await load();
  if (!$("relay-original").value && !$("relay-name").value) resetForm();
}

export function wire() {
  $("relay-provider").addEventListener("change", () => applyPreset($("relay-provider").value, true));
  $("relay-reset").addEventListener("click", resetForm);
  $("relay-ca-browse").addEventListener("click", async () => {
    try {
      const chosen = await ipc.chooseFile(t("relay_ca"), "PEM", ["pem", "crt", "cer"]);
      if (chosen) $("relay-ca").value = chosen;
    } catch (err) {
      showErrorAt("relay-error", err);
    }
  });
  $("relay-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("relay-save"), async () => {
      hideErrorAt("relay-error");
      const port = Number($("relay-port").value);
      const input = {
        name: $("relay-name").value.trim(),
        provider: $("relay-provider").value,
        host: $("relay-host").value.trim(),
        port: Number.isInteger(port) && port > 0 ? port : null,
        security: $("relay-security").value,
        username: $("relay-username").value.trim(),
        auth: editingAuth,
        ca_file: $("relay-ca").value.trim() || null,
        outbound_ips: $("relay-outbound").value.trim(),
        rate: $("relay-rate").value,
      };
      const password = $("relay-password").value;
      $("relay-password").value = "";
      try {
        const saved = await ipc.saveRelayProfile($("relay-original").value || null, input, password || null);
        showStatus("ok", t("relay_saved", { name: saved.name }));
        resetForm();
        await load();
      } catch (err) {
        showErrorAt("relay-error", err);
      }
    });
  });
}

export function rerender() {
  render(store.state.profiles);
  if (lastTest && !$("relay-test-result").hidden) showTest(lastTest);
}
