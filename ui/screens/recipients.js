// The recipients screen: load a list or a campaign file, show its summary, one page of
// rows at a time, and the rows that were rejected.

import * as ipc from "../ipc.js";
import { t, reasonText } from "../i18n.js";
import { $, el, showStatus, showError, busy, dlItem } from "../dom.js";
import * as store from "../store.js";

const PAGE_SIZE = 50;

function delimiterName(d) {
  return d === "\t" ? t("delim_name_tab") : `“${d}”`;
}

function renderSummary(summary) {
  $("recipients-summary").replaceChildren(
    ...dlItem("s_file", summary.path, "mono"),
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
        el("td", { class: "reason" }, reasonText(r.reason)),
        el("td", {}, r.detail)),
    ),
  );
}

// A new list means a new campaign: the other screens hear "recipients-loaded" (the
// compose screen shows its fields, the checklist forgets its last run).
function applySummary(summary) {
  store.set({ summary, checklist: null, pageOffset: 0, previewIndex: 0 });
  renderSummary(summary);
  renderRecipientRows(summary.fields, summary.email_column, summary.recipients.slice(0, PAGE_SIZE));
  renderPager(0, summary.recipient_count);
  renderRejected(summary.rejected);
  $("recipients-result").hidden = false;
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
      store.emit("draft-loaded", opened.draft);
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

export function wire() {
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
  $("recipients-prev-page").addEventListener("click", () => showPage(Math.max(0, store.state.pageOffset - PAGE_SIZE)));
  $("recipients-next-page").addEventListener("click", () => showPage(store.state.pageOffset + PAGE_SIZE));
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
