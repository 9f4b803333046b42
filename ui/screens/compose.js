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

// 特定電子メール法: whether the campaign is advertising, and what its messages must show.
// Built here (after the unsubscribe fields) so the page's HTML stays as it is.
const ADVERTISING_TEXT = ["advertising_sender_name", "advertising_postal_address", "advertising_contact",
  "advertising_consent_column"];
const CONSENT_CHOICES = ["", "consent", "business_card", "transaction", "published", "column"];
let advertisingTouched = false; // the person set the box themselves: never tick it for them

function buildAdvertising() {
  if ($("compose-advertising")) return;
  const label = (key) => el("span", { "data-i18n": key }, t(key));
  const text = (key, wide) => el("div", { class: "field" + (wide ? " wide" : "") },
    el("label", { for: "compose-" + key.replaceAll("_", "-"), "data-i18n": key }, t(key)),
    el("input", { id: "compose-" + key.replaceAll("_", "-"), type: "text", spellcheck: "false", "data-field": key }));
  const choice = el("select", { id: "compose-advertising-consent", "data-field": "advertising_consent" },
    ...CONSENT_CHOICES.map((v) => {
      const key = v === "" ? "advertising_consent_none" : v === "column" ? "advertising_consent_column" : "advertising_consent_" + v;
      return el("option", { value: v, "data-i18n": key }, t(key));
    }));
  const column = text("advertising_consent_column_name");
  column.id = "compose-advertising-column-field";
  column.querySelector("input").dataset.field = "advertising_consent_column";
  const details = el("div", { id: "compose-advertising-details", class: "grid-2" },
    text("advertising_sender_name"), text("advertising_postal_address"), text("advertising_contact"),
    el("div", { class: "field" },
      el("label", { for: "compose-advertising-consent", "data-i18n": "advertising_consent" }, t("advertising_consent")),
      choice),
    column);
  const section = el("div", { id: "compose-advertising" },
    el("h2", { "data-i18n": "advertising_title" }, t("advertising_title")),
    el("div", { class: "field" },
      el("label", {},
        el("input", { id: "compose-advertising-enabled", type: "checkbox", "data-field": "advertising",
          onclick: () => { advertisingTouched = true; } }),
        " ", label("advertising_enabled")),
      el("p", { class: "hint", "data-i18n": "advertising_hint" }, t("advertising_hint"))),
    details);
  $("compose-unsubscribe-url").closest(".grid-2").after(section);
}

function showAdvertising() {
  $("compose-advertising-details").hidden = !$("compose-advertising-enabled").checked;
  $("compose-advertising-column-field").hidden = $("compose-advertising-consent").value !== "column";
}

function advertisingFromScreen(form) {
  form.advertising = $("compose-advertising-enabled").checked;
  for (const f of ADVERTISING_TEXT) form[f] = input(f).value;
  const basis = $("compose-advertising-consent").value;
  form.advertising_consent = basis === "column" ? "" : basis;
  if (basis !== "column") form.advertising_consent_column = "";
}

function fillAdvertising(form) {
  advertisingTouched = false;
  $("compose-advertising-enabled").checked = !!form.advertising;
  for (const f of ADVERTISING_TEXT) input(f).value = form[f] ?? "";
  $("compose-advertising-consent").value = form.advertising_consent_column ? "column" : (form.advertising_consent || "");
  showAdvertising();
}

// A newsletter is advertising by default: typing an unsubscribe address ticks the box,
// unless the person decided otherwise.
function tickForNewsletter() {
  const newsletter = input("unsubscribe_mailto").value.trim() || input("unsubscribe_url").value.trim();
  if (newsletter && !advertisingTouched && !$("compose-advertising-enabled").checked) {
    $("compose-advertising-enabled").checked = true;
    showAdvertising();
  }
}

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
  advertisingFromScreen(form);
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
  fillAdvertising(form);
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
  buildAdvertising();
  store.on("recipients-loaded", (summary) => renderChips(summary.fields));
  store.on("campaign-opened", renderOpened);
  store.on("campaign-closed", () => renderOpened(null));
  store.on("profiles-loaded", () => { if (store.state.campaign) renderDestinations(formFromScreen()); });
  for (const id of ["compose-subject", "compose-text", "compose-html"]) {
    $(id).addEventListener("focus", () => { lastTextTarget = $(id); });
  }
  $("compose-form").addEventListener("input", (e) => {
    if (e.target.dataset.field === "unsubscribe_mailto" || e.target.dataset.field === "unsubscribe_url") tickForNewsletter();
    changed();
  });
  $("compose-form").addEventListener("change", (e) => {
    if (e.target.name === "compose-html-mode") {
      // Switching to "write it myself" starts from what would have been made.
      setHtmlMode(e.target.value);
    }
    if (e.target.id === "compose-advertising-enabled" || e.target.id === "compose-advertising-consent") showAdvertising();
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
