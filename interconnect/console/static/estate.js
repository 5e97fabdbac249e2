// The estate: the latest audit's topology picture and findings, starting an audit; and one cloud's page.
import { api } from "./api.js";
import { announce, cloudLink, facts, fill, h, section, showError, table, when } from "./dom.js";
import { refusedReads, requestsTable } from "./views.js";

const SEVERITY_ORDER = ["critical", "warning", "info"];
const AUDIT_POLL_MS = 2000;
const AUDIT_WAIT_MS = 5 * 60_000;

/** The latest audit run, or null when none has run yet (404). */
async function latestAudit() {
  try {
    return await api("/api/console/audits/latest");
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

export async function estatePage(root, ctx) {
  const start = h("button", { type: "button", class: "primary" }, "Start an audit");
  const progress = h("p", { class: "hint" });
  const body = h("div", null, h("p", null, "Loading…"));
  fill(root, h("h1", null, "Estate"), h("div", { class: "actions" }, start, progress), body);

  const show = async (run) => fill(body, run ? await auditView(run, ctx) : h("p", null, "No audit has run yet. Start one to see the estate."));

  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const started = await api("/api/console/audits", { method: "POST" });
      progress.textContent = "Audit running…";
      announce("Audit started.");
      // The audit runs in the worker: wait until the latest run is this one, then show it.
      const deadline = Date.now() + AUDIT_WAIT_MS;
      const wait = async () => {
        if (!ctx.alive()) return;
        try {
          const run = await latestAudit();
          if (run && run.runId === started.runId) {
            await show(run);
            progress.textContent = "";
            start.disabled = false;
            announce(`Audit finished: ${run.summary.findings} findings, ${run.summary.new} new, ${run.summary.resolved} resolved.`);
            return;
          }
        } catch (error) {
          showError(error);
        }
        if (Date.now() > deadline) {
          progress.textContent = "The audit has not finished yet; come back to this page later.";
          start.disabled = false;
          return;
        }
        ctx.later(wait, AUDIT_POLL_MS);
      };
      ctx.later(wait, AUDIT_POLL_MS);
    } catch (error) {
      start.disabled = false;
      showError(error);
    }
  });

  await show(await latestAudit());
}

async function auditView(run, ctx) {
  const s = run.summary;
  // The picture and its graph are fetched with the bearer token (an <img src> could not send it), then shown
  // from a blob: URL released when the page is left.
  const [svg, graph] = await Promise.all([
    api("/api/console/topology", { query: { format: "svg" }, as: "blob" }),
    api("/api/console/topology", { query: { format: "json" } }),
  ]);
  const pictureUrl = URL.createObjectURL(svg);
  ctx.onLeave(() => URL.revokeObjectURL(pictureUrl));
  const byStatus = {};
  for (const edge of graph.edges) byStatus[edge.status] = (byStatus[edge.status] || 0) + 1;
  const statusText = Object.entries(byStatus).map(([k, v]) => `${v} ${k}`).join(", ");
  const alt =
    `Topology of the latest audit: ${graph.nodes.length} clouds in ${graph.regions.length} regions ` +
    `(${graph.regions.map((r) => r.name).join(", ")}), ${graph.edges.length} links${statusText ? ` (${statusText})` : ""}` +
    `${graph.findings.length ? `, with ${graph.findings.length} findings highlighted` : ""}.`;

  const findings = [...run.findings].sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  const counts = SEVERITY_ORDER.map((sev) => `${findings.filter((f) => f.severity === sev).length} ${sev}`).join(", ");
  const names = new Map(graph.nodes.map((n) => [n.id.toLowerCase(), n]));

  return [
    h(
      "p",
      null,
      `Latest audit finished `,
      when(run.finishedAt),
      `: ${s.clouds} clouds, ${s.links} links, ${s.findings} findings (${s.new} new), ${s.resolved} resolved since the previous run.`,
    ),
    section("Topology", 2, h(
        "figure",
        { class: "topology" },
        h("div", { class: "picture", tabindex: 0, role: "region", "aria-label": "Topology picture (scrolls sideways)" }, h("img", { src: pictureUrl, alt })),
        h("figcaption", null, graph.legend || "Clouds by region; links by status."),
      )),
    section(
      "Clouds",
      2,
      graph.regions.map((region) =>
        h(
          "div",
          { class: "region" },
          h("h3", null, region.name),
          h("ul", { class: "clouds" }, region.clouds.map((id) => h("li", null, cloudLink(id), names.get(id.toLowerCase())?.external ? " (outside the audited subscriptions)" : ""))),
        ),
      ),
    ),
    section(
      "Findings",
      2,
      h("p", null, `By severity: ${counts}.`),
      findings.length
        ? table(
            "Findings",
            ["Severity", "Code", "Message", "Clouds", "State"],
            findings.map((f) => [
              h("span", { class: `badge severity-${f.severity}` }, f.severity),
              h("code", null, f.code),
              f.message,
              f.clouds.map((c, i) => [i ? ", " : "", cloudLink(c)]),
              f.state === "new" ? h("strong", null, "new") : "open",
            ]),
            { wide: true },
          )
        : h("p", null, "No findings: every check passed."),
    ),
    section(
      "Resolved since the previous run",
      2,
      run.resolved.length
        ? h("ul", null, run.resolved.map((f) => h("li", null, h("code", null, f.code), " ", f.message, " (", f.clouds.map((c, i) => [i ? ", " : "", cloudLink(c)]), ")")))
        : h("p", null, "Nothing resolved since the previous run."),
    ),
    run.problems.length ? section("Not read in this audit", 2, h("ul", null, run.problems.map((p) => h("li", null, p)))) : null,
  ];
}

export async function cloudPage(root, ctx, armId) {
  const heading = h("h1", null, armId.split("/").pop());
  const body = h("div", null, h("p", null, "Loading…"));
  fill(root, heading, body);
  const data = await api("/api/console/cloud", { query: { id: armId } });
  if (!ctx.alive()) return;
  const cloud = data.cloud;
  heading.textContent = cloud.name;
  ctx.retitle(cloud.name);
  const links = data.links;
  fill(
    body,
    facts([
      ["Location", cloud.location],
      ["Provisioning state", cloud.provisioningState],
      ["Resource group", cloud.resourceGroup],
      ["Subscription", cloud.subscription],
      ["ARM id", h("code", { class: "arm-id" }, cloud.id)],
    ]),
    h("p", null, h("a", { href: `#/plan?source=${encodeURIComponent(cloud.id)}` }, `Plan a link from ${cloud.name}`)),
    section(
      "Links",
      2,
      links.value.length
        ? table(
            `Links of ${cloud.name}`,
            ["Name", "Direction", "Other cloud", "Status"],
            links.value.map((l) => [l.name || "(unknown)", l.direction, cloudLink(l.otherCloud), l.status]),
          )
        : h("p", null, "No links in or out."),
      links.complete ? null : h("p", { class: "note" }, `Some links could not be read: ${refusedReads(links.refusedReads)}`),
    ),
    section(
      "Routed prefixes",
      2,
      data.routed.length
        ? table(`Prefixes ${cloud.name} routes`, ["Prefix", "Where from"], data.routed.map((r) => [h("code", null, r.prefix), r.source]))
        : h("p", null, "No routed prefixes could be read."),
      data.unreadable && data.unreadable.length ? h("p", { class: "note" }, "Not read: ", data.unreadable.join("; ")) : null,
    ),
    section(
      "Requests",
      2,
      data.requests.length ? requestsTable(`Latest requests for ${cloud.name}`, data.requests).table : h("p", null, "No requests for this cloud."),
    ),
  );
}
