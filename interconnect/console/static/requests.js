// The requests list (filters, paging, live status) and one request (status polled until it ends, verdict,
// timeline, ARM operation, origin, approve/reject).
import { api } from "./api.js";
import { announce, cloudLink, facts, fill, h, section, shortId, showError, STATUSES, statusBadge, TERMINAL, uid, when } from "./dom.js";
import { cloudPicker, decide, impactView, reasonList, requestsTable } from "./views.js";

const LIST_REFRESH_MS = 5000;
const POLL_MS = 2000;
const FILTERS = ["cloud", "status", "requester", "since", "until"];

/** A labelled control, with an optional hint the control is described by. */
function field(label, control, hint) {
  control.id = uid("field");
  const hintEl = hint ? h("p", { id: `${control.id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

export async function requestsPage(root, ctx) {
  const params = ctx.params;
  const cloud = cloudPicker("Cloud");
  cloud.show(params.get("cloud"));
  const status = h("select", null, h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = params.get("status") || "";
  const requester = h("input", { type: "text", autocomplete: "off", value: params.get("requester") || "" });
  const since = h("input", { type: "date", value: params.get("since") || "" });
  const until = h("input", { type: "date", value: params.get("until") || "" });
  const results = h("div", { class: "results" });

  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters" },
    cloud.field,
    field("Status", status),
    field("Requester", requester, "me, or an id such as api:<object id> or slack:T01/U02."),
    field("From", since),
    field("To", until),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Apply filters")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const query = new URLSearchParams();
      const values = { cloud: await cloud.resolve(), status: status.value, requester: requester.value.trim(), since: since.value, until: until.value };
      for (const name of FILTERS) if (values[name]) query.set(name, values[name]);
      ctx.go(`#/requests${query.toString() ? `?${query}` : ""}`);
    } catch (error) {
      showError(error);
    }
  });
  fill(root, h("h1", null, "Requests"), form, results);

  const query = { limit: 25, continuation: params.get("continuation") };
  for (const name of FILTERS) query[name] = params.get(name);
  const page = await api("/api/console/requests", { query });
  if (!ctx.alive()) return;
  const { table, cells } = requestsTable("Requests", page.value);
  const nextQuery = new URLSearchParams(params);
  nextQuery.set("continuation", page.continuation || "");
  const firstQuery = new URLSearchParams(params);
  firstQuery.delete("continuation");
  fill(
    results,
    page.value.length ? table : h("p", null, "No requests match these filters."),
    page.skipped ? h("p", { class: "note" }, `${page.skipped} request(s) on this page could not be read; the app log says why.`) : null,
    h(
      "div",
      { class: "pager" },
      params.get("continuation") ? h("a", { href: `#/requests?${firstQuery}` }, "First page") : null,
      page.continuation ? h("button", { type: "button", onclick: () => ctx.go(`#/requests?${nextQuery}`) }, "Next page") : null,
    ),
  );

  // Live status: while any listed request is unfinished, read the same page again and update the status cells
  // in place (rows are not rebuilt, so keyboard focus and scroll stay put).
  const refresh = async () => {
    if (!ctx.alive() || ![...cells.values()].some((cell) => !TERMINAL.has(cell.textContent))) return;
    try {
      const again = await api("/api/console/requests", { query });
      for (const r of again.value) {
        const cell = cells.get(r.requestId);
        if (cell && cell.textContent !== r.status) fill(cell, statusBadge(r.status));
      }
    } catch {
      // A missed refresh is retried on the next tick; the list itself is still right as of its last read.
    }
    ctx.later(refresh, LIST_REFRESH_MS);
  };
  ctx.later(refresh, LIST_REFRESH_MS);
}

const WHY_NOT = {
  SELF_APPROVAL: "You asked for this disconnect, so someone else must approve or reject it.",
  NOT_AN_APPROVER: "You hold no approver right for this link.",
  APPROVER_NOT_VERIFIED: "Deciding needs a person verified by an Entra sign-in.",
  APPROVAL_EXPIRED: "The time to decide has passed; the request will end as Expired.",
};

