// Screens and their wiring. All data comes from the Rust side through ipc.js; this file
// only shows it. The rules (addressing, escaping, strict merge) live in the core.

import * as ipc from "./ipc.js";
import { t, errorText, reasonText, setLanguage, language, checkTitle, checkFix, checkSeen, areaName, kindName, roleName } from "./i18n.js";

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

const SCREENS = ["recipients", "compose", "preview", "checklist", "approval", "send", "log", "suppression", "operators"];

function showScreen(name) {
  for (const s of SCREENS) {
    $("screen-" + s).hidden = s !== name;
    const nav = $("nav-" + s);
    if (s === name) nav.setAttribute("aria-current", "page");
    else nav.removeAttribute("aria-current");
  }
  clearStatus();
  if (name === "preview") enterPreview();
  if (name === "approval") enterApproval();
  if (name === "send") enterSend();
  if (name === "log") loadLog();
  if (name === "operators") { loadOperators(); loadSettings(); }
  if (name === "suppression") loadSuppression();
  const heading = $("screen-" + name).querySelector("h1");
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

function wireNavigation() {
  const all = [...document.querySelectorAll(".nav-item")];
  all.forEach((item) => {
    item.addEventListener("click", () => showScreen(item.dataset.screen));
    item.addEventListener("keydown", (e) => {
      // Arrow keys move between screens, as in any vertical tab list.
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const items = all.filter((x) => !x.hidden);
        const i = items.indexOf(item);
        const next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
        next.focus();
      }
    });
  });
  document.addEventListener("keydown", (e) => {
    const n = Number(e.key);
    if (e.altKey && n >= 1 && n <= SCREENS.length && !$("nav-" + SCREENS[n - 1]).hidden) {
      e.preventDefault();
      showScreen(SCREENS[n - 1]);
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
  state.checklist = null;
  $("checklist-result").hidden = true;
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
  $("test-send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("test-send-go"), async () => {
      try {
        const row = Number($("preview-row").textContent);
        const sent = await ipc.testSend(row, $("test-send-to").value.trim());
        showStatus("ok", t("test_send_done", { row: sent.row, to: sent.to, reply: sent.reply }));
      } catch (err) {
        showError(err);
      }
    });
  });
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


// ---------- sign-in, lock, first run ----------

let gateMode = "sign_in"; // "first_admin" | "sign_in" | "locked"

function showGate(mode, lockedName) {
  gateMode = mode;
  const first = mode === "first_admin";
  $("gate-title").textContent = t(first ? "gate_first_title" : mode === "locked" ? "gate_locked_title" : "gate_sign_in");
  $("gate-lead").textContent = first ? t("gate_first_lead")
    : mode === "locked" ? t("gate_locked_lead", { name: lockedName || "" }) : t("gate_sign_in_lead");
  $("gate-pin-again-field").hidden = !first;
  $("gate-hint").hidden = !first;
  $("gate-submit").textContent = t(first ? "gate_create" : "gate_sign_in");
  $("gate-error").hidden = true;
  $("gate-pin").value = "";
  $("gate-pin-again").value = "";
  if (mode === "locked" && lockedName) $("gate-name").value = lockedName;
  $("gate").hidden = false;
  document.body.classList.add("gated");
  $("whoami").hidden = $("sign-out").hidden = true;
  ($("gate-name").value ? $("gate-pin") : $("gate-name")).focus();
}

function signedIn(operator) {
  state.operator = operator;
  $("gate").hidden = true;
  document.body.classList.remove("gated");
  $("whoami").textContent = t("signed_in_as", { name: operator.name });
  $("whoami").hidden = $("sign-out").hidden = false;
  $("nav-operators").hidden = !operator.roles.includes("admin");
  $("gate-pin").value = "";
  $("gate-pin-again").value = "";
  const current = SCREENS.find((s) => !$("screen-" + s).hidden) || "recipients";
  showScreen($("nav-" + current).hidden ? "recipients" : current);
}

function wireGate() {
  $("gate-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("gate-submit"), async () => {
      const name = $("gate-name").value.trim();
      const pin = $("gate-pin").value;
      try {
        const op = gateMode === "first_admin"
          ? await ipc.createFirstAdmin(name, pin, $("gate-pin-again").value)
          : await ipc.signIn(name, pin);
        signedIn(op);
      } catch (err) {
        $("gate-pin").value = "";
        $("gate-error").replaceChildren(el("strong", {}, errorText(err)), el("span", { class: "status-detail" }, err.message || ""));
        $("gate-error").hidden = false;
        $("gate-pin").focus();
      }
    });
  });
  $("sign-out").addEventListener("click", async () => {
    try { await ipc.signOut(); } catch (_) { /* signed out either way */ }
    $("gate-name").value = "";
    showGate("sign_in");
  });
  window.addEventListener("mergeguard:locked", (e) => {
    const locked = e.detail && e.detail.code === "locked";
    showGate(locked ? "locked" : "sign_in", locked && state.operator ? state.operator.name : "");
  });
}

