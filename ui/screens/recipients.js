// The recipients screen: choose the open campaign's recipient file (a copy goes into the
// campaign folder by default; a file dropped on the window works too), and show its
// summary, one page of rows at a time, and the rows that were rejected.

import * as ipc from "../ipc.js";
import { t, reasonText, whyText } from "../i18n.js";
import { $, el, showStatus, showError, busy, dlItem, showErrorAt, hideErrorAt, pathNode } from "../dom.js";
import * as store from "../store.js";
import { applyOpened } from "../campaign.js";

const PAGE_SIZE = 50;

function delimiterName(d) {
  return d === "\t" ? t("delim_name_tab") : `“${d}”`;
}

function renderSummary(summary) {
  $("recipients-summary").replaceChildren(
    ...dlItem("s_file", pathNode(summary.path), "mono"),
    ...dlItem("s_encoding", summary.encoding),
    ...dlItem("s_delimiter", delimiterName(summary.delimiter)),
    ...dlItem("s_email_column", summary.email_column),
    ...dlItem("s_recipients", String(summary.recipient_count), "count-ok"),
    ...dlItem("s_rejected", String(summary.rejected_count), summary.rejected_count ? "count-warn" : ""),
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
        el("td", {}, r.label || ""),
        el("td", { class: "mono addr", title: r.cell || "" }, r.cell || ""),
        el("td", { class: "reason" }, reasonText(r.reason)),
        el("td", {}, whyText(r.why) || r.detail)),
    ),
  );
}

// The campaign's list as the core read it: the other screens hear "recipients-loaded"
// (the compose screen shows its fields).
function renderOpened(opened) {
  const summary = opened ? opened.summary : null;
  $("recipients-no-campaign").hidden = !!opened;
  $("recipients-form").hidden = !opened;
  if (opened) {
    $("recipients-path").value = opened.form.recipients_file && !summary ? opened.recipients_path || "" : "";
    $("recipients-encoding").value = opened.form.encoding || "auto";
    $("recipients-delimiter").value = opened.form.delimiter || "auto";
    $("recipients-email-column").value = opened.form.email_column || "";
    if (opened.recipients_error && opened.form.recipients_file) showErrorAt("recipients-error", opened.recipients_error);
    else hideErrorAt("recipients-error");
  }
  $("recipients-result").hidden = !summary;
  if (!summary) return;
  renderSummary(summary);
  renderRecipientRows(summary.fields, summary.email_column, summary.recipients.slice(0, PAGE_SIZE));
  renderPager(0, summary.recipient_count);
  renderRejected(summary.rejected);
  store.emit("recipients-loaded", summary);
}

async function showPage(offset) {
  try {
    const page = await ipc.recipientsPage(offset, PAGE_SIZE);
    store.set({ pageOffset: page.offset });
    const { summary } = store.state;
    renderRecipientRows(summary.fields, summary.email_column, page.recipients);
    renderPager(page.offset, page.total);
  } catch (e) {
    showError(e);
  }
}

/** Uses the file at `path` as the open campaign's recipient file; without an open
 * campaign, starts a new one named after the file. */
export async function useFile(path) {
  hideErrorAt("recipients-error");
  if (!path) {
    showErrorAt("recipients-error", { code: "invalid_input", message: t("path_missing") });
    $("recipients-path").focus();
    return;
  }
  showStatus("info", t("loading"));
  try {
    if (!store.state.campaign) {
      const name = path.split(/[\\/]/).pop().replace(/\.[^.]*$/, "") || t("campaign_default_title");
      applyOpened(await ipc.newCampaign(name));
    }
    const opened = await ipc.setRecipientFile(path, $("recipients-copy").checked, {
      encoding: $("recipients-encoding").value,
      delimiter: $("recipients-delimiter").value,
      emailColumn: $("recipients-email-column").value.trim() || null,
    });
    applyOpened(opened);
    if (opened.summary) {
      const s = opened.summary;
      showStatus(s.rejected_count ? "warn" : "ok", t("loaded", { recipients: s.recipient_count, rejected: s.rejected_count }));
    } else {
      showStatus("error", t("recipients_unreadable"));
    }
  } catch (e) {
    showStatus("error", t("recipients_unreadable"));
    showErrorAt("recipients-error", e);
  }
}

export function wire() {
  $("recipients-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("recipients-load"), () => useFile($("recipients-path").value.trim()));
  });
  $("recipients-browse").addEventListener("click", () =>
    busy($("recipients-browse"), async () => {
      try {
        const chosen = await ipc.chooseFile(t("dialog_title"), t("dialog_filter_lists"));
        if (chosen) {
          $("recipients-path").value = chosen;
          await useFile(chosen);
        }
      } catch (e) {
        showErrorAt("recipients-error", e);
      }
    }));
  $("recipients-prev-page").addEventListener("click", () => showPage(Math.max(0, store.state.pageOffset - PAGE_SIZE)));
  $("recipients-next-page").addEventListener("click", () => showPage(store.state.pageOffset + PAGE_SIZE));
  store.on("campaign-opened", renderOpened);
  store.on("campaign-closed", () => renderOpened(null));
  // A file dropped anywhere on the window becomes the recipient file (Tauri gives the
  // path; the page itself never sees the file's bytes).
  window.__TAURI__?.event?.listen("tauri://drag-drop", (e) => {
    const path = e.payload && e.payload.paths && e.payload.paths[0];
    if (!path || !store.state.operator || document.body.classList.contains("gated")) return;
    store.emit("navigate", "recipients");
    $("recipients-path").value = path;
    useFile(path);
  });
}

export function enter() {
  renderOpened(store.state.campaign);
}

/** Re-renders what was built from strings, after a language change. */
export function rerender() {
  const { summary } = store.state;
  if (summary) {
    renderSummary(summary);
    renderRejected(summary.rejected);
    showPage(store.state.pageOffset);
  }
}