export async function requestPage(root, ctx, requestId) {
  const statusText = h("span", { role: "status", class: "status-value" });
  const actions = h("div", { class: "actions" });
  const body = h("div");
  fill(root, h("h1", null, `Request ${shortId(requestId)}`), h("p", { class: "status-line" }, "Status: ", statusText), actions, body);

  let shown = "";
  let deciding = false;
  const render = (view) => {
    if (statusText.textContent !== view.status) statusText.textContent = view.status;
    statusText.className = `status-value badge status-${view.status.toLowerCase()}`;
    const snapshot = JSON.stringify(view);
    if (snapshot === shown) return; // nothing new: keep the page exactly as it is (focus, selection)
    shown = snapshot;
    renderActions(view);
    fill(body, details(view));
  };
  const renderActions = (view) => {
    if (deciding) return;
    const viewer = view.viewer || {};
    const choose = (approve) => async () => {
      deciding = true;
      const decided = await decide(view, approve);
      deciding = false;
      if (decided) await load();
    };
    fill(
      actions,
      viewer.canDecide
        ? [
            h("button", { type: "button", class: "primary", onclick: choose(true) }, "Approve"),
            h("button", { type: "button", class: "danger", onclick: choose(false) }, "Reject"),
          ]
        : view.status === "AwaitingApproval" && WHY_NOT[viewer.why]
          ? h("p", { class: "note" }, WHY_NOT[viewer.why])
          : null,
    );
  };
  const load = async () => {
    const view = await api(`/api/console/requests/${encodeURIComponent(requestId)}`);
    if (ctx.alive()) render(view);
    return view;
  };

  // Poll every 2 s until the request ends; a failed read is shown and retried, except a 4xx, which will not
  // change by asking again.
  const poll = async () => {
    try {
      const view = await load();
      if (TERMINAL.has(view.status)) {
        announce(`Request ${shortId(requestId)} ended: ${view.status}.`);
        return;
      }
    } catch (error) {
      if (!ctx.alive()) return;
      showError(error);
      if (error.status >= 400 && error.status < 500) return;
    }
    ctx.later(poll, POLL_MS);
  };
  const first = await load();
  if (!TERMINAL.has(first.status)) ctx.later(poll, POLL_MS);
}

function details(view) {
  const who = view.requestedBy || {};
  return [
    facts([
      ["Action", view.action],
      ["Source", cloudLink(view.source)],
      ["Target", cloudLink(view.target)],
      ["Requested by", who.display || `${who.channel}:${who.id}`],
      ["Created", when(view.createdAt)],
      ["Updated", when(view.updatedAt)],
      ["Outcome", view.outcome],
      ["Approval deadline", view.approval && view.status === "AwaitingApproval" ? when(view.approval.deadline) : ""],
      ["Decided by", view.approval && view.approval.decidedBy ? [view.approval.decidedBy, " at ", when(view.approval.decidedAt)] : ""],
    ]),
    impactView(view.impact, 2, view.impactError),
    section(
      "Verdict",
      2,
      view.reasons && view.reasons.length
        ? reasonList(view.reasons)
        : h("p", null, ["Accepted", "Validating"].includes(view.status) ? "Not checked yet." : "No rule refused this request."),
    ),
    section("ARM operation", 2, operation(view)),
    section("Timeline", 2, timeline(view.events || [], who)),
    section(
      "Origin",
      2,
      facts([
        ["Channel", who.channel],
        ["Requester id", `${who.channel}:${who.id}`],
        ["Ticket or reference", view.reference || "none given"],
        ["Correlation id", view.correlationId],
      ]),
    ),
  ];
}

function operation(view) {
  const op = view.operation;
  if (!op) {
    return h("p", null, TERMINAL.has(view.status) ? "No ARM operation was needed." : "No ARM operation has started yet.");
  }
  return facts([
    ["Operation", op.verb === "create" ? "Create the link (PUT cloudLinks)" : "Remove the link (DELETE cloudLinks)"],
    ["Link", op.linkName],
    ["Held by", cloudLink(op.cloud)],
    ["Started", when(op.startedAt)],
    ["Checks so far", String(op.checks)],
    ["Gives up at", when(op.deadline)],
  ]);
}

function timeline(events, who) {
  const requester = `${who.channel}:${who.id}`;
  const actor = (id) => (id === requester && who.display ? `${who.display} (${id})` : id);
  if (!events.length) return h("p", null, "No events recorded.");
  return h(
    "ol",
    { class: "timeline" },
    events.map((e) =>
      h(
        "li",
        null,
        h("p", { class: "event-head" }, when(e.at), " · ", h("span", { class: "actor" }, actor(e.actor)), " · ", statusBadge(e.status)),
        h("p", null, e.message),
        // Codes only: the Verdict section above has the full reasons and their tables.
        e.reasons && e.reasons.length ? h("p", null, "Reasons: ", e.reasons.map((r, i) => [i ? ", " : "", h("code", null, r.code)])) : null,
      ),
    ),
  );
}