async function startGate() {
  try {
    const status = await ipc.appStatus();
    if (status.signed_in) signedIn(status.signed_in);
    else showGate(status.needs_first_admin ? "first_admin" : status.locked_name ? "locked" : "sign_in", status.locked_name);
  } catch (err) {
    showGate("sign_in");
    $("gate-error").replaceChildren(el("strong", {}, errorText(err)), el("span", { class: "status-detail" }, err.message || ""));
    $("gate-error").hidden = false;
  }
}

// ---------- pre-flight checklist ----------

const AREAS = ["addressing", "attachments", "merge", "content", "spf", "dkim", "dmarc", "tls", "dns", "bulk", "outbox"];
const STATUS_RANK = { fail: 0, warning: 1, skipped: 2, pass: 3 };

function statusBadge(status) {
  return el("span", { class: "badge " + status }, t("status_" + status));
}

function destinationBanner(box, view) {
  box.className = "destination " + (view.outbox ? "outbox" : "relay");
  box.replaceChildren(
    el("strong", {}, view.outbox ? t("outbox_label") : t("relay_label")),
    el("span", { class: "mono" }, view.outbox && view.outbox_folder ? view.outbox_folder : view.destination),
  );
}

function renderChecklist(view) {
  destinationBanner($("checklist-destination"), view);
  const counts = { fail: 0, warning: 0, skipped: 0, pass: 0 };
  for (const c of view.checks) counts[c.status] += 1;
  const dl = $("checklist-summary");
  const item = (label, value, cls = "") => [el("dt", {}, t(label)), el("dd", cls ? { class: cls } : {}, value)];
  dl.replaceChildren(
    ...item("fingerprint", view.short, "mono"),
    ...item("s_recipients", String(view.recipient_count)),
    ...item("status_fail", String(counts.fail), counts.fail ? "count-fail" : "count-ok"),
    ...item("status_warning", String(counts.warning), counts.warning ? "count-warn" : ""),
    ...item("status_skipped", String(counts.skipped), counts.skipped ? "count-warn" : ""),
    ...item("status_pass", String(counts.pass), "count-ok"),
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
            el("div", { class: "check-title" }, checkTitle(c.id), el("span", { class: "check-id mono" }, c.id)),
            checkSeen(c.id, c.status) ? el("div", { class: "check-seen" }, checkSeen(c.id, c.status)) : "",
            el("div", { class: "check-detail" },
              checkSeen(c.id, c.status) ? el("span", { class: "check-detail-label" }, t("detail_label") + " ") : "",
              c.detail),
            c.status !== "pass" && (c.fix || checkFix(c.id))
              ? el("div", { class: "check-fix" }, el("strong", {}, t("fix_label") + " "),
                // A skipped check's fix says what to give so it can run, not how to repair it.
                c.status === "skipped" ? c.fix : checkFix(c.id) || c.fix)
              : "")))));
  }));
  $("checklist-result").hidden = false;
}

function wireChecklist() {
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
        state.checklist = view;
        bar.max = 1;
        bar.value = 1;
        renderChecklist(view);
        $("checklist-progress-label").textContent = "";
        showStatus(view.passed ? "ok" : "error", view.passed ? t("checklist_passed") : t("checklist_failed"));
      } catch (err) {
        bar.hidden = true;
        $("checklist-progress-label").textContent = "";
        showError(err);
      }
    }));
}

// ---------- approval ----------

async function enterApproval() {
  // Ticks survive a re-render (e.g. a language switch) for the same warnings.
  // Only for the same fingerprint: a changed campaign must be acknowledged afresh.
  const ticked = new Set([...document.querySelectorAll(".ack-box")].filter((b) => b.checked).map((b) => b.value));
  const before = state.review ? state.review.short : null;
  try {
    const r = await ipc.review();
    if (r.short !== before) ticked.clear();
    state.review = r;
    $("approval-empty").hidden = true;
    $("approval-body").hidden = false;
    destinationBanner($("approval-destination"), r);
    const item = (label, value, cls = "") => [el("dt", {}, t(label)), el("dd", cls ? { class: cls } : {}, value)];
    $("approval-summary").replaceChildren(
      ...item("fingerprint", r.short, "mono fingerprint"),
      ...item("s_recipients", String(r.recipient_count)),
      ...item("status_warning", String(r.warnings.length), r.warnings.length ? "count-warn" : ""),
      ...item("status_fail", String(r.failures.length), r.failures.length ? "count-fail" : "count-ok"),
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
          el("strong", {}, checkTitle(c.id)), " ", el("span", { class: "check-id mono" }, c.id),
          checkSeen(c.id, c.status) ? el("span", { class: "check-seen" }, checkSeen(c.id, c.status)) : "",
          el("span", { class: "check-detail" }, c.detail)))));
    $("approval-result").hidden = true;
  } catch (err) {
    $("approval-empty").hidden = false;
    $("approval-body").hidden = true;
    if (err.code !== "not_approved") showError(err);
  }
}

