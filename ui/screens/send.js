// The send screen: where the approved messages go, start/pause/resume/cancel with live
// progress, the per-recipient report (and its export), and the relay password.

import * as ipc from "../ipc.js";
import { t, errorText } from "../i18n.js";
import { $, el, showStatus, showError, dlItem, destinationBanner } from "../dom.js";
import * as store from "../store.js";
import { renderBar } from "../campaign.js";

function renderStats(p) {
  $("send-stats").replaceChildren(
    ...dlItem("stat_sent", String(p.sent), "count-ok"),
    ...dlItem("stat_failed", String(p.failed), p.failed ? "count-fail" : ""),
    ...dlItem("stat_remaining", String(p.remaining)),
    ...dlItem("stat_rate", t("rate_value", { rate: (p.rate_per_sec || 0).toFixed(1) })),
    ...dlItem("stat_eta", p.eta_secs == null ? "—" : t("eta_value", { secs: p.eta_secs })),
    ...dlItem("stat_unknown", String(p.unknown || 0), p.unknown ? "count-warn" : ""),
  );
  const total = p.sent + p.failed + p.remaining + (p.unknown || 0) + (p.deferred || 0);
  $("send-progress").max = Math.max(total, 1);
  $("send-progress").value = p.sent + p.failed + (p.unknown || 0);
}

let remaining = 0; // people the next Start would send to
let lastReview = null;

function setSending(running, paused = false) {
  $("send-confirm").hidden = true;
  // Nothing left to send: Start stays off (a finished campaign is not sent again).
  $("send-start").disabled = running || remaining === 0;
  $("send-rate").disabled = running;
  $("send-pause").disabled = !running || paused;
  $("send-resume").disabled = !running || !paused;
  $("send-cancel").disabled = !running;
}

async function loadReport() {
  try {
    const rows = await ipc.sendReport();
    remaining = rows.length === 0 && lastReview
      ? lastReview.recipient_count
      : rows.filter((r) => r.state === "queued" || r.state === "deferred").length;
    if (!store.state.sending) setSending(false);
    $("send-unknown").hidden = !rows.some((r) => r.state === "unknown");
    $("send-report").tBodies[0].replaceChildren(...rows.map((r) =>
      el("tr", { dataset: { state: r.state } },
        el("td", { class: "num" }, r.row), el("td", { class: "mono" }, r.email),
        el("td", { class: "state" }, t("state_" + r.state)),
        el("td", { class: "reply" }, [r.reply_code, r.reply_text].filter((x) => x !== null && x !== undefined && x !== "").join(" ")))));
  } catch (err) {
    showError(err);
  }
}

export async function enter() {
  try {
    const r = await ipc.review();
    lastReview = r;
    $("send-empty").hidden = true;
    $("send-body").hidden = false;
    destinationBanner($("send-destination"), r);
    const { operator, sending } = store.state;
    $("send-password-form").hidden = r.outbox || !(operator && operator.roles.includes("admin"));
    if (!sending) setSending(false);
    await loadReport();
  } catch (err) {
    $("send-empty").hidden = false;
    $("send-body").hidden = true;
    if (err.code === "not_ready" || err.code === "not_approved") $("send-empty").textContent = errorText(err);
    else showError(err);
  }
}

export function wire() {
  // Start asks once more, with the number of people and where the messages go.
  $("send-start").addEventListener("click", () => {
    const r = lastReview;
    $("send-confirm-text").textContent = r && r.outbox
      ? t("send_confirm_outbox", { count: remaining })
      : t("send_confirm", { count: remaining, relay: r ? r.destination : "" });
    $("send-confirm").hidden = false;
    $("send-confirm-yes").focus();
  });
  $("send-confirm-no").addEventListener("click", () => { $("send-confirm").hidden = true; });
  $("send-confirm-yes").addEventListener("click", async () => {
    $("send-confirm").hidden = true;
    store.set({ sending: true });
    setSending(true);
    showStatus("info", t("send_running"));
    try {
      await ipc.startSend($("send-rate").value, (e) => {
        if (e.event === "progress") renderStats(e);
        if (e.event === "finished") {
          store.set({ sending: false });
          setSending(false);
          const c = e.summary.counts;
          showStatus(c.failed || c.unknown ? "warn" : "ok",
            t(e.summary.finish === "cancelled" ? "send_cancelled" : "send_done", { sent: c.sent, failed: c.failed }));
          loadReport();
          // The bar above says what was sent, as the campaign list does.
          const campaign = store.state.campaign;
          if (campaign) {
            const total = c.sent + c.failed + (c.unknown || 0) + (c.queued || 0) + (c.deferred || 0) + (c.sending || 0);
            const open = (c.unknown || 0) + (c.queued || 0) + (c.deferred || 0) + (c.sending || 0);
            campaign.stage = { stage: open ? "sending" : "sent", sent: c.sent, total, at: new Date().toISOString() };
            renderBar();
          }
        }
        if (e.event === "stopped") {
          store.set({ sending: false });
          setSending(false);
          showError(e.error);
          loadReport();
        }
      });
    } catch (err) {
      store.set({ sending: false });
      setSending(false);
      showError(err);
    }
  });
  const control = (action, paused) => async () => {
    try {
      await ipc.controlSend(action);
      setSending(action !== "cancel", paused);
      showStatus("info", t("send_" + action + "_sent"));
    } catch (err) {
      showError(err);
    }
  };
  $("send-pause").addEventListener("click", control("pause", true));
  $("send-resume").addEventListener("click", control("resume", false));
  $("send-cancel").addEventListener("click", control("cancel", false));
  $("send-password-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const password = $("send-password").value;
    $("send-password").value = "";
    try {
      await ipc.saveRelayPassword(password);
      showStatus("ok", t("password_saved"));
    } catch (err) {
      showError(err);
    }
  });
  $("send-unknown-confirm").addEventListener("change", (e) => {
    $("send-unknown-requeue").disabled = !e.target.checked;
  });
  $("send-unknown-requeue").addEventListener("click", async () => {
    try {
      const n = await ipc.requeueUnknown();
      $("send-unknown-confirm").checked = false;
      $("send-unknown-requeue").disabled = true;
      showStatus("ok", t("requeued", { count: n }));
      loadReport();
    } catch (err) {
      showError(err);
    }
  });
  $("send-export-browse").addEventListener("click", async () => {
    try {
      const p = await ipc.chooseSavePath(t("export_csv"), "report.csv", "csv");
      if (p) $("send-export-path").value = p;
    } catch (err) {
      showError(err);
    }
  });
  $("send-export").addEventListener("click", async () => {
    const path = $("send-export-path").value.trim();
    if (!path) { showStatus("error", t("export_path_missing")); $("send-export-path").focus(); return; }
    try {
      const n = await ipc.exportSendReport(path);
      showStatus("ok", t("exported", { count: n, path }));
    } catch (err) {
      showError(err);
    }
  });
}
