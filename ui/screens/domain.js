// The sender-domain screen (admin): makes the DKIM key (kept in the system keychain),
// shows the DNS records to publish, each with a copy button and what it is for, and
// "Check again" runs the domain checks to show which records are right now.

import * as ipc from "../ipc.js";
import { t, dnsRecordText, checkTitle, checkFix, checkSeen } from "../i18n.js";
import { $, el, busy, showErrorAt, hideErrorAt, showStatus, checkDetails, copyText as copy } from "../dom.js";
import * as store from "../store.js";

let lastRecords = null;
let lastChecks = null;

function request(replace = false) {
  return {
    domain: $("domain-name").value.trim(),
    selector: $("domain-selector").value.trim(),
    key: $("domain-key").value,
    provider: "",
    relay_ips: [],
    report_to: $("domain-report").value.trim() || null,
    replace,
  };
}

function profile() {
  return $("domain-profile").value || null;
}

function renderRecords(r) {
  lastRecords = r;
  const box = $("domain-records");
  if (!r) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el("h2", {}, t("domain_records_title", { domain: r.domain })),
    el("p", { class: "hint" }, t("domain_records_lead")),
    ...r.records.map((rec) => {
      const [title, purpose] = dnsRecordText(rec.kind);
      return el("div", { class: "record card", dataset: { kind: rec.kind, name: rec.name, strings: JSON.stringify(rec.strings) } },
        el("h3", {}, title),
        el("p", { class: "hint" }, purpose),
        el("dl", { class: "record-fields" },
          el("dt", {}, t("record_name")), el("dd", { class: "mono" }, rec.name,
            el("button", { type: "button", class: "small", onclick: (e) => copy(rec.name, e.currentTarget) }, t("copy"))),
          el("dt", {}, t("record_type")), el("dd", { class: "mono" }, rec.rtype),
          el("dt", {}, t("record_value")), el("dd", { class: "mono value" }, rec.value,
            el("button", { type: "button", class: "small", onclick: (e) => copy(rec.value, e.currentTarget) }, t("copy")))),
        rec.note ? el("p", { class: "hint" }, rec.note) : "");
    }));
}

const SHOWN = ["spf", "dkim", "dmarc", "dns", "tls"];

function renderChecks(checks) {
  lastChecks = checks;
  const box = $("domain-checks");
  if (!checks) {
    box.replaceChildren();
    return;
  }
  const shown = checks.filter((c) => SHOWN.includes(c.id.split(".")[0]));
  const fails = shown.filter((c) => c.status === "fail").length;
  box.replaceChildren(
    el("h2", {}, t("domain_checks_title")),
    el("div", { class: "status " + (fails ? "error" : "ok") },
      el("span", { class: "status-text" }, fails ? t("domain_checks_failed", { count: fails }) : t("domain_checks_ok"))),
    el("ul", { class: "checks" }, ...shown.map((c) =>
      el("li", { class: "check " + c.status, dataset: { id: c.id, status: c.status } },
        el("span", { class: "badge " + c.status }, t("status_" + c.status)),
        el("div", { class: "check-body" },
          el("div", { class: "check-title" }, checkTitle(c.id)),
          checkSeen(c.id, c.status) ? el("div", { class: "check-seen" }, checkSeen(c.id, c.status)) : "",
          c.status !== "pass" && checkFix(c.id, c.status)
            ? el("div", { class: "check-fix" }, el("strong", {}, t("fix_label") + " "), checkFix(c.id, c.status)) : "",
          checkDetails(c))))));
}

async function loadProfiles() {
  try {
    const v = await ipc.relayProfiles();
    store.set({ profiles: v.profiles });
  } catch (_) { /* the select then offers only "not chosen" */ }
  const select = $("domain-profile");
  const before = select.value;
  select.replaceChildren(el("option", { value: "" }, t("domain_profile_none")),
    ...store.state.profiles.map((p) => el("option", { value: p.name }, `${p.name} (${p.host})`)));
  if ([...select.options].some((o) => o.value === before)) select.value = before;
  else if (store.state.profiles.length) select.value = store.state.profiles[0].name;
}

export async function enter() {
  await loadProfiles();
  const c = store.state.campaign;
  if (c && !$("domain-name").value && c.form.from_address.includes("@")) {
    $("domain-name").value = c.form.from_address.split("@").pop();
    if (c.form.dkim_selector) $("domain-selector").value = c.form.dkim_selector;
  }
}

export function wire() {
  $("domain-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("domain-generate"), async () => {
      hideErrorAt("domain-error");
      try {
        renderRecords(await ipc.setUpDomain(request(), profile()));
        renderChecks(null);
        showStatus("ok", t("domain_key_made"));
      } catch (err) {
        showErrorAt("domain-error", err);
      }
    });
  });
  $("domain-show").addEventListener("click", () =>
    busy($("domain-show"), async () => {
      hideErrorAt("domain-error");
      try {
        renderRecords(await ipc.domainRecords(request(), profile()));
      } catch (err) {
        showErrorAt("domain-error", err);
      }
    }));
  $("domain-check").addEventListener("click", () =>
    busy($("domain-check"), async () => {
      hideErrorAt("domain-error");
      try {
        renderChecks(await ipc.checkDomain({
          domain: $("domain-name").value.trim(),
          selector: $("domain-selector").value.trim(),
          profile: profile(),
        }));
        $("domain-checks").scrollIntoView({ block: "start" });
      } catch (err) {
        showErrorAt("domain-error", err);
      }
    }));
}

export function rerender() {
  if (lastRecords) renderRecords(lastRecords);
  if (lastChecks) renderChecks(lastChecks);
}
