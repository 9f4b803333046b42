// The compose screen: the whole campaign form (sender, subject, text, the HTML version
// made from the text or written by hand, attachments, unsubscribe, which sending server),
// saved to the campaign file with Save. Unsaved edits are marked in the bar above, kept
// in local storage so they survive an error or a restart, and never reach the preview,
// the checklist or the send until saved. Problems come back from the core per field and
// are shown at that field.

import * as ipc from "../ipc.js";
import { t } from "../i18n.js";
import { $, el, showStatus, busy, showErrorAt, hideErrorAt } from "../dom.js";
import * as store from "../store.js";
import { applyOpened, setDirty, keepDraft, keptDraft, forgetDraft } from "../campaign.js";

let lastTextTarget = null; // the compose field a merge-field chip inserts into
let attachments = []; // the form's attachment paths (relative to the campaign folder)

const TEXT_FIELDS = ["from_name", "from_address", "reply_to", "subject", "text", "html",
  "attachment_column", "attachment_dir", "unsubscribe_mailto", "unsubscribe_url", "dkim_selector"];

const input = (field) => document.querySelector(`#compose-form [data-field="${field}"]`);

function insertField(field) {
  const target = lastTextTarget || $("compose-text");
  const token = `{{ ${field} }}`;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? target.value.length;
  target.setRangeText(token, start, end, "end");
  target.focus();
  changed();
}

function renderChips(fields) {
  $("compose-fields").replaceChildren(
    ...fields.map((f) =>
      el("button", { type: "button", class: "chip", dataset: { field: f }, onclick: () => insertField(f) }, `{{ ${f} }}`),
    ),
  );
  $("compose-fields-empty").hidden = fields.length > 0;
}

function htmlMode() {
  return document.querySelector("input[name='compose-html-mode']:checked").value;
}

function setHtmlMode(mode) {
  for (const r of document.querySelectorAll("input[name='compose-html-mode']")) r.checked = r.value === mode;
  $("compose-html-field").hidden = mode !== "own";
}

function renderAttachments() {
  $("compose-attachment-list").replaceChildren(...attachments.map((a, i) =>
    el("li", { dataset: { file: a } },
      el("span", { class: "mono" }, a),
      el("button", {
        type: "button", class: "small", "aria-label": t("attachment_remove_named", { name: a }),
        onclick: () => { attachments.splice(i, 1); renderAttachments(); changed(); },
      }, t("attachment_remove")))));
  if (attachments.length === 0) {
    $("compose-attachment-list").append(el("li", { class: "hint" }, t("attachments_none")));
  }
}

function renderDestinations(form) {
  const select = $("compose-destination");
  const options = [el("option", { value: "outbox" }, t("destination_outbox"))];
  for (const p of store.state.profiles) {
    options.push(el("option", { value: "profile:" + p.name }, t("destination_profile", { name: p.name, host: p.host })));
  }
  if (form.destination === "profile" && !store.state.profiles.some((p) => p.name.toLowerCase() === form.relay_profile.toLowerCase())) {
    options.push(el("option", { value: "profile:" + form.relay_profile }, t("destination_missing", { name: form.relay_profile })));
  }
  if (form.relay) {
    options.push(el("option", { value: "relay" }, t("destination_written", { host: `${form.relay.host}:${form.relay.port}` })));
  }
  select.replaceChildren(...options);
  const match = form.destination === "profile"
    ? [...select.options].find((o) => o.value.toLowerCase() === ("profile:" + form.relay_profile).toLowerCase())
    : [...select.options].find((o) => o.value === form.destination);
  select.value = match ? match.value : "outbox";
}

/** The saved form with the screen's edits on top: what Save sends to the core. */
function formFromScreen() {
  const saved = store.state.campaign.form;
  const form = { ...saved };
  for (const f of TEXT_FIELDS) form[f] = input(f).value;
  const mode = htmlMode();
  form.html_from_text = mode === "made";
  if (mode === "none") form.html = "";
  form.attachments = [...attachments];
  const dest = $("compose-destination").value;
  if (dest.startsWith("profile:")) {
    form.destination = "profile";
    form.relay_profile = dest.slice("profile:".length);
  } else {
    form.destination = dest;
  }
  return form;
}

function fill(form) {
  for (const f of TEXT_FIELDS) input(f).value = form[f] ?? "";
  setHtmlMode(form.html_from_text ? "made" : form.html ? "own" : "none");
  attachments = [...(form.attachments || [])];
  renderAttachments();
  renderDestinations(form);
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function normalised(form) {
  // What the form would save; a made HTML body follows the text, so compare without it.
  const f = { ...form };
  if (f.html_from_text) f.html = "";
  return f;
}

// Each field is checked as it is typed, by the core's rules, a moment after the last key.
let checkTimer = null;
let checkTicket = 0;
function checkSoon() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(async () => {
    if (!store.state.campaign) return;
    const ticket = ++checkTicket;
    try {
      const problems = await ipc.checkCampaignForm(formFromScreen());
      if (ticket === checkTicket) showProblems(problems);
    } catch (_) { /* a check that could not run says nothing; Save still checks */ }
  }, 400);
}

function changed() {
  const c = store.state.campaign;
  if (!c) return;
  checkSoon();
  const form = formFromScreen();
  const dirty = !same(normalised(form), normalised(c.form));
  setDirty(dirty);
  if (dirty) keepDraft(form);
  else forgetDraft(form.id);
  $("compose-saved-note").textContent = "";
}

