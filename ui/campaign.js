// The open campaign, shared by the campaign list, recipients and compose screens: opening
// one (the core's answer is the saved state), the bar above every screen that names it
// with its stage and "Unsaved changes", and the local copy of unsaved edits that survives
// an error or a restart.

import * as ipc from "./ipc.js";
import { t, language } from "./i18n.js";
import { $, localTime } from "./dom.js";
import * as store from "./store.js";

const DRAFT_KEY = "mergeguard.draft.";

/** The words for a campaign's stage ("Sent 8 of 9 · 1 Dec 2026 10:12"). */
export function stageText(s) {
  const words = t("stage_" + s.stage, { sent: s.sent, total: s.total });
  const at = s.stage_at ?? s.at;
  return at ? `${words} · ${localTime(at, language())}` : words;
}

export function renderBar() {
  const c = store.state.campaign;
  $("campaign-bar").hidden = !c;
  if (!c) return;
  $("campaign-bar-title").textContent = c.title;
  const badge = $("campaign-bar-stage");
  badge.textContent = stageText(c.stage);
  badge.className = "stage-badge " + c.stage.stage;
  badge.dataset.stage = c.stage.stage;
  $("campaign-bar-unsaved").hidden = !store.state.dirty;
  $("campaign-bar-folder").textContent = c.folder;
}

/** Takes the core's view of a freshly opened or saved campaign as the saved state. */
export function applyOpened(opened) {
  store.set({
    campaign: opened,
    summary: opened.summary,
    checklist: null,
    review: null,
    previewIndex: 0,
    pageOffset: 0,
    hasDraft: true,
    dirty: false,
  });
  store.emit("campaign-opened", opened);
  renderBar();
}

export async function openPath(path) {
  applyOpened(await ipc.openCampaign(path));
}

export function closed() {
  store.set({ campaign: null, summary: null, checklist: null, review: null, hasDraft: false, dirty: false });
  store.emit("campaign-closed");
  renderBar();
}

export function setDirty(dirty) {
  if (store.state.dirty !== dirty) {
    store.set({ dirty });
    renderBar();
  }
}

// ---------- unsaved edits, kept in the window's local storage ----------

export function keepDraft(form) {
  try {
    localStorage.setItem(DRAFT_KEY + form.id, JSON.stringify(form));
  } catch (_) { /* storage full or unavailable: the form itself still holds the edits */ }
}

export function keptDraft(id) {
  try {
    const raw = localStorage.getItem(DRAFT_KEY + id);
    return raw ? JSON.parse(raw) : null;
  } catch (_) {
    return null;
  }
}

export function forgetDraft(id) {
  try { localStorage.removeItem(DRAFT_KEY + id); } catch (_) { /* nothing kept */ }
}
