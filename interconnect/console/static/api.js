// Every call to the app: the bearer token on each request, never a cookie (so there is nothing for a cross-site
// request to ride on), and errors as the API states them, `{"error": {"code", "message"}}`, for the alert region.
import { accessToken, expire } from "./auth.js";
import { ApiError, readError, sessionEndedError } from "./errors.js";

/** Thrown once the session has ended (expired token, 401): the sign-in screen is already showing, so callers
 * need not show anything else. */
export const SIGNED_OUT = "SIGNED_OUT";

/**
 * api("/api/console/requests", {query: {status: "Failed"}}) -> parsed JSON.
 * Options: method, query (empty values left out: the API refuses `?cloud=` rather than reading it as absent),
 * body (sent as JSON), headers, as ("json" | "blob").
 */
export async function api(path, { method = "GET", query, body, headers = {}, as = "json" } = {}) {
  const token = accessToken();
  if (!token) {
    expire(sessionEndedError());
    throw new ApiError(SIGNED_OUT, "Signed out");
  }
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const init = {
    method,
    headers: { Accept: as === "blob" ? "*/*" : "application/json", Authorization: `Bearer ${token}`, ...headers },
    credentials: "omit",
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError("NETWORK_ERROR", "The console could not reach the app. Check the connection and try again.");
  }
  if (response.status === 401) {
    const error = await readError(response);
    expire(error);
    throw new ApiError(SIGNED_OUT, error.message, 401);
  }
  if (!response.ok) throw await readError(response);
  return as === "blob" ? response.blob() : response.json();
}
