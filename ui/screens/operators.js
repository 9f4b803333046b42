// The operators screen (administrators only): the operators and their roles, adding and
// disabling one, and the settings (idle lock, approval lifetime).

import * as ipc from "../ipc.js";
import { t, roleName } from "../i18n.js";
import { $, el, showStatus, showError, busy, screenShown, showErrorAt, hideErrorAt } from "../dom.js";

let editing = null; // the operator whose change panel is open

async function loadOperators() {
  try {
    const ops = await ipc.listOperators();
    $("operators-table").tBodies[0].replaceChildren(...ops.map((o) =>
      el("tr", {},
        el("td", {}, o.name),
        el("td", {}, o.roles.map(roleName).join(", ")),
        el("td", {}, stateText(o)),
        el("td", {}, el("button", {
          type: "button", class: "small", "aria-label": t("op_change_named", { name: o.name }),
          onclick: () => openEdit(o),
        }, t("op_change"))))));
    if (editing) {
      const fresh = ops.find((o) => o.name === editing.name);
      if (fresh) openEdit(fresh, false); else closeEdit();
    }
  } catch (err) {
    showError(err);
  }
}

function stateText(o) {
  if (o.disabled) return t("op_disabled");
  if (o.locked_until && new Date(o.locked_until) > new Date()) return t("op_locked");
  if (o.pin_reset) return t("op_pin_reset");
  return t("op_active");
}

// One panel to change a person: roles, a forgotten PIN, switching off and on. Errors
// show in the panel, where the admin acted.
function openEdit(o, focus = true) {
  editing = o;
  $("op-edit-title").textContent = t("op_edit_title", { name: o.name });
  for (const box of document.querySelectorAll("input[name='op-edit-role']")) box.checked = o.roles.includes(box.value);
  $("op-toggle").textContent = o.disabled ? t("op_enable") : t("op_disable");
  $("op-reset-pin").value = $("op-reset-pin-again").value = "";
  hideErrorAt("op-edit-error");
  $("op-edit").hidden = false;
  if (focus) {
    $("op-edit").scrollIntoView({ block: "nearest" });
    document.querySelector("input[name='op-edit-role']").focus();
  }
}

function closeEdit() {
  editing = null;
  $("op-edit").hidden = true;
}

async function editAction(button, work) {
  await busy(button, async () => {
    hideErrorAt("op-edit-error");
    try {
      await work(editing.name);
      await loadOperators();
    } catch (err) {
      showErrorAt("op-edit-error", err);
    }
  });
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

export function enter() {
  loadOperators();
  loadSettings();
}

export function wire() {
  $("op-roles-form").addEventListener("submit", (e) => {
    e.preventDefault();
    editAction($("op-roles-save"), async (name) => {
      const roles = [...document.querySelectorAll("input[name='op-edit-role']")].filter((b) => b.checked).map((b) => b.value);
      await ipc.setOperatorRoles(name, roles);
      showStatus("ok", t("op_roles_saved", { name }));
    });
  });
  $("op-reset-form").addEventListener("submit", (e) => {
    e.preventDefault();
    editAction($("op-reset"), async (name) => {
      const pin = $("op-reset-pin").value;
      const again = $("op-reset-pin-again").value;
      $("op-reset-pin").value = $("op-reset-pin-again").value = "";
      await ipc.resetOperatorPin(name, pin, again);
      showStatus("ok", t("op_reset_done", { name }));
    });
  });
  $("op-toggle").addEventListener("click", () =>
    editAction($("op-toggle"), async (name) => {
      if (editing.disabled) {
        await ipc.enableOperator(name);
        showStatus("ok", t("op_enabled_ok", { name }));
      } else {
        await ipc.disableOperator(name);
        showStatus("ok", t("op_disabled_ok", { name }));
      }
    }));
  $("op-edit-close").addEventListener("click", closeEdit);
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("settings-save"), async () => {
      try {
        hideErrorAt("settings-error");
        fillSettings(await ipc.saveSettings(Number($("settings-idle").value), Number($("settings-approval").value)));
        showStatus("ok", t("settings_saved"));
      } catch (err) {
        showErrorAt("settings-error", err);
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
        hideErrorAt("op-add-error");
        const op = await ipc.addOperator($("op-name").value.trim(), roles, pin, again);
        $("op-name").value = "";
        // The next person starts from the usual choice, not from the last one's roles.
        for (const b of document.querySelectorAll("input[name='op-role']")) b.checked = b.value === "sender";
        showStatus("ok", t("op_added", { name: op.name }));
        loadOperators();
      } catch (err) {
        showErrorAt("op-add-error", err);
      }
    });
  });
}

export function rerender() {
  // The settings are numbers: only the operator list has words to translate.
  if (screenShown("operators")) loadOperators();
}
