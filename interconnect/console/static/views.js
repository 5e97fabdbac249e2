// Pieces more than one page shows: reasons with their overlap tables, what a disconnect cuts, the approve/reject
// confirmation, the cloud picker and the requests table.
import { api } from "./api.js";
import { ApiError } from "./errors.js";
import { announce, cloudLink, fill, h, section, shortId, shortName, showError, statusBadge, table, uid, when } from "./dom.js";

/** Each reason's code and sentence; overlapping prefixes as a table beside the sentence. */
export function reasonList(reasons) {
  return h(
    "ul",
    { class: "reasons" },
    reasons.map((reason) => h("li", null, h("code", null, reason.code), " ", reason.message, overlaps(reason))),
  );
}

function overlaps(reason) {
  const details = reason.details || {};
  if (!Array.isArray(details.overlaps) || details.overlaps.length === 0) return null;
  // Only the pair's own overlap is captioned "Overlapping prefixes"; a neighbour's gets its own caption, so
  // each table keeps a distinct name.
  const neighbour = reason.code === "NEIGHBOR_OVERLAP";
  const thisSide = neighbour ? details.neighbor : details.source;
  const otherSide = neighbour ? details.other : details.target;
  const caption = neighbour
    ? `Prefixes where ${shortName(details.neighbor)} (linked to ${shortName(details.linkedTo)}) meets ${shortName(details.other)}`
    : "Overlapping prefixes";
  return h(
    "div",
    { class: "overlap" },
    h("p", null, "This side: ", cloudLink(thisSide), "; other side: ", cloudLink(otherSide), "."),
    table(
      caption,
      ["This side prefix", "Where from", "Other side prefix", "Where from"],
      details.overlaps.map((o) => [h("code", null, o.left), o.leftOrigin, h("code", null, o.right), o.rightOrigin]),
    ),
  );
}

/** What a disconnect cuts: the summary, then each side's routed prefixes. `level` is the heading level. */
export function impactView(impact, level, impactError) {
  if (impactError) {
    // The rest of the request stands; only this live read failed.
    return section("What this disconnect cuts", level, h("p", { class: "note" }, "Could not be read just now: ", h("code", null, impactError.code), " ", impactError.message));
  }
  if (!impact) return null;
  const side = (end) =>
    h(
      "div",
      null,
      h(`h${level + 1}`, null, "Routed by ", shortName(end.cloud)),
      end.routed && end.routed.length
        ? h("ul", { class: "prefixes" }, end.routed.map((r) => h("li", null, h("code", null, r.prefix), " ", h("span", { class: "muted" }, r.source))))
        : h("p", null, "No routed prefixes could be read."),
      end.unreadable && end.unreadable.length ? h("p", { class: "note" }, "Not read: ", end.unreadable.join("; ")) : null,
    );
  return section("What this disconnect cuts", level, h("p", null, impact.summary), h("div", { class: "sides" }, side(impact.source), side(impact.target)));
}

/** ARM reads that were refused, as a person reads them. */
export const refusedReads = (reads) => (reads || []).map((r) => `${r.read} of ${shortName(r.cloud)}: ${r.status} ${r.armCode} ${r.armMessage}`).join("; ");

/** Ask before deciding, in a modal <dialog> (it keeps focus inside and Escape cancels). Resolves true to go on. */
export function confirmDecision(request, approve) {
  return new Promise((resolve) => {
    const titleId = uid("dialog");
    const confirm = h("button", { type: "button", class: approve ? "primary" : "danger" }, approve ? "Confirm approval" : "Confirm rejection");
    const cancel = h("button", { type: "button" }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId, class: "confirm" },
      h("h2", { id: titleId }, approve ? "Approve this disconnect?" : "Reject this disconnect?"),
      h("p", null, `The link between ${shortName(request.source)} and ${shortName(request.target)} `, approve ? "will be removed." : "stays; the request ends as Rejected."),
      h("div", { class: "actions" }, confirm, cancel),
    );
    let answer = false;
    confirm.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.getElementById("main").append(dialog);
    dialog.showModal();
    cancel.focus(); // the safe choice first: Enter on a stray key press cancels
  });
}

/** Approve or reject after confirmation. Answers the request as it now stands, or null if cancelled or refused. */
export async function decide(request, approve) {
  if (!(await confirmDecision(request, approve))) return null;
  try {
    const verb = approve ? "approve" : "reject";
    const view = await api(`/api/requests/${encodeURIComponent(request.requestId)}/${verb}`, { method: "POST" });
    announce(`Request ${shortId(request.requestId)} ${approve ? "approved" : "rejected"}; it is now ${view.status}.`);
    return view;
  } catch (error) {
    showError(error);
    return null;
  }
}

