// The console's shell: sign-in state, the header, and hash routing (#/requests, #/requests/<id>, #/approvals,
// #/plan, #/estate, #/clouds/<ARM id>). Each page renders into a fresh container; leaving a page stops its timers
// and makes its late answers land nowhere.
import { api } from "./api.js";
import * as auth from "./auth.js";
import { sessionEndedError } from "./errors.js";
import { announce, clearError, fill, h, showError } from "./dom.js";
import { approvalsPage } from "./approvals.js";
import { cloudPage, estatePage } from "./estate.js";
import { planPage } from "./plan.js";
import { requestPage, requestsPage } from "./requests.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const main = document.getElementById("main");

let me = null; // GET /api/console/me, read once per sign-in
let leave = () => {}; // stops the current page

const ROUTES = [
  [/^\/requests$/, requestsPage],
  [/^\/requests\/([^/]+)$/, requestPage],
  [/^\/approvals$/, approvalsPage],
  [/^\/plan$/, planPage],
  [/^\/estate$/, estatePage],
  [/^\/clouds\/([^/]+)$/, cloudPage],
];

function go(hash, { reload = false } = {}) {
  if (window.location.hash === hash || reload) {
    if (window.location.hash !== hash) window.history.pushState(null, "", hash);
    route();
  } else {
    window.location.hash = hash; // hashchange routes
  }
}

async function route({ focus = true } = {}) {
  leave();
  clearError();
  if (!auth.accessToken()) {
    showSignIn(auth.sessionEnded() ? sessionEndedError() : null);
    return;
  }
  let stopped = false;
  const timers = new Set();
  const cleanups = [];
  leave = () => {
    stopped = true;
    for (const timer of timers) window.clearTimeout(timer);
    for (const cleanup of cleanups) cleanup();
  };
  const alive = () => !stopped;
  try {
    if (!me) {
      me = await api("/api/console/me");
      fill(document.getElementById("who-name"), me.name || me.caller);
      nav.hidden = false;
      who.hidden = false;
    }
    if (!alive()) return;
    const [given, query] = window.location.hash.slice(1).split("?");
    const path = given === "" || given === "/" ? "/requests" : given;
    let page = null;
    let args = [];
    for (const [pattern, render] of ROUTES) {
      const match = pattern.exec(path);
      if (match) {
        page = render;
        args = match.slice(1).map(decodeURIComponent);
      }
    }
    markCurrent(path);
    const root = h("div");
    view.replaceChildren(root);
    const ctx = {
      me,
      params: new URLSearchParams(query || ""),
      alive,
      later: (fn, ms) => {
        const timer = window.setTimeout(() => {
          timers.delete(timer);
          if (alive()) fn();
        }, ms);
        timers.add(timer);
      },
      onLeave: (fn) => cleanups.push(fn),
      go,
      retitle: (title) => {
        document.title = `${title} · Interconnect console`;
      },
    };
    const done = page ? page(root, ctx, ...args) : notFound(root);
    // Each page draws its heading before it waits for data; moving focus there tells a screen reader the page
    // changed (a hash change alone says nothing) and puts keyboard users at the top of the new content.
    const heading = root.querySelector("h1");
    if (heading) {
      ctx.retitle(heading.textContent);
      if (focus) {
        heading.tabIndex = -1;
        heading.focus();
      }
    }
    await done;
  } catch (error) {
    if (alive()) showError(error);
  }
}

function notFound(root) {
  fill(root, h("h1", null, "Page not found"), h("p", null, "This address names no page. ", h("a", { href: "#/requests" }, "Go to the requests.")));
}

function markCurrent(path) {
  for (const link of nav.querySelectorAll("a")) {
    const current = path === link.hash.slice(1) || path.startsWith(`${link.hash.slice(1)}/`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showSignIn(error) {
  leave();
  leave = () => {};
  me = null;
  nav.hidden = true;
  who.hidden = true;
  document.title = "Sign in · Interconnect console";
  const button = h("button", { type: "button", class: "primary" }, "Sign in with Microsoft Entra ID");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const back = window.location.hash.startsWith("#/") ? window.location.hash : "#/requests";
      await auth.signIn(back);
    } catch (failure) {
      button.disabled = false;
      showError(failure);
    }
  });
  fill(
    view,
    h("h1", null, "Sign in"),
    h("p", null, "Sign in to follow link requests, approve disconnects, plan links and see the estate."),
    button,
  );
  if (error) showError(error);
}

async function start() {
  document.getElementById("skip-link").addEventListener("click", (event) => {
    // The skip link must not change the hash: that would be read as a route.
    event.preventDefault();
    main.focus();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    auth.signOut();
    showSignIn();
    announce("Signed out.");
  });
  auth.whenExpired((error) => showSignIn(error));
  window.addEventListener("hashchange", () => route());
  if (auth.isSignInAnswer(window.location.hash)) {
    try {
      await auth.completeSignIn();
    } catch (error) {
      showSignIn(error);
      return;
    }
  }
  route({ focus: false });
}

start();
