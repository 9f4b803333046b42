// What comes back: the mailbox a sending server names (unsubscribes, bounces, domain
// reports read by the core, never deleted), the OAuth2 sign-in for Microsoft 365 and
// Google (with a code typed on the provider's page, or in the browser, which the core
// opens and waits for), and the domain (DMARC) reports per sending source. Roles are the
// core's: an admin sets the mailbox and signs in; a sender or an admin checks the mailbox.

import * as ipc from "../ipc.js";
import { t, language, whyText } from "../i18n.js";
import { $, el, busy, showErrorAt, hideErrorAt, showStatus, localTime, copyText } from "../dom.js";

const profile = () => $("returns-profile").value;

async function loadProfiles() {
  const select = $("returns-profile");
  const before = select.value;
  try {
    const v = await ipc.relayProfiles();
    select.replaceChildren(...v.profiles.map((p) => el("option", { value: p.name }, p.name)));
    if (v.profiles.some((p) => p.name === before)) select.value = before;
  } catch (err) {
    select.replaceChildren();
    showErrorAt("returns-error", err);
  }
  $("returns-check").disabled = !select.value;
}

async function loadMailbox() {
  hideErrorAt("returns-error");
  const state = $("returns-mailbox-state");
  if (!profile()) {
    state.textContent = t("returns_no_profile");
    return;
  }
  try {
    const v = await ipc.mailboxView(profile());
    const m = v.mailbox;
    $("returns-imap-host").value = m ? m.host : "";
    $("returns-imap-port").value = m ? String(m.port) : "";
    $("returns-imap-security").value = m ? m.security : "tls";
    $("returns-imap-folder").value = m ? m.folder : "";
    if (v.oauth) {
      $("returns-oauth-provider").value = v.oauth.provider;
      $("returns-oauth-client").value = v.oauth.client_id || "";
      $("returns-oauth-tenant").value = v.oauth.tenant || "";
      $("returns-oauth-issuer").value = v.oauth.issuer || "";
    }
    showProviderFields();
    // The secret is never sent back: the field stays empty and says whether one is kept.
    $("returns-oauth-secret").value = "";
    $("returns-oauth-secret-state").textContent =
      t(v.client_secret_saved ? "returns_oauth_secret_saved" : "returns_oauth_secret_hint");
    showSignInButtons(v.flows || []);
    const parts = [m ? t("returns_mailbox_is", { host: m.host, folder: m.folder }) : t("returns_mailbox_none")];
    if (v.last_sync) parts.push(t("returns_last_checked", { at: localTime(v.last_sync.synced_at, language()) }));
    parts.push(v.sign_in === "oauth2"
      ? (v.signed_in ? t("returns_signed_in") : t("returns_not_signed_in"))
      : t("returns_password_sign_in"));
    state.textContent = parts.join(" ");
    $("returns-check").disabled = !m;
  } catch (err) {
    state.textContent = "";
    showErrorAt("returns-error", err);
  }
}

// The sign-in buttons the provider allows: Google signs in in the browser only,
// Microsoft 365 with a code first, another server in the browser first.
function showSignInButtons(flows) {
  const browser = $("returns-sign-in-browser");
  const device = $("returns-sign-in");
  browser.hidden = !flows.includes("browser");
  device.hidden = !flows.includes("device");
  browser.className = flows[0] === "browser" ? "primary" : "";
  device.className = flows[0] === "device" ? "primary" : "";
  $("returns-sign-out").hidden = flows.length === 0;
}

function pct(x) {
  return `${Math.round((x || 0) * 100)}%`;
}

async function loadReports() {
  try {
    const s = await ipc.dmarcSummary([]);
    $("returns-no-reports").hidden = s.sources.length > 0;
    $("returns-warnings").replaceChildren(...s.why.map((w) => el("li", { class: "warn-note" }, whyText(w))));
    $("returns-sources").tBodies[0].replaceChildren(...s.sources.map((r) =>
      el("tr", {},
        el("td", { class: "mono" }, r.ptr ? `${r.source_ip} (${r.ptr})` : r.source_ip),
        el("td", { class: "num" }, String(r.messages)),
        el("td", {}, pct(r.spf_pass)), el("td", {}, pct(r.dkim_pass)), el("td", {}, pct(r.dmarc_pass)),
        el("td", {}, (r.why || []).map(whyText).join(" ")))));
  } catch (err) {
    showErrorAt("returns-import-error", err);
  }
}

function resultText(r) {
  return t("returns_checked", {
    read: r.read, unsubscribed: r.unsubscribed, bounces: r.hard_bounces + r.soft_bounces,
    suppressed: r.suppressed, reports: r.dmarc_reports, untouched: r.untouched,
  });
}

export async function enter() {
  await loadProfiles();
  await loadMailbox();
  await loadReports();
}

/** A sign-in of either flow: `start` it, show what the person needs (`shown`, then
 *  `buttons` beside Stop) while `finish` waits for them, then the outcome. */
function signIn(button, start, finish, shown, buttons) {
  return busy(button, async () => {
    hideErrorAt("returns-oauth-error");
    const box = $("returns-sign-in-code");
    const stop = { pressed: false };
    try {
      const s = await start(profile());
      box.replaceChildren(...shown(s), el("div", { class: "actions" }, ...buttons(s), stopButton(stop)));
      box.hidden = false;
      await finish(profile());
      box.hidden = true;
      showStatus("ok", t("returns_signed_in_ok"));
      await loadMailbox();
    } catch (err) {
      box.hidden = true;
      if (stop.pressed) showStatus("info", t("returns_sign_in_stopped"));
      else showErrorAt("returns-oauth-error", err);
    }
  });
}

