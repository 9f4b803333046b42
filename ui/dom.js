// Small DOM helpers shared by every screen: element lookup and building, the status line,
// the busy state of a button, and two bits of markup several screens show the same way.

import { t, errorText, language, whyText } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export function showStatus(kind, text, detail) {
  const box = $("status");
  box.className = "status " + kind;
  box.replaceChildren(el("span", { class: "status-text" }, text));
  if (detail instanceof Node) box.append(detail);
  else if (detail) box.append(el("span", { class: "status-detail" }, detail));
  box.hidden = false;
}

/** The core's own words under an error sentence. They are English and exact (file, row,
 * reply); shown inline in English when no whole sentence was made from the reason, and
 * otherwise behind a "Details" toggle, so a Japanese screen shows no English unasked. */
export function errorDetail(error) {
  const message = error && error.message ? String(error.message) : "";
  if (!message) return "";
  if (language() === "en" && !whyText(error.reason)) {
    return el("span", { class: "status-detail" }, message);
  }
  return el("details", { class: "error-detail" },
    el("summary", {}, t("details_toggle")),
    el("span", { class: "status-detail mono" }, message));
}

export function clearStatus() {
  $("status").hidden = true;
}

export function showError(error) {
  // The translated sentence first, the core's specific words (file, row, field) after.
  showStatus("error", errorText(error), errorDetail(error));
}

/** Puts `text` on the clipboard; `button` says "Copied" for a moment. */
export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // Older WebKit without the clipboard API: copy through a selected text area.
    const area = el("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = t("copied");
  setTimeout(() => { button.textContent = t("copy"); }, 1500);
}

export async function busy(button, work) {
  button.disabled = true;
  document.body.classList.add("busy");
  try {
    return await work();
  } finally {
    button.disabled = false;
    document.body.classList.remove("busy");
  }
}

/** Whether the screen called `name` is the one shown. */
export function screenShown(name) {
  return !$("screen-" + name).hidden;
}

/** One `<dt>`/`<dd>` pair of a summary list: a translated label and its value. */
export function dlItem(label, value, cls = "") {
  return [el("dt", {}, t(label)), el("dd", cls ? { class: cls } : {}, value)];
}

/** Where the messages go (the relay, or the Outbox folder), as the checklist, approval and send screens show it. */
export function destinationBanner(box, view) {
  box.className = "destination " + (view.outbox ? "outbox" : "relay");
  box.replaceChildren(
    el("strong", {}, view.outbox ? t("outbox_label") : t("relay_label")),
    view.outbox && view.outbox_folder ? el("span", { class: "mono" }, view.outbox_folder)
      : view.relay ? el("span", {}, t("relay_destination", {
        server: `${view.relay.host}:${view.relay.port}`,
        security: view.relay.security === "tls" ? t("security_tls") : t("security_starttls"),
        user: view.relay.username,
      }))
      : el("span", { class: "mono" }, view.destination),
  );
}

/** Shows an error in the box next to where the person acted (`boxId`), and scrolls it
 * into view: the translated sentence, then the core's specific words. */
export function showErrorAt(boxId, error) {
  const box = $(boxId);
  box.className = "error-box";
  shownErrors.set(boxId, error);
  box.replaceChildren(el("strong", {}, errorText(error)), errorDetail(error));
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

// The errors shown next to buttons, so a language switch can say them again.
const shownErrors = new Map();

/** Says every error box still shown again, in the language just chosen. */
export function rerenderErrors() {
  for (const [boxId, error] of shownErrors) {
    const box = $(boxId);
    if (box.hidden) shownErrors.delete(boxId);
    else box.replaceChildren(el("strong", {}, errorText(error)), errorDetail(error));
  }
}

/** Hides the error box `boxId`. */
export function hideErrorAt(boxId) {
  $(boxId).hidden = true;
}

/** A local date and time in the current language, from an RFC 3339 string. */
export function localTime(iso, lang) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

/** A file path that wraps only after a folder separator, never in the middle of a name. */
export function pathNode(path) {
  const span = el("span", { class: "path" });
  const parts = String(path || "").split(/(?<=[\\/])/);
  parts.forEach((part, i) => {
    span.append(document.createTextNode(part));
    if (i < parts.length - 1) span.append(document.createElement("wbr"));
  });
  return span;
}

/** The core's exact words about a check (its id, what it saw, its own fix) behind a
 * "Details" toggle: the plain sentences above it are the UI's, in the person's language. */
export function checkDetails(c) {
  const body = [el("div", { class: "mono check-id" }, c.id)];
  if (c.detail) body.push(el("div", { class: "check-detail" }, c.detail));
  if (c.fix && c.status !== "pass") body.push(el("div", { class: "check-detail" }, c.fix));
  return el("details", { class: "check-more" }, el("summary", {}, t("details_toggle")), ...body);
}
