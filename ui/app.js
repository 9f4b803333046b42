// Screens and their wiring. All data comes from the Rust side through ipc.js; this file
// only shows it. The rules (addressing, escaping, strict merge) live in the core.

import * as ipc from "./ipc.js";
import { t, errorText, reasonText, setLanguage, language } from "./i18n.js";

const PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);

const state = {
  summary: null, // the last import summary
  pageOffset: 0,
  hasDraft: false,
  previewIndex: 0,
  previewTotal: 0,
  lastTextTarget: null, // the compose field a merge-field chip inserts into
};

// ---------- small helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function showStatus(kind, text, detail) {
  const box = $("status");
  box.className = "status " + kind;
  box.replaceChildren(el("span", { class: "status-text" }, text));
  if (detail) box.append(el("span", { class: "status-detail" }, detail));
  box.hidden = false;
}

function clearStatus() {
  $("status").hidden = true;
}

function showError(error) {
  // The translated sentence first, the core's specific words (file, row, field) after.
  showStatus("error", errorText(error), error && error.message ? error.message : "");
}

async function busy(button, work) {
  button.disabled = true;
  document.body.classList.add("busy");
  try {
    return await work();
  } finally {
    button.disabled = false;
    document.body.classList.remove("busy");
  }
}

// ---------- navigation ----------

const SCREENS = ["recipients", "compose", "preview"];

function showScreen(name) {
  for (const s of SCREENS) {
    $("screen-" + s).hidden = s !== name;
    const nav = $("nav-" + s);
    if (s === name) nav.setAttribute("aria-current", "page");
    else nav.removeAttribute("aria-current");
  }
  clearStatus();
  if (name === "preview") enterPreview();
  const heading = $("screen-" + name).querySelector("h1");
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

function wireNavigation() {
  const items = [...document.querySelectorAll(".nav-item")];
  items.forEach((item, i) => {
    item.addEventListener("click", () => showScreen(item.dataset.screen));
    item.addEventListener("keydown", (e) => {
      // Arrow keys move between screens, as in any vertical tab list.
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
        next.focus();
      }
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.altKey && ["1", "2", "3"].includes(e.key)) {
      e.preventDefault();
      showScreen(SCREENS[Number(e.key) - 1]);
    }
  });
}

// ---------- recipients ----------

function delimiterName(d) {
  return d === "\t" ? t("delim_name_tab") : `“${d}”`;
}

function renderSummary(summary) {
  const dl = $("recipients-summary");
  const item = (label, value, cls = "") =>
    [el("dt", {}, t(label)), el("dd", cls ? { class: cls } : {}, value)];
  dl.replaceChildren(
    ...item("s_file", summary.path, "mono"),
    ...item("s_encoding", summary.encoding),
    ...item("s_delimiter", delimiterName(summary.delimiter)),
    ...item("s_email_column", summary.email_column),
    ...item("s_recipients", String(summary.recipient_count), "count-ok"),
    ...item("s_rejected", String(summary.rejected_count), summary.rejected_count ? "count-warn" : ""),
  );
}

function renderRecipientRows(fields, emailColumn, recipients) {
  const table = $("recipients-table");
  const headRow = el("tr", {}, el("th", { scope: "col" }, t("col_row")), el("th", { scope: "col" }, t("col_email")));
  const shown = fields.map((f, i) => [f, i]).filter(([f]) => f !== emailColumn);
  for (const [f] of shown) headRow.append(el("th", { scope: "col" }, f));
  table.tHead.replaceChildren(headRow);
  table.tBodies[0].replaceChildren(
    ...recipients.map((r) =>
      el("tr", {}, el("td", { class: "num" }, r.row), el("td", { class: "mono" }, r.email),
        ...shown.map(([, i]) => el("td", {}, r.values[i] ?? ""))),
    ),
  );
}

function renderPager(offset, total) {
  $("recipients-page-info").textContent = total
    ? t("page_info", { from: offset + 1, to: Math.min(offset + PAGE_SIZE, total), total })
    : "";
  $("recipients-prev-page").disabled = offset === 0;
  $("recipients-next-page").disabled = offset + PAGE_SIZE >= total;
}

function renderRejected(rejected) {
  $("rejected-none").hidden = rejected.length > 0;
  $("rejected-wrap").hidden = rejected.length === 0;
  $("rejected-table").tBodies[0].replaceChildren(
    ...rejected.map((r) =>
      el("tr", { dataset: { reason: r.reason } },
        el("td", { class: "num" }, r.row),
        el("td", { class: "reason" }, reasonText(r.reason)),
        el("td", {}, r.detail)),
    ),
  );
}

function renderChips(fields) {
  const box = $("compose-fields");
  box.replaceChildren(
    ...fields.map((f) =>
      el("button", { type: "button", class: "chip", dataset: { field: f }, onclick: () => insertField(f) }, `{{ ${f} }}`),
    ),
  );
  $("compose-fields-empty").hidden = fields.length > 0;
}

function applySummary(summary) {
  state.summary = summary;
  state.pageOffset = 0;
  state.previewIndex = 0;
  renderSummary(summary);
  renderRecipientRows(summary.fields, summary.email_column, summary.recipients.slice(0, PAGE_SIZE));
  renderPager(0, summary.recipient_count);
  renderRejected(summary.rejected);
  renderChips(summary.fields);
  $("recipients-result").hidden = false;
}

async function showPage(offset) {
  try {
    const page = await ipc.recipientsPage(offset, PAGE_SIZE);
    state.pageOffset = page.offset;
    renderRecipientRows(state.summary.fields, state.summary.email_column, page.recipients);
    renderPager(page.offset, page.total);
  } catch (e) {
    showError(e);
  }
}

function fillDraft(draft) {
  $("compose-from-name").value = draft.from_name || "";
  $("compose-from-address").value = draft.from_address || "";
  $("compose-reply-to").value = draft.reply_to || "";
  $("compose-subject").value = draft.subject || "";
  $("compose-text").value = draft.text || "";
  $("compose-html").value = draft.html || "";
  const names = draft.attachments || [];
  $("compose-attachments").hidden = names.length === 0;
  $("compose-attachments").textContent = t("attachments_from_campaign", { names: names.join(", ") });
  state.hasDraft = true;
}

async function loadPath(path) {
  if (!path) {
    showStatus("error", t("path_missing"));
    $("recipients-path").focus();
    return;
  }
  showStatus("info", t("loading"));
  try {
    if (path.toLowerCase().endsWith(".toml")) {
      const opened = await ipc.openCampaign(path);
      applySummary(opened.summary);
      fillDraft(opened.draft);
      showStatus("ok", t("loaded_campaign", { recipients: opened.summary.recipient_count, rejected: opened.summary.rejected_count }));
    } else {
      const summary = await ipc.importRecipients(path, {
        encoding: $("recipients-encoding").value,
        delimiter: $("recipients-delimiter").value,
        emailColumn: $("recipients-email-column").value.trim() || null,
      });
      applySummary(summary);
      showStatus(summary.rejected_count ? "warn" : "ok",
        t("loaded", { recipients: summary.recipient_count, rejected: summary.rejected_count }));
    }
  } catch (e) {
    showError(e);
  }
}

function wireRecipients() {
  $("recipients-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("recipients-load"), () => loadPath($("recipients-path").value.trim()));
  });
  $("recipients-browse").addEventListener("click", () =>
    busy($("recipients-browse"), async () => {
      try {
        const chosen = await ipc.chooseFile(t("dialog_title"), t("dialog_filter_lists"));
        if (chosen) {
          $("recipients-path").value = chosen;
          await loadPath(chosen);
        }
      } catch (e) {
        showError(e);
      }
    }));
  $("recipients-example").addEventListener("click", () =>
    busy($("recipients-example"), async () => {
      try {
        const path = await ipc.exampleCampaignPath();
        if (!path) {
          showStatus("error", t("no_example"));
          return;
        }
        $("recipients-path").value = path;
        await loadPath(path);
      } catch (e) {
        showError(e);
      }
    }));
  $("recipients-prev-page").addEventListener("click", () => showPage(Math.max(0, state.pageOffset - PAGE_SIZE)));
  $("recipients-next-page").addEventListener("click", () => showPage(state.pageOffset + PAGE_SIZE));
}

