// The planner: pick two clouds, check (the dry run: every rule on live facts, nothing recorded), then submit
// with a ticket reference and follow the new request.
import { api } from "./api.js";
import { announce, clearError, cloudLink, facts, fill, h, section, showError, uid } from "./dom.js";
import { cloudPicker, impactView, reasonList, refusedReads } from "./views.js";

const WHAT = {
  create: "the link would be made.",
  delete: "the link would be removed.",
  noop: "nothing to change, the clouds are already as asked.",
  reject: "the request would be rejected.",
};

export async function planPage(root, ctx) {
  const source = cloudPicker("Source cloud", { required: true });
  const target = cloudPicker("Target cloud", { required: true });
  source.show(ctx.params.get("source"));
  const actionId = uid("action");
  const action = h("select", { id: actionId }, h("option", { value: "connect" }, "connect"), h("option", { value: "disconnect" }, "disconnect"));
  const referenceId = uid("reference");
  const reference = h("input", { id: referenceId, type: "text", maxlength: 200, autocomplete: "off", "aria-describedby": `${referenceId}-hint` });
  const verdict = h("div", { class: "verdict" });
  const submit = h("button", { type: "button", class: "primary", disabled: true, "aria-describedby": `${referenceId}-why` }, "Submit request");
  const why = h("p", { id: `${referenceId}-why`, class: "hint" }, "Check the plan first.");

  // What was checked: submit sends exactly this, under one idempotency key, so a double click files one request.
  let checked = null;
  const invalidate = () => {
    if (!checked) return;
    checked = null;
    submit.disabled = true;
    why.textContent = "Changed since the check: check again.";
  };
  for (const control of [source.input, target.input, action]) control.addEventListener("input", invalidate);

  const form = h(
    "form",
    { class: "plan", "aria-label": "Plan" },
    source.field,
    target.field,
    h("div", { class: "field" }, h("label", { for: actionId }, "Action"), action),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Check")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    try {
      const body = { action: action.value, source: await source.resolve(), target: await target.resolve() };
      fill(verdict, h("p", null, "Checking…"));
      const plan = await api("/api/console/requests", { method: "POST", query: { dryRun: "true" }, body });
      if (!ctx.alive()) return;
      fill(verdict, verdictView(plan));
      announce(`${plan.allowed ? "Allowed" : "Refused"}: ${WHAT[plan.wouldDo] || plan.wouldDo}`);
      checked = plan.allowed ? { body, key: crypto.randomUUID() } : null;
      submit.disabled = !checked || !ctx.me.canRequest;
      why.textContent = !plan.allowed
        ? "The check refused this link, so there is nothing to submit."
        : ctx.me.canRequest
          ? "Ready: this submits exactly what was checked."
          : "You hold no right to request links.";
    } catch (error) {
      fill(verdict);
      showError(error);
    }
  });

  submit.addEventListener("click", async () => {
    if (!checked) return;
    clearError();
    submit.disabled = true;
    try {
      const ref = reference.value.trim();
      const accepted = await api("/api/console/requests", {
        method: "POST",
        headers: { "Idempotency-Key": checked.key },
        body: { ...checked.body, ...(ref ? { reference: ref } : {}) },
      });
      announce("Request submitted.");
      ctx.go(`#/requests/${encodeURIComponent(accepted.requestId)}`);
    } catch (error) {
      submit.disabled = false;
      showError(error);
    }
  });

  fill(
    root,
    h("h1", null, "Plan a link"),
    h("p", null, "Check a link before asking for it: every rule runs on live facts and nothing is recorded."),
    form,
    verdict,
    h(
      "div",
      { class: "submit" },
      h("div", { class: "field" }, h("label", { for: referenceId }, "Ticket reference"), reference, h("p", { id: `${referenceId}-hint`, class: "hint" }, "The ticket or change this request belongs to (optional).")),
      submit,
      why,
    ),
  );
}

function verdictView(plan) {
  return section(
    "Verdict",
    2,
    h("p", { class: plan.allowed ? "allowed" : "refused" }, h("strong", null, plan.allowed ? "Allowed" : "Refused"), `: ${WHAT[plan.wouldDo] || plan.wouldDo}`),
    // The outcome of a refusal repeats its first reason; say it only when it adds something.
    plan.outcome && !plan.reasons.some((r) => r.message === plan.outcome) ? h("p", null, plan.outcome) : null,
    plan.reasons.length ? reasonList(plan.reasons) : h("p", null, "Every rule passed."),
    impactView(plan.impact, 3),
    factsView(plan.facts),
  );
}

/** The facts the rules read, so a person can see why without asking. */
function factsView(read) {
  if (!read) return null;
  const end = (title, cloud) =>
    cloud
      ? h(
          "div",
          { class: "fact-end" },
          h("h4", null, title, ": ", cloudLink(cloud.cloud)),
          facts([
            ["Location", cloud.location],
            ["Provisioning state", cloud.provisioningState],
            ["Routed prefixes", cloud.routedPrefixes.map((p) => `${p.prefix} (${p.origin})`).join(", ") || "none"],
            ["Unreadable prefixes", cloud.unreadablePrefixes.join("; ")],
          ]),
        )
      : h("p", null, `${title}: could not be read.`);
  return section(
    "Facts read",
    3,
    h("div", { class: "sides" }, end("Source", read.source), end("Target", read.target)),
    facts([
      ["Links of either cloud", read.links.map((l) => `${l.name} (${l.status})`).join(", ") || "none"],
      ["Requests in flight for these clouds", read.pendingRequests.map((p) => p.requestId.split("-")[0]).join(", ")],
      ["Reads refused", refusedReads(read.refusedReads)],
      ["Policy", read.policy],
    ]),
  );
}
