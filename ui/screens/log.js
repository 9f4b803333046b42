// The operation log screen: the tamper-evident log, filtered by operator, campaign, kind
// and dates, with its chain verified on every load, and exported as CSV or JSON.

import * as ipc from "../ipc.js";
import { t, kindName, language, logDetailText } from "../i18n.js";
import { $, el, showStatus, showError, screenShown, localTime } from "../dom.js";

// Dates are typed as year, month, day in either language's usual way (2026-12-01 or
// 2026/12/01, month and day with or without a leading zero), not through WebKit's date
// picker, whose format follows the system locale (month/day/year on an English system,
// whatever the window's language). Anything else is passed on for the core to refuse.
function isoDate(text) {
  const v = text.trim();
  if (!v) return null;
  const m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(v);
  return m ? `${m[1]}-${m[2].padStart(2, "0")}-${m[3].padStart(2, "0")}` : v;
}

function logFilter() {
  return {
    operator: $("log-operator").value.trim() || null,
    campaign: $("log-campaign").value.trim() || null,
    kind: $("log-kind").value || null,
    from: isoDate($("log-from").value),
    until: isoDate($("log-until").value),
    utc_offset_minutes: -new Date().getTimezoneOffset(),
  };
}

export async function enter() {
  try {
    const view = await ipc.logEntries(logFilter());
    const select = $("log-kind");
    if (select.options.length <= 1) {
      for (const k of view.kinds) select.append(el("option", { value: k }, kindName(k)));
    }
    const v = view.verification;
    const box = $("log-verify");
    box.className = "status " + (v.intact ? "ok" : "error");
    box.replaceChildren(el("span", { class: "status-text" },
      v.intact ? t("log_intact", { count: v.entries }) : t("log_broken", { ids: v.broken_ids.join(", ") })));
    $("log-count").textContent = t("log_count", { shown: view.entries.length, total: view.total });
    $("log-table").tBodies[0].replaceChildren(...view.entries.map((e) =>
      el("tr", { class: v.broken_ids.includes(e.id) ? "broken" : "" },
        el("td", { class: "num" }, e.id), el("td", {}, localTime(e.at, language())),
        el("td", {}, e.operator), el("td", {}, kindName(e.kind)), el("td", { class: "mono" }, e.campaign || ""),
        el("td", { class: "mono details" }, logDetailText(e.details)))));
  } catch (err) {
    showError(err);
  }
}

export function wire() {
  $("log-form").addEventListener("submit", (e) => { e.preventDefault(); enter(); });
  $("log-export-browse").addEventListener("click", async () => {
    const format = $("log-export-format").value;
    try {
      const p = await ipc.chooseSavePath(t("export"), "operation-log." + format, format);
      if (p) $("log-export-path").value = p;
    } catch (err) {
      showError(err);
    }
  });
  $("log-export").addEventListener("click", async () => {
    const path = $("log-export-path").value.trim();
    if (!path) { showStatus("error", t("export_path_missing")); $("log-export-path").focus(); return; }
    try {
      const n = await ipc.exportLog(logFilter(), $("log-export-format").value, path);
      showStatus("ok", t("exported", { count: n, path }));
    } catch (err) {
      showError(err);
    }
  });
}

export function rerender() {
  if (screenShown("log")) enter();
}