function showProblems(problems) {
  for (const node of document.querySelectorAll("#compose-form .field-error")) node.remove();
  for (const node of document.querySelectorAll("#compose-form .invalid")) node.classList.remove("invalid");
  for (const p of problems) {
    const target = p.field === "recipients_file" ? null : input(p.field);
    if (!target) continue;
    target.classList.add("invalid");
    target.setAttribute("aria-invalid", "true");
    target.closest(".field")?.append(el("p", { class: "field-error", dataset: { field: p.field } }, problemText(p)));
  }
}

function problemText(p) {
  return t("problem_" + p.field, {}) !== "problem_" + p.field ? `${t("problem_" + p.field)} (${p.message})` : p.message;
}

function renderOpened(opened) {
  $("compose-no-campaign").hidden = !!opened;
  $("compose-form").hidden = !opened;
  $("compose-restored").hidden = true;
  hideErrorAt("compose-error");
  if (!opened) return;
  const kept = keptDraft(opened.form.id);
  if (kept && !same(normalised(kept), normalised(opened.form))) {
    fill(kept);
    $("compose-restored").hidden = false;
    setDirty(true);
  } else {
    if (kept) forgetDraft(opened.form.id);
    fill(opened.form);
  }
  showProblems(opened.problems || []);
  if (!opened.summary) renderChips([]);
}

async function save(button, saveAs) {
  return busy(button, async () => {
    hideErrorAt("compose-error");
    const form = formFromScreen();
    try {
      let opened;
      if (saveAs) {
        const title = $("compose-save-as-title").value.trim();
        if (!title) {
          showErrorAt("compose-error", { code: "invalid_input", message: t("save_as_name_missing") });
          $("compose-save-as-title").focus();
          return;
        }
        opened = await ipc.saveCampaignAs(form, title);
        $("compose-save-as-row").hidden = true;
      } else {
        opened = await ipc.saveCampaign(form);
      }
      forgetDraft(form.id);
      applyOpened(opened);
      const note = opened.problems.length
        ? t("saved_with_problems", { count: opened.problems.length })
        : t("saved_ok");
      $("compose-saved-note").textContent = note;
      showStatus(opened.problems.length ? "warn" : "ok", note);
      if (opened.problems.length) {
        showErrorAt("compose-error", { code: "invalid_campaign", message: opened.problems.map(problemText).join(" · ") });
      }
    } catch (err) {
      // Nothing typed is lost: the edits stay on screen and in local storage.
      keepDraft(form);
      showErrorAt("compose-error", err);
    }
  });
}

export function wire() {
  store.on("recipients-loaded", (summary) => renderChips(summary.fields));
  store.on("campaign-opened", renderOpened);
  store.on("campaign-closed", () => renderOpened(null));
  store.on("profiles-loaded", () => { if (store.state.campaign) renderDestinations(formFromScreen()); });
  for (const id of ["compose-subject", "compose-text", "compose-html"]) {
    $(id).addEventListener("focus", () => { lastTextTarget = $(id); });
  }
  $("compose-form").addEventListener("input", changed);
  $("compose-form").addEventListener("change", (e) => {
    if (e.target.name === "compose-html-mode") {
      // Switching to "write it myself" starts from what would have been made.
      setHtmlMode(e.target.value);
    }
    changed();
  });
  $("compose-form").addEventListener("submit", (e) => {
    e.preventDefault();
    save($("compose-save"), false);
  });
  $("compose-save-as").addEventListener("click", () => {
    $("compose-save-as-row").hidden = false;
    $("compose-save-as-title").value = (store.state.campaign?.title || "") + " " + t("copy_suffix");
    $("compose-save-as-title").focus();
  });
  $("compose-save-as-go").addEventListener("click", () => save($("compose-save-as-go"), true));
  $("compose-discard").addEventListener("click", () => {
    const c = store.state.campaign;
    if (!c) return;
    forgetDraft(c.form.id);
    renderOpened(c);
    setDirty(false);
  });
  // The file is copied into the campaign folder at once; it counts once saved.
  const attach = async (path) => {
    hideErrorAt("compose-error");
    try {
      const rel = await ipc.addAttachment(path);
      if (!attachments.includes(rel)) attachments.push(rel);
      renderAttachments();
      changed();
      $("compose-attachment-path").value = "";
    } catch (err) {
      showErrorAt("compose-error", err);
    }
  };
  $("compose-add-attachment").addEventListener("click", () =>
    busy($("compose-add-attachment"), async () => {
      try {
        const chosen = await ipc.chooseFile(t("attachment_dialog"), t("attachment_filter"), null);
        if (chosen) await attach(chosen);
      } catch (err) {
        showErrorAt("compose-error", err);
      }
    }));
  $("compose-attachment-path-add").addEventListener("click", () =>
    busy($("compose-attachment-path-add"), async () => {
      const path = $("compose-attachment-path").value.trim();
      if (path) await attach(path);
      else $("compose-attachment-path").focus();
    }));
  $("compose-attachment-dir-browse").addEventListener("click", async () => {
    try {
      const chosen = await ipc.chooseFolder(t("attachment_dir"));
      if (chosen) {
        input("attachment_dir").value = chosen;
        changed();
      }
    } catch (err) {
      showErrorAt("compose-error", err);
    }
  });
  // Typed but unsaved edits are kept whatever happens; say so before the window closes.
  window.addEventListener("beforeunload", () => { if (store.state.dirty && store.state.campaign) keepDraft(formFromScreen()); });
}

export async function enter() {
  try {
    const v = await ipc.relayProfiles();
    store.set({ profiles: v.profiles });
    if (store.state.campaign) renderDestinations(formFromScreen());
  } catch (_) { /* the list of servers is a convenience here; saving still checks */ }
}

export function rerender() {
  $("compose-saved-note").textContent = "";
  if (store.state.campaign) {
    renderAttachments();
    renderDestinations(formFromScreen());
    showProblems(store.state.campaign.problems || []);
  }
}
