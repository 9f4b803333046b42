// The approval screen: the campaign's fingerprint, sample messages and warnings, sent for
// approval by one operator and approved by another with their own PIN.

import * as ipc from "../ipc.js";
import { t, language, checkTitle, checkSeen, errorText } from "../i18n.js";
import { $, el, showStatus, clearStatus, showError, busy, dlItem, destinationBanner, screenShown, showErrorAt, hideErrorAt, checkDetails } from "../dom.js";
import * as store from "../store.js";
import { renderBar } from "../campaign.js";

/** The campaign bar follows what just happened here (submitted, approved). */
function stageNow(stage, at) {
  const c = store.state.campaign;
  if (!c) return;
  c.stage = { stage, sent: 0, total: 0, at };
  renderBar();
}

// The approver pages through the messages themselves (first, last, any other), each
// exactly as it will be sent: headers that matter and the text.
let messageIndex = 0;

async function showMessageAt(index) {
  const total = store.state.review ? store.state.review.recipient_count : 0;
  if (total === 0) return;
  messageIndex = Math.max(0, Math.min(total - 1, index));
  try {
    const view = await ipc.previewMessage(messageIndex);
    $("approval-msg-index").textContent = t("counter", { index: view.index + 1, total: view.total });
    $("approval-message").textContent = view.message
      ? `${t("h_to")}: ${view.message.to}\n${t("h_subject")}: ${view.message.subject}\n` +
        `${t("h_attachments")}: ${view.message.attachments.map((a) => `${a.file_name} (${a.size.toLocaleString()} B)`).join(", ") || t("none")}\n\n${view.message.text}`
      : view.error ? errorText(view.error) : "";
  } catch (_) {
    $("approval-message").textContent = "";
  }
}

function showFirstMessage() {
  return showMessageAt(0);
}

// `keepTicks` only for a re-render of the same screen (a language switch): every other
// time the approver ticks each warning themselves, so the preparer's ticks never carry
// over to the second person.
export async function enter(keepTicks = false) {
  const ticked = keepTicks
    ? new Set([...document.querySelectorAll(".ack-box")].filter((b) => b.checked).map((b) => b.value))
    : new Set();
  const before = store.state.review ? store.state.review.short : null;
  if (!keepTicks) hideErrorAt("approval-error");
  try {
    const r = await ipc.review();
    if (r.short !== before) ticked.clear();
    store.set({ review: r });
    $("approval-empty").hidden = true;
    $("approval-body").hidden = false;
    destinationBanner($("approval-destination"), r);
    $("approval-summary").replaceChildren(
      ...dlItem("fingerprint", r.short, "mono fingerprint"),
      ...dlItem("s_recipients", String(r.recipient_count)),
      ...dlItem("status_warning", String(r.warnings.length), r.warnings.length ? "count-warn" : ""),
      ...dlItem("status_fail", String(r.failures.length), r.failures.length ? "count-fail" : "count-ok"),
    );
    $("approval-submitted").textContent = r.approved
      ? t("approval_already", { name: r.approved.approver, until: new Date(r.approved.expires_at).toLocaleString(language()) })
      : r.submitted_by ? t("approval_submitted_by", { name: r.submitted_by }) : t("approval_not_submitted");
    $("approval-samples").tBodies[0].replaceChildren(...r.samples.map((m) =>
      el("tr", {}, el("td", { class: "num" }, m.row), el("td", { class: "mono" }, m.to), el("td", {}, m.subject))));
    $("approval-no-warnings").hidden = r.warnings.length > 0;
    $("approval-warnings").replaceChildren(...r.warnings.map((c, i) =>
      el("div", { class: "ack" },
        el("input", Object.assign({ type: "checkbox", id: "ack-" + i, value: c.id, class: "ack-box" },
          ticked.has(c.id) ? { checked: "" } : {})),
        el("label", { for: "ack-" + i },
          el("strong", {}, checkTitle(c.id)),
          checkSeen(c.id, c.status) ? el("span", { class: "check-seen" }, checkSeen(c.id, c.status)) : ""),
        checkDetails(c))));
    $("approval-result").hidden = true;
    showFirstMessage();
  } catch (err) {
    $("approval-empty").hidden = false;
    $("approval-body").hidden = true;
    // A missing step (no campaign, no checklist run) is said in the empty state itself.
    if (err.code === "not_ready") $("approval-empty").textContent = errorText(err);
    else showError(err);
  }
}

export function wire() {
  $("approval-msg-first").addEventListener("click", () => showMessageAt(0));
  $("approval-msg-prev").addEventListener("click", () => showMessageAt(messageIndex - 1));
  $("approval-msg-next").addEventListener("click", () => showMessageAt(messageIndex + 1));
  $("approval-msg-last").addEventListener("click", () => showMessageAt(Number.MAX_SAFE_INTEGER));
  $("approval-msg-random").addEventListener("click", () =>
    showMessageAt(Math.floor(Math.random() * (store.state.review ? store.state.review.recipient_count : 1))));
  $("approval-search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const query = $("approval-search").value.trim();
    const none = $("approval-search-none");
    none.hidden = true;
    if (!query) return;
    try {
      const found = await ipc.findMessage(query);
      if (found === null || found === undefined) {
        none.textContent = t("not_found", { query });
        none.hidden = false;
      } else {
        showMessageAt(found);
      }
    } catch (err) {
      showErrorAt("approval-error", err);
    }
  });
  $("approval-submit").addEventListener("click", () =>
    busy($("approval-submit"), async () => {
      try {
        const sub = await ipc.submitForApproval();
        await enter();
        stageNow("submitted", new Date().toISOString());
        showStatus("ok", t("approval_submitted_ok", { short: sub.short }));
      } catch (err) {
        showErrorAt("approval-error", err);
      }
    }));
  $("approval-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("approval-approve"), async () => {
      hideErrorAt("approval-error");
      for (const a of document.querySelectorAll(".ack")) a.classList.remove("needs-tick");
      const acknowledged = [...document.querySelectorAll(".ack-box")].filter((b) => b.checked).map((b) => b.value);
      const pin = $("approval-pin").value;
      $("approval-pin").value = "";
      try {
        const a = await ipc.approve($("approval-name").value.trim(), pin, acknowledged);
        const box = $("approval-result");
        box.replaceChildren(el("span", { class: "status-text" }, t("approval_granted", { name: a.approver, until: new Date(a.expires_at).toLocaleString(language()) })));
        box.hidden = false;
        box.scrollIntoView({ block: "nearest" });
        clearStatus();
        stageNow("approved", a.granted_at);
        for (const b of document.querySelectorAll(".ack-box")) b.disabled = true;
      } catch (err) {
        $("approval-result").hidden = true;
        // Point at what is missing: every warning not ticked.
        if (err.reason && err.reason.key === "unacknowledged") {
          for (const b of document.querySelectorAll(".ack-box")) {
            if (!b.checked) b.closest(".ack").classList.add("needs-tick");
          }
        }
        showErrorAt("approval-error", err);
      }
    });
  });
}

export function rerender() {
  if (screenShown("approval")) enter(true);
}
