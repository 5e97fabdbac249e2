// Building DOM without innerHTML: every piece of data becomes a text node or an attribute value, so nothing the
// API answers (a cloud name, a ticket reference, an error message) can ever be parsed as markup.

/** h("a", {href: "#/x", class: "c", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

let ids = 0;
/** A document-unique id, for aria-labelledby and label/for pairs. */
export const uid = (prefix) => `${prefix}-${++ids}`;

/** A table with a caption and column headers (scope=col), in a focusable scroll box so a wide table scrolls
 * sideways on a phone instead of widening the page; the box is named by the caption for screen readers. */
export function table(caption, columns, rows, { wide = false } = {}) {
  const captionId = uid("caption");
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": captionId },
    h(
      "table",
      { class: wide ? "wide" : null },
      h("caption", { id: captionId }, caption),
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.map((cells) => h("tr", null, cells.map((c) => h("td", null, c))))),
    ),
  );
}

/** A definition list from [term, value] pairs, skipping empty values. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([t, v]) => [h("dt", null, t), h("dd", null, v)]),
  );
}

/** A section with a heading that names it (so it is a labelled region for assistive technology). */
export function section(title, level, ...children) {
  const headingId = uid("section");
  return h("section", { "aria-labelledby": headingId }, h(`h${level}`, { id: headingId }, title), children);
}

/** "2026-12-02 15:42 UTC" in a <time>: one unambiguous zone for everyone reading the same trail. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return h("time", { datetime: date.toISOString() }, text);
}

/** The last segment of an ARM id: the cloud's name. */
export function shortName(armId) {
  const parts = String(armId || "").split("/");
  return parts[parts.length - 1] || String(armId || "");
}

/** A link to a cloud's page, named by its short name (the full id is on that page). */
export function cloudLink(armId) {
  if (!armId) return "";
  return h("a", { href: `#/clouds/${encodeURIComponent(armId)}`, class: "cloud" }, shortName(armId));
}

/** Requests are named by the first block of their UUID, as the heading "Request <short id>" does. */
export const shortId = (id) => String(id).split("-")[0];

export const TERMINAL = new Set(["Succeeded", "Rejected", "Failed", "Expired"]);
export const STATUSES = ["Accepted", "AwaitingApproval", "Validating", "InProgress", "Succeeded", "Rejected", "Failed", "Expired"];

/** A status as a badge; the class gives colour, the text says it (colour is never the only signal). */
export const statusBadge = (status) => h("span", { class: `badge status-${String(status).toLowerCase()}` }, status);

/** Show an error in the alert region (role=alert: read out at once): the API's code, then its message. */
export function showError(error) {
  if (error && error.code === "SIGNED_OUT") return; // the sign-in screen already says why
  const code = (error && error.code) || "CONSOLE_ERROR";
  const message = (error && error.message) || String(error);
  fill(document.getElementById("alert"), h("p", null, h("strong", { class: "code" }, code), " ", message));
}

export function clearError() {
  fill(document.getElementById("alert"));
}

/** Say something politely (saved, started, finished). Emptied first so the same words are read out again. */
export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}
