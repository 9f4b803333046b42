// The operators screen (administrators only): the operators and their roles, adding and
// disabling one, and the settings (idle lock, approval lifetime).

import * as ipc from "../ipc.js";
import { t, roleName } from "../i18n.js";
import { $, el, showStatus, showError, busy, screenShown } from "../dom.js";

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

export function enter() {
  loadOperators();
  loadSettings();
}

export function wire() {
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

export function rerender() {
  // The settings are numbers: only the operator list has words to translate.
  if (screenShown("operators")) loadOperators();
}
