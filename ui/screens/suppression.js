// The do-not-mail screen: addresses that never get a message (unsubscribed, bounced, or
// added by hand), with adding and removing.

import * as ipc from "../ipc.js";
import { t, language } from "../i18n.js";
import { $, el, showStatus, showError, busy, screenShown, localTime } from "../dom.js";

let armed = null; // the address whose Remove was pressed once: the second press removes it

const REASON_KEYS = { unsubscribed: "reason_unsubscribed", bounced: "reason_bounced", manual: "reason_manual" };

export async function enter() {
  try {
    const entries = await ipc.suppressionList();
    $("suppression-table").tBodies[0].replaceChildren(...entries.map((e) =>
      el("tr", {},
        el("td", { class: "mono" }, e.address),
        el("td", {}, t(REASON_KEYS[e.reason] ?? "reason_manual")),
        el("td", {}, localTime(e.added_at, language())),
        el("td", {}, e.added_by),
        el("td", {}, el("button", {
          type: "button", class: "small" + (armed === e.address ? " danger" : ""),
          "aria-label": t("suppression_remove_named", { address: e.address }),
          onclick: () => removeSuppressed(e.address),
        }, armed === e.address ? t("suppression_remove_confirm") : t("suppression_remove"))))));
  } catch (err) {
    showError(err);
  }
}

async function removeSuppressed(address) {
  // Removing someone who asked not to be mailed is asked twice.
  if (armed !== address) {
    armed = address;
    enter();
    return;
  }
  armed = null;
  try {
    await ipc.suppressionRemove(address);
    showStatus("ok", t("suppression_removed", { address }));
    enter();
  } catch (err) {
    showError(err);
  }
}

export function wire() {
  $("suppression-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("suppression-add"), async () => {
      try {
        const added = await ipc.suppressionAdd($("suppression-addresses").value, $("suppression-reason").value);
        $("suppression-addresses").value = "";
        showStatus("ok", t("suppression_added_count", { count: added }));
        enter();
      } catch (err) {
        showError(err);
      }
    });
  });
}

export function rerender() {
  if (screenShown("suppression")) enter();
}
