// The approvals inbox: disconnects waiting for this person, each with what it cuts and approve/reject.
import { api } from "./api.js";
import { facts, fill, h, shortId, shortName, uid, when } from "./dom.js";
import { decide, impactView } from "./views.js";

export async function approvalsPage(root, ctx) {
  const list = h("div", { class: "inbox" }, h("p", null, "Loading…"));
  const refresh = h("button", { type: "button", onclick: () => ctx.go("#/approvals", { reload: true }) }, "Refresh");
  const heading = h("h1", { tabindex: -1 }, "Approvals");
  fill(root, heading, h("p", null, "Disconnects waiting for your decision. ", refresh), list);

  const inbox = await api("/api/console/approvals");
  if (!ctx.alive()) return;
  if (!inbox.canApprove) {
    fill(list, h("p", null, "You hold no approver right, so no disconnect waits for you."));
  } else if (!inbox.value.length) {
    fill(list, h("p", null, "Nothing waits for your approval."));
  } else {
    // A decided disconnect leaves the inbox (decide() has announced where it now stands); focus goes back to the
    // heading, since the button that had it is gone.
    const decided = (card) => {
      card.remove();
      if (!list.querySelector("article")) fill(list, h("p", null, "Nothing else waits for your approval."));
      heading.focus();
    };
    fill(list, inbox.value.map((request) => article(request, decided)));
  }
}

function article(request, decided) {
  const headingId = uid("approval");
  const choose = (approve) => async () => {
    if (await decide(request, approve)) decided(card);
  };
  const who = request.requestedBy || {};
  const card = h(
    "article",
    { class: "card", "aria-labelledby": headingId },
    h("h2", { id: headingId }, `Disconnect ${shortName(request.source)} and ${shortName(request.target)}`),
    facts([
      ["Request", requestLink(request)],
      ["Requested by", who.display || `${who.channel}:${who.id}`],
      ["Requested at", when(request.createdAt)],
      ["Ticket or reference", request.reference || "none given"],
      ["Decide before", request.approval ? when(request.approval.deadline) : ""],
    ]),
    impactView(request.impact, 3, request.impactError),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: choose(true) }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: choose(false) }, "Reject"),
    ),
  );
  return card;
}

const requestLink = (request) => h("a", { href: `#/requests/${encodeURIComponent(request.requestId)}` }, `Request ${shortId(request.requestId)}`);
