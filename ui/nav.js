// Navigation: the screen registry, showing one screen, the side menu's arrow keys and the
// Alt+1…9 shortcuts. Screens do not import this; after sign-in it hears "signed-in".

import { $, clearStatus } from "./dom.js";
import * as store from "./store.js";
import * as campaigns from "./screens/campaigns.js";
import * as recipients from "./screens/recipients.js";
import * as compose from "./screens/compose.js";
import * as preview from "./screens/preview.js";
import * as checklist from "./screens/checklist.js";
import * as approval from "./screens/approval.js";
import * as send from "./screens/send.js";
import * as log from "./screens/log.js";
import * as suppression from "./screens/suppression.js";
import * as operators from "./screens/operators.js";
import * as relay from "./screens/relay.js";
import * as domain from "./screens/domain.js";
import * as returns from "./screens/returns.js";

// Screen name -> its module (`wire`, and `enter`/`rerender` where it has them), in menu
// order. The name is also the id suffix of #screen-… and #nav-….
export const SCREENS = { campaigns, recipients, compose, preview, checklist, approval, send, log, suppression, returns, operators, relay, domain };
const NAMES = Object.keys(SCREENS);
// Alt+1…9 reach the numbered steps, Alt+0 the campaign list.
const NUMBERED = ["campaigns", "recipients", "compose", "preview", "checklist", "approval", "send", "log", "suppression", "operators"];

export function showScreen(name) {
  for (const s of NAMES) {
    $("screen-" + s).hidden = s !== name;
    const nav = $("nav-" + s);
    if (s === name) nav.setAttribute("aria-current", "page");
    else nav.removeAttribute("aria-current");
  }
  clearStatus();
  // Each screen opens at its top, not where the previous one was scrolled to.
  document.querySelector("main").scrollTop = 0;
  SCREENS[name].enter?.();
  const heading = $("screen-" + name).querySelector("h1");
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

export function wire() {
  const all = [...document.querySelectorAll(".nav-item")];
  all.forEach((item) => {
    item.addEventListener("click", () => showScreen(item.dataset.screen));
    item.addEventListener("keydown", (e) => {
      // Arrow keys move between screens, as in any vertical tab list.
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const items = all.filter((x) => !x.hidden);
        const i = items.indexOf(item);
        const next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
        next.focus();
      }
    });
  });
  document.addEventListener("keydown", (e) => {
    const n = Number(e.key);
    if (e.altKey && Number.isInteger(n) && n < NUMBERED.length && !$("nav-" + NUMBERED[n]).hidden) {
      e.preventDefault();
      showScreen(NUMBERED[n]);
    }
  });
  // After sign-in, stay on the screen that was shown unless this operator may not see it.
  store.on("signed-in", () => {
    const current = NAMES.find((s) => !$("screen-" + s).hidden) || "campaigns";
    showScreen($("nav-" + current).hidden ? "campaigns" : current);
  });
  store.on("navigate", (name) => showScreen(name));
}