// ---------- compose ----------

function insertField(field) {
  const target = state.lastTextTarget || $("compose-text");
  const token = `{{ ${field} }}`;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? target.value.length;
  target.setRangeText(token, start, end, "end");
  target.focus();
}

function wireCompose() {
  for (const id of ["compose-subject", "compose-text", "compose-html"]) {
    $(id).addEventListener("focus", () => { state.lastTextTarget = $(id); });
  }
  $("compose-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("compose-apply"), async () => {
      try {
        const saved = await ipc.updateDraft({
          from_name: $("compose-from-name").value,
          from_address: $("compose-from-address").value,
          reply_to: $("compose-reply-to").value || null,
          subject: $("compose-subject").value,
          text: $("compose-text").value,
          html: $("compose-html").value || null,
        });
        fillDraft(saved);
        state.previewIndex = 0;
        showStatus("ok", t("applied"));
      } catch (err) {
        showError(err);
      }
    });
  });
}

// ---------- preview ----------

// The HTML part runs in a frame with `sandbox=""` (no scripts, a unique origin) and its
// own CSP, so neither scripts nor remote images or styles can load.
const FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function frameDocument(html) {
  return `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}">` +
    `</head><body>${html}</body></html>`;
}

function enterPreview() {
  const ready = state.summary && state.summary.recipient_count > 0 && state.hasDraft;
  $("preview-empty").hidden = ready;
  $("preview-body").hidden = !ready;
  if (ready) showMessage(Math.min(state.previewIndex, state.summary.recipient_count - 1));
}

// Each request gets a ticket; only the newest answer is shown. Without this, two quick
// clicks on "next" both started from the same index and the preview stopped one short.
let previewTicket = 0;

async function showMessage(index) {
  state.previewIndex = index;
  const ticket = ++previewTicket;
  try {
    const view = await ipc.previewMessage(index);
    if (ticket !== previewTicket) return;
    state.previewIndex = view.index;
    state.previewTotal = view.total;
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
        el("span", { class: "status-detail" }, view.error.message),
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
    frame.srcdoc = m.html ? frameDocument(m.html) : "";
    $("preview-raw").textContent = m.raw;
    $("preview-message").hidden = false;
  } catch (e) {
    showError(e);
  }
}

function wirePreview() {
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

// ---------- start ----------

function wireLanguage() {
  const select = $("language");
  select.value = language();
  select.addEventListener("change", () => {
    setLanguage(select.value, true);
    // Re-render what was built from strings, not from data-i18n attributes.
    if (state.summary) {
      renderSummary(state.summary);
      renderRejected(state.summary.rejected);
      showPage(state.pageOffset);
    }
    if (!$("screen-preview").hidden) enterPreview();
    clearStatus();
  });
}

wireNavigation();
wireRecipients();
wireCompose();
wirePreview();
wireLanguage();
document.body.dataset.ready = "true";
