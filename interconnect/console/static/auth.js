// Sign-in: OAuth 2.0 authorization code with PKCE (S256), the answer in the URL fragment (response_mode=fragment)
// so the one-time code never reaches a server log or the Functions host (which reads `?code=` as a function key).
// The access token lives in sessionStorage: this tab only, gone when it closes, never sent unless we add it.
import { ApiError, readError } from "./errors.js";

const TOKEN = "interconnect.console.token"; // {accessToken, expiresAt (ms)}
const PENDING = "interconnect.console.signIn"; // {state, verifier, route}: what this tab started
const EARLY_MS = 30_000; // treat a token as ended a little early, so a call never leaves with one about to lapse

let config = null;
let ended = false; // a token lapsed since last asked: the sign-in screen says so
let onExpired = () => {};

/** Called with an ApiError when the session ends under the user (expired token, 401). */
export function whenExpired(handler) {
  onExpired = handler;
}

/** The sign-in settings the app publishes; a 503 CONSOLE_SIGN_IN_OFF when sign-in is not configured. */
export async function signInConfig() {
  if (!config) {
    const response = await fetch("/api/console/config", { headers: { Accept: "application/json" }, credentials: "omit" });
    if (!response.ok) throw await readError(response);
    config = (await response.json()).signIn;
  }
  return config;
}

/** The console's own URL, exactly as registered as the redirect URI (no fragment, no query). */
const redirectUri = () => window.location.origin + window.location.pathname;

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

/** Go to the identity provider; `route` (a hash like "#/plan") is where to come back to. */
export async function signIn(route) {
  const settings = await signInConfig();
  const state = randomString(16);
  const verifier = randomString(32); // 43 characters, the shortest RFC 7636 allows
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, route }));
  const url = new URL(settings.authorizationEndpoint);
  url.search = new URLSearchParams({
    client_id: settings.clientId,
    response_type: "code",
    response_mode: "fragment",
    redirect_uri: redirectUri(),
    scope: settings.scope,
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

/** Whether the fragment is the identity provider's answer rather than a page of ours. */
export function isSignInAnswer(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return params.has("state") && (params.has("code") || params.has("error"));
}

/** Finish a sign-in from the fragment: check state, trade the code for a token. The fragment is cleared first,
 * so the code is gone from the address bar and history whatever happens next. */
export async function completeSignIn() {
  const answer = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  const route = pending && typeof pending.route === "string" && pending.route.startsWith("#/") ? pending.route : "#/requests";
  window.history.replaceState(null, "", redirectUri() + route);
  if (answer.has("error")) {
    throw new ApiError(answer.get("error"), answer.get("error_description") || "The sign-in was not completed.");
  }
  if (!pending || answer.get("state") !== pending.state) {
    throw new ApiError("SIGN_IN_STATE_MISMATCH", "This sign-in answer is not for the sign-in this tab started; sign in again.");
  }
  const settings = await signInConfig();
  let response;
  try {
    response = await fetch(settings.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      credentials: "omit",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: settings.clientId,
        code: answer.get("code"),
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
        scope: settings.scope,
      }),
    });
  } catch {
    throw new ApiError("NETWORK_ERROR", "The sign-in service could not be reached; try again.");
  }
  if (!response.ok) throw await readError(response);
  const token = await response.json();
  if (typeof token.access_token !== "string") {
    throw new ApiError("SIGN_IN_NO_TOKEN", "The sign-in service answered without an access token.");
  }
  const lifetime = Number(token.expires_in) > 0 ? Number(token.expires_in) : 3600;
  sessionStorage.setItem(TOKEN, JSON.stringify({ accessToken: token.access_token, expiresAt: Date.now() + lifetime * 1000 }));
}

/** The access token, or null when there is none or it has (nearly) expired. */
export function accessToken() {
  let stored = null;
  try {
    stored = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
  } catch {
    stored = null;
  }
  if (!stored || typeof stored.accessToken !== "string") return null;
  if (Date.now() > stored.expiresAt - EARLY_MS) {
    sessionStorage.removeItem(TOKEN);
    ended = true;
    return null;
  }
  return stored.accessToken;
}

/** Whether a token lapsed since the last call (then forgets it). */
export function sessionEnded() {
  const was = ended;
  ended = false;
  return was;
}

export function signOut() {
  ended = false;
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(PENDING);
}

/** The session ended under the user: forget the token and show the sign-in screen with why. */
export function expire(error) {
  signOut();
  onExpired(error);
}
