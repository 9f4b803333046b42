// The compose screen: sender, subject and both bodies of the message, with a chip per
// merge field of the loaded list that inserts `{{ field }}` where the cursor was.

import * as ipc from "../ipc.js";
import { t } from "../i18n.js";
import { $, el, showStatus, showError, busy } from "../dom.js";
import * as store from "../store.js";

let lastTextTarget = null; // the compose field a merge-field chip inserts into

function insertField(field) {
  const target = lastTextTarget || $("compose-text");
  const token = `{{ ${field} }}`;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? target.value.length;
  target.setRangeText(token, start, end, "end");
  target.focus();
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
  store.set({ hasDraft: true });
}

export function wire() {
  store.on("recipients-loaded", (summary) => renderChips(summary.fields));
  store.on("draft-loaded", fillDraft);
  for (const id of ["compose-subject", "compose-text", "compose-html"]) {
    $(id).addEventListener("focus", () => { lastTextTarget = $(id); });
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
        store.set({ previewIndex: 0 });
        showStatus("ok", t("applied"));
      } catch (err) {
        showError(err);
      }
    });
  });
}
