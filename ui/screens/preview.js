// The preview screen: each recipient's message exactly as it will be sent (headers, text,
// HTML, raw source), with paging, jump, search, and a test send of the message shown.

import * as ipc from "../ipc.js";
import { t, errorText } from "../i18n.js";
import { $, el, showStatus, clearStatus, showError, busy, screenShown, errorDetail, showErrorAt, hideErrorAt } from "../dom.js";
import * as store from "../store.js";

// The HTML part runs in a frame with `sandbox=""` (no scripts, a unique origin) and its
// own CSP, so neither scripts nor remote images or styles can load (tests/config.rs
// checks these lines).
const FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function frameDocument(html) {
  return `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}">` +
    `</head><body>${html}</body></html>`;
}

function fillHtmlFrame(frame, m) {
  frame.srcdoc = m.html ? frameDocument(m.html) : "";
}

export function enter() {
  const { summary, hasDraft, previewIndex } = store.state;
  const ready = summary && summary.recipient_count > 0 && hasDraft;
  $("preview-empty").hidden = ready;
  $("preview-body").hidden = !ready;
  if (ready) showMessage(Math.min(previewIndex, summary.recipient_count - 1));
}

// Each request gets a ticket; only the newest answer is shown. Without this, two quick
// clicks on "next" both started from the same index and the preview stopped one short.
let previewTicket = 0;

async function showMessage(index) {
  store.set({ previewIndex: index });
  const ticket = ++previewTicket;
  try {
    const view = await ipc.previewMessage(index);
    if (ticket !== previewTicket) return;
    store.set({ previewIndex: view.index, previewTotal: view.total });
    const counter = $("preview-index");
    counter.textContent = t("counter", { index: view.index + 1, total: view.total });
    counter.dataset.index = String(view.index + 1);
    counter.dataset.total = String(view.total);
    $("preview-first").disabled = $("preview-prev").disabled = view.index === 0;
    $("preview-next").disabled = $("preview-last").disabled = view.index + 1 >= view.total;
    $("preview-jump").max = String(view.total);

    const errorBox = $("preview-error");
    if (view.error) {
      errorBox.replaceChildren(
        el("strong", {}, t("render_failed", { row: view.row, email: view.email })),
        el("span", {}, " " + errorText(view.error)),
        errorDetail(view.error),
      );
      errorBox.hidden = false;
      $("preview-message").hidden = true;
      return;
    }
    errorBox.hidden = true;
    const m = view.message;
    $("preview-row").textContent = String(m.row);
    $("preview-to").textContent = m.to;
    $("preview-subject").textContent = m.subject;
    $("preview-attachments").textContent = m.attachments.length
      ? m.attachments.map((a) => `${a.file_name} (${a.content_type}, ${a.size.toLocaleString()} B)`).join(", ")
      : t("none");
    $("preview-text").textContent = m.text;
    const frame = $("preview-html");
    frame.hidden = !m.html;
    $("preview-no-html").hidden = !!m.html;
    fillHtmlFrame(frame, m);
    $("preview-raw").textContent = m.raw;
    $("preview-message").hidden = false;
  } catch (e) {
    showError(e);
  }
}

export function wire() {
  $("test-send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("test-send-go"), async () => {
      hideErrorAt("test-send-error");
      try {
        const row = Number($("preview-row").textContent);
        const sent = await ipc.testSend(row, $("test-send-to").value.trim());
        showStatus("ok", t("test_send_done", { row: sent.row, to: sent.to, reply: sent.reply }));
      } catch (err) {
        showErrorAt("test-send-error", err);
      }
    });
  });
  const { state } = store;
  $("preview-first").addEventListener("click", () => showMessage(0));
  $("preview-prev").addEventListener("click", () => showMessage(Math.max(0, state.previewIndex - 1)));
  $("preview-next").addEventListener("click", () => showMessage(Math.min(state.previewTotal - 1, state.previewIndex + 1)));
  $("preview-last").addEventListener("click", () => showMessage(state.previewTotal - 1));
  $("preview-jump-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const n = Number($("preview-jump").value);
    if (!Number.isInteger(n) || n < 1 || n > state.previewTotal) {
      showStatus("error", t("jump_invalid", { total: state.previewTotal }));
      return;
    }
    clearStatus();
    showMessage(n - 1);
  });
  $("preview-search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const query = $("preview-search").value.trim();
    if (!query) return;
    try {
      const found = await ipc.findMessage(query);
      if (found === null || found === undefined) {
        showStatus("warn", t("not_found", { query }));
      } else {
        clearStatus();
        showMessage(found);
      }
    } catch (err) {
      showError(err);
    }
  });
}

export function rerender() {
  if (screenShown("preview")) enter();
}
