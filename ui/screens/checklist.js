// The pre-flight checklist screen: runs every check on the campaign (addressing,
// attachments, merge, content, the sender domain's DNS) and shows the findings by area.

import * as ipc from "../ipc.js";
import { t, checkTitle, checkFix, checkSeen, areaName } from "../i18n.js";
import { $, el, showStatus, showError, busy, dlItem, destinationBanner, checkDetails } from "../dom.js";
import * as store from "../store.js";
import { renderBar } from "../campaign.js";

const AREAS = ["addressing", "attachments", "merge", "content", "spf", "dkim", "dmarc", "tls", "dns", "bulk", "jp_law", "outbox"];
const STATUS_RANK = { fail: 0, warning: 1, skipped: 2, pass: 3 };

function statusBadge(status) {
  return el("span", { class: "badge " + status }, t("status_" + status));
}

function renderChecklist(view) {
  destinationBanner($("checklist-destination"), view);
  const counts = { fail: 0, warning: 0, skipped: 0, pass: 0 };
  for (const c of view.checks) counts[c.status] += 1;
  $("checklist-summary").replaceChildren(
    ...dlItem("fingerprint", view.short, "mono"),
    ...dlItem("s_recipients", String(view.recipient_count)),
    ...dlItem("s_suppressed", String(view.suppressed), view.suppressed ? "count-warn" : ""),
    ...dlItem("status_fail", String(counts.fail), counts.fail ? "count-fail" : "count-ok"),
    ...dlItem("status_warning", String(counts.warning), counts.warning ? "count-warn" : ""),
    ...dlItem("status_skipped", String(counts.skipped), counts.skipped ? "count-warn" : ""),
    ...dlItem("status_pass", String(counts.pass), "count-ok"),
  );
  // Group by area (the id's prefix); the area with the worst finding comes first, and
  // inside an area failures come first (the core's order).
  const groups = new Map();
  for (const c of view.checks) {
    const area = c.id.split(".")[0];
    if (!groups.has(area)) groups.set(area, []);
    groups.get(area).push(c);
  }
  const worst = (list) => Math.min(...list.map((c) => STATUS_RANK[c.status]));
  const ordered = [...groups.entries()].sort((a, b) =>
    worst(a[1]) - worst(b[1]) || AREAS.indexOf(a[0]) - AREAS.indexOf(b[0]));
  $("checklist-groups").replaceChildren(...ordered.map(([area, list]) => {
    const w = ["fail", "warning", "skipped", "pass"][worst(list)];
    return el("section", { class: "check-group", "aria-label": areaName(area) },
      el("h2", {}, statusBadge(w), " ", areaName(area)),
      el("ul", { class: "checks" }, ...list.map((c) =>
        el("li", { class: "check " + c.status, dataset: { id: c.id, status: c.status } },
          statusBadge(c.status),
          el("div", { class: "check-body" },
            el("div", { class: "check-title" }, checkTitle(c.id)),
            checkSeen(c.id, c.status) ? el("div", { class: "check-seen" }, checkSeen(c.id, c.status)) : "",
            c.status !== "pass" && checkFix(c.id, c.status)
              ? el("div", { class: "check-fix" }, el("strong", {}, t("fix_label") + " "), checkFix(c.id, c.status))
              : "",
            checkDetails(c))))));
  }));
  $("checklist-result").hidden = false;
}

export function wire() {
  // A new list makes the last run's findings stale (the store's `checklist` is reset with it).
  store.on("campaign-opened", () => { $("checklist-result").hidden = true; });
  store.on("campaign-closed", () => { $("checklist-result").hidden = true; });
  $("checklist-run").addEventListener("click", () =>
    busy($("checklist-run"), async () => {
      const bar = $("checklist-progress");
      bar.hidden = false;
      bar.removeAttribute("value"); // indeterminate until the first report
      $("checklist-progress-label").textContent = t("checklist_running");
      showStatus("info", t("checklist_running"));
      try {
        const view = await ipc.runChecklist(({ done, total }) => {
          bar.max = Math.max(total, 1);
          bar.value = done;
          $("checklist-progress-label").textContent = t("checklist_progress", { done, total });
        });
        store.set({ checklist: view });
        bar.max = 1;
        bar.value = 1;
        renderChecklist(view);
        // The bar above follows: a checked campaign (unless it was further along).
        const c = store.state.campaign;
        if (c && ["draft", "changed"].includes(c.stage.stage)) {
          c.stage = { stage: "checked", sent: 0, total: 0, at: new Date().toISOString() };
          renderBar();
        }
        $("checklist-progress-label").textContent = "";
        showStatus(view.passed ? "ok" : "error", view.passed ? t("checklist_passed") : t("checklist_failed"));
      } catch (err) {
        bar.hidden = true;
        $("checklist-progress-label").textContent = "";
        showError(err);
      }
    }));
}

export function rerender() {
  if (store.state.checklist) renderChecklist(store.state.checklist);
}