function wireApproval() {
  $("approval-submit").addEventListener("click", () =>
    busy($("approval-submit"), async () => {
      try {
        const sub = await ipc.submitForApproval();
        await enterApproval();
        showStatus("ok", t("approval_submitted_ok", { short: sub.short }));
      } catch (err) {
        showError(err);
      }
    }));
  $("approval-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("approval-approve"), async () => {
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
      } catch (err) {
        $("approval-result").hidden = true;
        showError(err);
      }
    });
  });
}

// ---------- send ----------

function renderStats(p) {
  const item = (label, value, cls = "") => [el("dt", {}, t(label)), el("dd", cls ? { class: cls } : {}, value)];
  $("send-stats").replaceChildren(
    ...item("stat_sent", String(p.sent), "count-ok"),
    ...item("stat_failed", String(p.failed), p.failed ? "count-fail" : ""),
    ...item("stat_remaining", String(p.remaining)),
    ...item("stat_rate", t("rate_value", { rate: (p.rate_per_sec || 0).toFixed(1) })),
    ...item("stat_eta", p.eta_secs == null ? "—" : t("eta_value", { secs: p.eta_secs })),
    ...item("stat_unknown", String(p.unknown || 0), p.unknown ? "count-warn" : ""),
  );
  const total = p.sent + p.failed + p.remaining + (p.unknown || 0) + (p.deferred || 0);
  $("send-progress").max = Math.max(total, 1);
  $("send-progress").value = p.sent + p.failed + (p.unknown || 0);
}

function setSending(running, paused = false) {
  $("send-start").disabled = running;
  $("send-rate").disabled = running;
  $("send-pause").disabled = !running || paused;
  $("send-resume").disabled = !running || !paused;
  $("send-cancel").disabled = !running;
}

async function loadReport() {
  try {
    const rows = await ipc.sendReport();
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

async function enterSend() {
  try {
    const r = await ipc.review();
    $("send-empty").hidden = true;
    $("send-body").hidden = false;
    destinationBanner($("send-destination"), r);
    $("send-password-form").hidden = r.outbox || !(state.operator && state.operator.roles.includes("admin"));
    if (!state.sending) setSending(false);
    await loadReport();
  } catch (err) {
    $("send-empty").hidden = false;
    $("send-body").hidden = true;
    if (err.code !== "not_approved") showError(err);
  }
}

function wireSend() {
  $("send-start").addEventListener("click", async () => {
    state.sending = true;
    setSending(true);
    showStatus("info", t("send_running"));
    try {
      await ipc.startSend($("send-rate").value, (e) => {
        if (e.event === "progress") renderStats(e);
        if (e.event === "finished") {
          state.sending = false;
          setSending(false);
          const c = e.summary.counts;
          showStatus(c.failed || c.unknown ? "warn" : "ok",
            t(e.summary.finish === "cancelled" ? "send_cancelled" : "send_done", { sent: c.sent, failed: c.failed }));
          loadReport();
        }
        if (e.event === "stopped") {
          state.sending = false;
          setSending(false);
          showError(e.error);
          loadReport();
        }
      });
    } catch (err) {
      state.sending = false;
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

// ---------- operation log ----------

function logFilter() {
  return {
    operator: $("log-operator").value.trim() || null,
    campaign: $("log-campaign").value.trim() || null,
    kind: $("log-kind").value || null,
    from: $("log-from").value || null,
    until: $("log-until").value || null,
  };
}

// Details are canonical JSON; shown as "key: value" pairs, which read more easily.
function detailText(details) {
  try {
    const v = JSON.parse(details);
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => `${k}: ${typeof x === "object" ? JSON.stringify(x) : x}`)
        .join(" · ");
    }
  } catch (_) { /* a tampered entry may not be JSON: show it as stored */ }
  return details;
}

async function loadLog() {
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
        el("td", { class: "num" }, e.id), el("td", { class: "mono" }, e.at.replace("T", " ").slice(0, 19)),
        el("td", {}, e.operator), el("td", {}, kindName(e.kind)), el("td", { class: "mono" }, e.campaign || ""),
        el("td", { class: "mono details" }, detailText(e.details)))));
  } catch (err) {
    showError(err);
  }
}

