// The start screen: every campaign in the campaigns folder with its stage (draft, checked,
// submitted, approved, sending, sent N of M), New, Open other…, Duplicate, Close, the
// bundled example, and the "Getting started" steps while the install is new.

import * as ipc from "../ipc.js";
import { t, language } from "../i18n.js";
import { $, el, busy, showErrorAt, hideErrorAt, localTime, showStatus, showError } from "../dom.js";
import * as store from "../store.js";
import { applyOpened, closed, openPath, stageText } from "../campaign.js";

// Screens do not import navigation: they ask for another screen through the store.
const goTo = (screen) => store.emit("navigate", screen);

function failed(err) {
  showErrorAt("campaigns-error", err);
}

async function open(path, screen = "compose") {
  hideErrorAt("campaigns-error");
  try {
    await openPath(path);
    goTo(store.state.campaign.summary ? screen : "recipients");
  } catch (err) {
    failed(err);
  }
}

function renderList(list) {
  $("campaigns-home").textContent = list.home;
  $("campaigns-empty").hidden = list.campaigns.length > 0;
  $("campaigns-wrap").hidden = list.campaigns.length === 0;
  const current = store.state.campaign?.path;
  $("campaigns-table").tBodies[0].replaceChildren(...list.campaigns.map((c) =>
    el("tr", { dataset: { title: c.title, stage: c.stage }, class: c.path === current ? "current" : "" },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => open(c.path) }, c.title)),
      el("td", {}, c.error ? el("span", { class: "count-fail" }, t("campaign_unreadable")) : c.subject),
      el("td", {}, el("span", { class: "stage-badge " + c.stage }, stageText(c))),
      el("td", {}, c.saved_at ? localTime(c.saved_at, language()) : ""),
      el("td", { class: "row-actions" },
        el("button", { type: "button", class: "small", onclick: () => open(c.path) }, t("campaign_open_button")),
        el("button", {
          type: "button", class: "small", "aria-label": t("campaign_duplicate_named", { name: c.title }),
          onclick: () => duplicate(c),
        }, t("campaign_duplicate"))))));
}

async function duplicate(c) {
  hideErrorAt("campaigns-error");
  try {
    applyOpened(await ipc.duplicateCampaign(c.path, c.title));
    showStatus("ok", t("campaign_duplicated", { name: store.state.campaign.title }));
    goTo("compose");
  } catch (err) {
    failed(err);
  }
}

// ---------- Getting started ----------

async function renderSetup() {
  const op = store.state.operator;
  const card = $("setup-card");
  if (!op || !op.roles.includes("admin")) {
    card.hidden = true;
    return;
  }
  let operators = [];
  let profiles = [];
  try {
    [operators, profiles] = await Promise.all([ipc.listOperators(), ipc.relayProfiles().then((v) => v.profiles)]);
  } catch (_) { /* the steps are a help, not a gate */ }
  const skipped = new Set(JSON.parse(localStorage.getItem("mergeguard.setup.skipped") || "[]"));
  const steps = [
    ["approver", operators.some((o) => !o.disabled && o.name !== op.name && o.roles.includes("approver")), "operators"],
    ["relay", profiles.length > 0, "relay"],
    ["domain", false, "domain"],
  ];
  const open = steps.filter(([id, done]) => !done && !skipped.has(id));
  card.hidden = open.length === 0;
  $("setup-steps").replaceChildren(...steps.map(([id, done, screen]) =>
    el("li", { class: done ? "done" : skipped.has(id) ? "skipped" : "", dataset: { step: id } },
      el("div", { class: "setup-text" }, el("strong", {}, t("setup_" + id)), " ", el("span", { class: "hint" }, t("setup_" + id + "_why"))),
      done ? el("span", { class: "count-ok" }, t("setup_done"))
        : el("span", { class: "row-actions" },
          el("button", { type: "button", class: "small primary", onclick: () => goTo(screen) }, t("setup_do")),
          skipped.has(id) ? "" : el("button", {
            type: "button", class: "small", onclick: () => {
              skipped.add(id);
              localStorage.setItem("mergeguard.setup.skipped", JSON.stringify([...skipped]));
              renderSetup();
            },
          }, t("setup_skip"))))));
}

export async function enter() {
  hideErrorAt("campaigns-error");
  renderSetup();
  try {
    renderList(await ipc.listCampaigns());
  } catch (err) {
    failed(err);
  }
}

export function wire() {
  $("campaign-new-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("campaign-new"), async () => {
      hideErrorAt("campaigns-error");
      const title = $("campaign-new-title").value.trim() || t("campaign_default_title");
      try {
        applyOpened(await ipc.newCampaign(title));
        $("campaign-new-title").value = "";
        showStatus("ok", t("campaign_created", { name: store.state.campaign.title }));
        goTo("recipients");
      } catch (err) {
        failed(err);
        $("campaign-new-title").focus();
      }
    });
  });
  $("campaign-open-file").addEventListener("click", () =>
    busy($("campaign-open-file"), async () => {
      try {
        const chosen = await ipc.chooseFile(t("campaign_open_dialog"), t("campaign_file_filter"), ["toml"]);
        if (chosen) await open(chosen);
      } catch (err) {
        failed(err);
      }
    }));
  $("recipients-example").addEventListener("click", () =>
    busy($("recipients-example"), async () => {
      hideErrorAt("campaigns-error");
      try {
        const path = await ipc.exampleCampaignPath();
        if (!path) {
          failed({ code: "io", message: t("no_example") });
          return;
        }
        await open(path, "recipients");
      } catch (err) {
        failed(err);
      }
    }));
  store.on("campaign-closed", () => { if (!$("screen-campaigns").hidden) enter(); });
  $("campaign-close").addEventListener("click", () =>
    busy($("campaign-close"), async () => {
      try {
        await ipc.closeCampaign();
        closed();
        goTo("campaigns");
      } catch (err) {
        showError(err);
      }
    }));
}

export function rerender() {
  if (!$("screen-campaigns").hidden) enter();
}