/** "Stop" beside a sign-in that waits for the person: the wait ends, nothing is kept. */
function stopButton(stop) {
  return el("button", {
    type: "button", class: "small", id: "returns-sign-in-stop",
    onclick: async () => {
      stop.pressed = true;
      try { await ipc.cancelRelaySignIn(profile()); } catch (err) { showErrorAt("returns-oauth-error", err); }
    },
  }, t("returns_sign_in_stop"));
}

/** Only the fields the chosen service uses: the tenant for Microsoft 365, the sign-in
 *  address for another service, the client secret for Google (or another service). */
function showProviderFields() {
  const provider = $("returns-oauth-provider").value;
  const show = (id, on) => { $(id).closest(".field").hidden = !on; };
  show("returns-oauth-tenant", provider === "microsoft365");
  show("returns-oauth-issuer", provider === "generic");
  show("returns-oauth-secret", provider !== "microsoft365");
}

export function wire() {
  $("returns-profile").addEventListener("change", () => loadMailbox());
  $("returns-oauth-provider").addEventListener("change", showProviderFields);
  showProviderFields();
  $("returns-check").addEventListener("click", () =>
    busy($("returns-check"), async () => {
      hideErrorAt("returns-error");
      $("returns-result").hidden = true;
      try {
        const r = await ipc.checkMailbox(profile());
        const box = $("returns-result");
        box.className = "status ok";
        box.textContent = resultText(r);
        box.hidden = false;
        await loadMailbox();
        await loadReports();
      } catch (err) {
        showErrorAt("returns-error", err);
      }
    }));
  $("returns-mailbox-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("returns-mailbox-save"), async () => {
      hideErrorAt("returns-mailbox-error");
      const host = $("returns-imap-host").value.trim();
      const port = Number($("returns-imap-port").value) || null;
      const input = host ? {
        host, port, security: $("returns-imap-security").value,
        folder: $("returns-imap-folder").value.trim() || "INBOX",
      } : null;
      try {
        await ipc.saveMailbox(profile(), input);
        showStatus("ok", t("returns_mailbox_saved"));
        await loadMailbox();
      } catch (err) {
        showErrorAt("returns-mailbox-error", err);
      }
    });
  });
  $("returns-oauth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("returns-oauth-save"), async () => {
      hideErrorAt("returns-oauth-error");
      const client = $("returns-oauth-client").value.trim();
      const input = client ? {
        provider: $("returns-oauth-provider").value,
        client_id: client,
        tenant: $("returns-oauth-tenant").value.trim(),
        issuer: $("returns-oauth-issuer").value.trim(),
        scopes: "",
        // Empty keeps the secret already kept for this service and client.
        client_secret: $("returns-oauth-secret").value.trim(),
      } : null;
      try {
        await ipc.configureRelayOauth(profile(), input);
        showStatus("ok", t("returns_oauth_saved"));
        await loadMailbox();
      } catch (err) {
        showErrorAt("returns-oauth-error", err);
      }
    });
  });
  $("returns-sign-in").addEventListener("click", () =>
    signIn($("returns-sign-in"), ipc.startRelaySignIn, ipc.finishRelaySignIn, (s) => [
      el("span", { class: "status-text" }, t("returns_sign_in_steps", { url: s.verification_uri })),
      el("strong", { class: "mono sign-in-code", id: "returns-user-code" }, s.user_code),
    ], () => []));
  // The core opens the provider's page in the default browser and waits for it to come
  // back; the address is shown too, in case no browser opened.
  $("returns-sign-in-browser").addEventListener("click", () =>
    signIn($("returns-sign-in-browser"), ipc.startRelayBrowserSignIn, ipc.finishRelayBrowserSignIn, (s) => [
      el("span", { class: "status-text" }, t(s.opened ? "returns_browser_steps" : "returns_browser_not_opened")),
      el("span", { class: "mono sign-in-url", id: "returns-sign-in-url" }, s.authorize_url),
    ], (s) => [el("button", { type: "button", class: "small", onclick: (e) => copyText(s.authorize_url, e.currentTarget) }, t("copy"))]));
  $("returns-sign-out").addEventListener("click", () =>
    busy($("returns-sign-out"), async () => {
      hideErrorAt("returns-oauth-error");
      try {
        await ipc.relaySignOut(profile());
        showStatus("ok", t("returns_signed_out"));
        await loadMailbox();
      } catch (err) {
        showErrorAt("returns-oauth-error", err);
      }
    }));
  $("returns-import-browse").addEventListener("click", async () => {
    try {
      const chosen = await ipc.chooseFile(t("returns_import_label"), t("returns_import_label"), ["xml", "gz", "zip"]);
      if (chosen) $("returns-import-path").value = chosen;
    } catch (err) {
      showErrorAt("returns-import-error", err);
    }
  });
  $("returns-import-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("returns-import"), async () => {
      hideErrorAt("returns-import-error");
      const path = $("returns-import-path").value.trim();
      if (!path) return;
      try {
        const r = await ipc.importDmarcReports([path]);
        showStatus("ok", t("returns_imported", { count: r.new }));
        await loadReports();
      } catch (err) {
        showErrorAt("returns-import-error", err);
      }
    });
  });
}

export function rerender() {
  if (!$("screen-returns").hidden) enter();
}
