// The gate in front of every screen: the first administrator on a new install, sign-in,
// and the idle lock. Signing in emits "signed-in"; navigation then shows a screen.

import * as ipc from "../ipc.js";
import { t, errorText, whyText } from "../i18n.js";
import { $, el, busy, errorDetail } from "../dom.js";
import * as store from "../store.js";

let gateMode = "sign_in"; // "first_admin" | "sign_in" | "locked" | "new_pin"
let provenPin = ""; // in "new_pin" mode: the PIN just accepted, to prove the change
let idleSecs = 600; // the lock time the core applies (refreshed from app_status)
let lastActivity = Date.now();

// The idle lock blanks the window when it fires, not at the next click: customer data
// does not stay on a shared screen. The command layer locks the session all the same.
function watchIdle() {
  for (const ev of ["keydown", "mousedown", "mousemove", "wheel", "touchstart"]) {
    window.addEventListener(ev, () => { lastActivity = Date.now(); }, { passive: true, capture: true });
  }
  setInterval(() => {
    const { operator } = store.state;
    if (!operator || document.body.classList.contains("gated")) return;
    if (Date.now() - lastActivity >= idleSecs * 1000) {
      ipc.signOut().catch(() => { /* the core locks it on the next call anyway */ });
      showGate("locked", operator.name);
    }
  }, 1000);
}

async function refreshIdle() {
  try {
    idleSecs = Math.max(1, (await ipc.appStatus()).idle_secs || idleSecs);
  } catch (_) { /* keep the last known value */ }
}

function showGate(mode, lockedName) {
  gateMode = mode;
  if (mode !== "new_pin") provenPin = "";
  const first = mode === "first_admin";
  const newPin = mode === "new_pin";
  $("gate-title").textContent = t(first ? "gate_first_title" : mode === "locked" ? "gate_locked_title"
    : newPin ? "gate_new_pin_title" : "gate_sign_in");
  $("gate-lead").textContent = first ? t("gate_first_lead")
    : mode === "locked" ? t("gate_locked_lead", { name: lockedName || "" })
    : newPin ? t("gate_new_pin_lead", { name: lockedName || "" }) : t("gate_sign_in_lead");
  $("gate-pin-again-field").hidden = !(first || newPin);
  $("gate-hint").hidden = !(first || newPin);
  $("gate-pin-label").textContent = t(newPin ? "gate_new_pin" : "pin");
  $("gate-name").readOnly = newPin;
  $("gate-submit").textContent = t(first ? "gate_create" : newPin ? "gate_new_pin_button" : "gate_sign_in");
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
  store.set({ operator });
  $("gate").hidden = true;
  document.body.classList.remove("gated");
  $("whoami").textContent = t("signed_in_as", { name: operator.name });
  $("whoami").hidden = $("sign-out").hidden = false;
  for (const id of ["nav-operators", "nav-relay", "nav-domain"]) $(id).hidden = !operator.roles.includes("admin");
  $("gate-pin").value = "";
  $("gate-pin-again").value = "";
  lastActivity = Date.now();
  refreshIdle();
  store.emit("signed-in", operator);
}

let lastGateError = null;

function showGateError(err) {
  lastGateError = err;
  // One sentence (tries left, the lock's end in local time); the core's words only on
  // request, so nothing is said twice.
  $("gate-error").replaceChildren(el("strong", {}, errorText(err)),
    whyText(err.reason) ? "" : errorDetail(err));
  $("gate-error").hidden = false;
}

export function wire() {
  watchIdle();
  $("gate-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("gate-submit"), async () => {
      const name = $("gate-name").value.trim();
      const pin = $("gate-pin").value;
      try {
        const op = gateMode === "first_admin"
          ? await ipc.createFirstAdmin(name, pin, $("gate-pin-again").value)
          : gateMode === "new_pin"
            ? await ipc.changePin(name, provenPin, pin, $("gate-pin-again").value)
            : await ipc.signIn(name, pin);
        provenPin = "";
        $("gate-name").readOnly = false;
        signedIn(op);
      } catch (err) {
        $("gate-pin").value = "";
        $("gate-pin-again").value = "";
        if (err.code === "pin_change_required" && gateMode !== "new_pin") {
          // The PIN was right but must be replaced: ask for the new one on this screen.
          provenPin = pin;
          showGate("new_pin", name);
          return;
        }
        showGateError(err);
        $("gate-pin").focus();
      }
    });
  });
  $("sign-out").addEventListener("click", async () => {
    try { await ipc.signOut(); } catch (_) { /* signed out either way */ }
    $("gate-name").value = "";
    showGate("sign_in");
  });
  // ipc.js announces a command refused because the session locked itself or nobody is signed in.
  window.addEventListener("mergeguard:locked", (e) => {
    // Already at the gate (a screen re-rendering behind it was refused): keep the form
    // and its error as they are.
    if (!$("gate").hidden) return;
    const locked = e.detail && e.detail.code === "locked";
    const { operator } = store.state;
    showGate(locked ? "locked" : "sign_in", locked && operator ? operator.name : "");
  });
}

/** At start-up: signed in already, or which form of the gate to show. */
/** Shows the gate, or the app when a session is still open; `pending` is an
 *  `ipc.appStatus()` call already under way (app.js starts it before wiring the screens). */
export async function start(pending) {
  try {
    const status = await (pending ?? ipc.appStatus());
    if (status.signed_in) signedIn(status.signed_in);
    else showGate(status.needs_first_admin ? "first_admin" : status.locked_name ? "locked" : "sign_in", status.locked_name);
  } catch (err) {
    showGate("sign_in");
    showGateError(err);
  }
}

export function rerender() {
  if (!$("gate").hidden) {
    const shown = !$("gate-error").hidden && lastGateError;
    showGate(gateMode, $("gate-name").value);
    if (shown) showGateError(lastGateError);
  }
  else if (store.state.operator) $("whoami").textContent = t("signed_in_as", { name: store.state.operator.name });
}
