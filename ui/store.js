// The state the screens share, in one place, and a tiny event bus so a screen can react to
// another ("campaign-opened", "recipients-loaded", "signed-in", "navigate") without importing it.
// What only one screen needs (the preview's request ticket, the gate's mode, the compose
// field a chip inserts into) stays in that screen's module.

export const state = {
  summary: null, // the last import summary
  pageOffset: 0, // the first row of the recipients page shown
  hasDraft: false, // a message has been written or opened
  previewIndex: 0,
  previewTotal: 0,
  operator: null, // who is signed in
  checklist: null, // the last checklist run, for a re-render
  review: null, // the last review shown on the approval screen
  sending: false,
  campaign: null, // the open campaign (OpenedCampaign from the core), as last saved
  dirty: false, // the compose form differs from the saved campaign
  profiles: [], // the saved sending servers, for the compose and domain screens
};

const listeners = new Map(); // event name -> Set of functions

/** Calls `fn(detail)` on every `emit(event, detail)`; returns a function that stops it. */
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event).delete(fn);
}

export function emit(event, detail) {
  for (const fn of [...(listeners.get(event) || [])]) fn(detail);
}

/** Changes some fields of the state and tells the "change" listeners which ones. */
export function set(patch) {
  Object.assign(state, patch);
  emit("change", patch);
}
