// The entry point: wires every screen, switches the language, and starts at the sign-in
// gate. Each screen lives in ui/screens/, navigation in nav.js, shared state in store.js;
// all data comes from the Rust side through ipc.js, and the rules live in the core.

import { $, clearStatus, rerenderErrors } from "./dom.js";
import * as ipc from "./ipc.js";
import { setLanguage, language } from "./i18n.js";
import * as nav from "./nav.js";
import * as gate from "./screens/gate.js";
import { renderBar } from "./campaign.js";

function wireLanguage() {
  const select = $("language");
  select.value = language();
  select.addEventListener("change", () => {
    setLanguage(select.value, true);
    // Re-render what was built from strings, not from data-i18n attributes.
    for (const screen of [...Object.values(nav.SCREENS), gate]) screen.rerender?.();
    rerenderErrors();
    renderBar();
    clearStatus();
  });
}

// Ask who is signed in first, so the answer is on its way while the screens are wired.
const status = ipc.appStatus();
nav.wire();
for (const screen of Object.values(nav.SCREENS)) screen.wire();
gate.wire();
wireLanguage();
gate.start(status).finally(() => { document.body.dataset.ready = "true"; });