/**
 * A labelled text input that suggests known clouds as you type (an <input list> fed by /api/console/clouds?q=),
 * and turns what was typed - a name, "name (resource group)" or an ARM id - into an ARM id.
 */
export function cloudPicker(label, { required = false } = {}) {
  const inputId = uid("cloud");
  const listId = uid("clouds");
  const hintId = uid("hint");
  const input = h("input", {
    id: inputId, type: "text", list: listId, autocomplete: "off", spellcheck: "false", required, "aria-describedby": hintId,
  });
  const list = h("datalist", { id: listId });
  const known = new Map(); // a name, casefolded -> Map(ARM id -> cloud) of the clouds of that name seen so far
  let timer = 0;
  let asked = "";

  const search = async (text) => {
    const { value } = await api("/api/console/clouds", { query: { q: text } });
    for (const cloud of value) {
      const key = cloud.name.toLowerCase();
      known.set(key, (known.get(key) || new Map()).set(cloud.id, cloud));
    }
    return value;
  };
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    // Wait for a pause in typing, so one search goes out per word rather than per key.
    timer = window.setTimeout(async () => {
      const text = input.value.trim();
      if (!text || text.startsWith("/") || text === asked) return;
      asked = text;
      try {
        const found = await search(text);
        // A name two clouds share is offered with its resource group, so each choice names one cloud.
        const shown = (c) => (known.get(c.name.toLowerCase()).size > 1 ? `${c.name} (${c.resourceGroup})` : c.name);
        fill(list, found.map((c) => h("option", { value: shown(c) }, `${c.resourceGroup} · ${c.subscription}`)));
      } catch {
        // Suggestions are a convenience; resolve() reports a real problem when the value is used.
      }
    }, 200);
  });

  /** The ARM id the input names; null when empty. Throws an ApiError saying what to fix. */
  async function resolve() {
    const text = input.value.trim();
    if (!text) return null;
    if (/^\/subscriptions\//i.test(text)) return text;
    const [, name, group] = /^(.*?)(?:\s*\(([^()]*)\))?$/.exec(text);
    if (!known.has(name.toLowerCase())) await search(name);
    const match = [...(known.get(name.toLowerCase()) || new Map()).values()].filter(
      (c) => !group || (c.resourceGroup || "").toLowerCase() === group.toLowerCase(),
    );
    if (match.length === 1) return match[0].id;
    if (match.length > 1) {
      throw new ApiError("CLOUD_AMBIGUOUS", `${label}: several clouds are named ${name}; pick one from the suggestions (they show the resource group).`);
    }
    throw new ApiError("CLOUD_NOT_FOUND", `${label}: no known private cloud is named "${text}". Type part of its name and pick it from the suggestions, or paste its ARM id.`);
  }

  /** Show an ARM id already chosen (from the address) by its name. */
  function show(armId) {
    if (!armId) return;
    const name = shortName(armId);
    known.set(name.toLowerCase(), new Map([[armId, { id: armId, name }]]));
    input.value = name;
  }

  const field = h(
    "div",
    { class: "field" },
    h("label", { for: inputId }, label),
    input,
    list,
    h("p", { id: hintId, class: "hint" }, "Type part of a name and pick a suggestion, or paste an ARM id."),
  );
  return { field, input, resolve, show };
}

/** Requests as a table (caption given), each row linking to its request. Answers the table and a map from
 * request id to its status cell, so live updates change only the status text. */
export function requestsTable(caption, requests) {
  const cells = new Map();
  const rows = requests.map((r) => {
    const status = h("span", null, statusBadge(r.status));
    cells.set(r.requestId, status);
    return [
      h("a", { href: `#/requests/${encodeURIComponent(r.requestId)}` }, `Request ${shortId(r.requestId)}`),
      when(r.createdAt),
      r.action,
      cloudLink(r.source),
      cloudLink(r.target),
      status,
      r.requestedBy ? r.requestedBy.display || `${r.requestedBy.channel}:${r.requestedBy.id}` : "",
    ];
  });
  const columns = ["Request", "Created", "Action", "Source", "Target", "Status", "Requested by"];
  return { table: table(caption, columns, rows, { wide: true }), cells };
}