function wireLog() {
  $("log-form").addEventListener("submit", (e) => { e.preventDefault(); loadLog(); });
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

// ---------- operators ----------

const REASON_KEYS = { unsubscribed: "reason_unsubscribed", bounced: "reason_bounced", manual: "reason_manual" };

async function loadSuppression() {
  try {
    const entries = await ipc.suppressionList();
    $("suppression-table").tBodies[0].replaceChildren(...entries.map((e) =>
      el("tr", {},
        el("td", { class: "mono" }, e.address),
        el("td", {}, t(REASON_KEYS[e.reason] ?? "reason_manual")),
        el("td", {}, e.added_at.slice(0, 16).replace("T", " ")),
        el("td", {}, e.added_by),
        el("td", {}, el("button", {
          type: "button", class: "small", "aria-label": t("suppression_remove_named", { address: e.address }),
          onclick: () => removeSuppressed(e.address),
        }, t("suppression_remove"))))));
  } catch (err) {
    showError(err);
  }
}

async function removeSuppressed(address) {
  try {
    await ipc.suppressionRemove(address);
    showStatus("ok", t("suppression_removed", { address }));
    loadSuppression();
  } catch (err) {
    showError(err);
  }
}

function wireSuppression() {
  $("suppression-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("suppression-add"), async () => {
      try {
        const added = await ipc.suppressionAdd($("suppression-addresses").value, $("suppression-reason").value);
        $("suppression-addresses").value = "";
        showStatus("ok", t("suppression_added_count", { count: added }));
        loadSuppression();
      } catch (err) {
        showError(err);
      }
    });
  });
}

async function loadOperators() {
  try {
    const ops = await ipc.listOperators();
    $("operators-table").tBodies[0].replaceChildren(...ops.map((o) =>
      el("tr", {},
        el("td", {}, o.name),
        el("td", {}, o.roles.map(roleName).join(", ")),
        el("td", {}, o.disabled ? t("op_disabled") : o.locked_until ? t("op_locked") : t("op_active")),
        el("td", {}, o.disabled ? "" : el("button", {
          type: "button", class: "small", "aria-label": t("op_disable_named", { name: o.name }),
          onclick: () => disableOperator(o.name),
        }, t("op_disable"))))));
  } catch (err) {
    showError(err);
  }
}

function fillSettings(v) {
  $("settings-idle").value = String(v.idle_minutes);
  $("settings-approval").value = String(v.approval_hours);
  $("settings-idle-env").hidden = !v.idle_overridden;
}

async function loadSettings() {
  try {
    fillSettings(await ipc.settings());
  } catch (err) {
    showError(err);
  }
}

async function disableOperator(name) {
  try {
    await ipc.disableOperator(name);
    showStatus("ok", t("op_disabled_ok", { name }));
    loadOperators();
  } catch (err) {
    showError(err);
  }
}

function wireOperators() {
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("settings-save"), async () => {
      try {
        fillSettings(await ipc.saveSettings(Number($("settings-idle").value), Number($("settings-approval").value)));
        showStatus("ok", t("settings_saved"));
      } catch (err) {
        showError(err);
      }
    });
  });
  $("operators-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("op-add"), async () => {
      const roles = [...document.querySelectorAll("input[name='op-role']")].filter((b) => b.checked).map((b) => b.value);
      const pin = $("op-pin").value;
      const again = $("op-pin-again").value;
      $("op-pin").value = $("op-pin-again").value = "";
      try {
        const op = await ipc.addOperator($("op-name").value.trim(), roles, pin, again);
        $("op-name").value = "";
        showStatus("ok", t("op_added", { name: op.name }));
        loadOperators();
      } catch (err) {
        showError(err);
      }
    });
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
    if (state.checklist) renderChecklist(state.checklist);
    if (!$("screen-approval").hidden) enterApproval();
    if (!$("screen-log").hidden) loadLog();
    if (!$("screen-operators").hidden) loadOperators();
    if (!$("screen-suppression").hidden) loadSuppression();
    if (!$("gate").hidden) showGate(gateMode, $("gate-name").value);
    else if (state.operator) $("whoami").textContent = t("signed_in_as", { name: state.operator.name });
    clearStatus();
  });
}

wireNavigation();
wireRecipients();
wireCompose();
wirePreview();
wireLanguage();
wireGate();
wireChecklist();
wireApproval();
wireSend();
wireLog();
wireOperators();
wireSuppression();
startGate().finally(() => { document.body.dataset.ready = "true"; });
