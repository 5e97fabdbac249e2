// Errors as the console shows them: a stable code to quote and a message, read from whatever answered (the app,
// the identity provider, a proxy). Its own module, so api.js and auth.js both use it without importing each other.

export class ApiError extends Error {
  constructor(code, message, status = 0, details = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** The error an answer carries: the app's `{"error": {...}}`, OAuth's `{"error", "error_description"}`, or
 * failing both (a proxy's page, an empty body) the HTTP status, so the alert always has a code to quote. */
export async function readError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error;
  if (error && typeof error.code === "string") {
    return new ApiError(error.code, String(error.message || ""), response.status, error.details || {});
  }
  if (typeof error === "string") {
    return new ApiError(error, String(body.error_description || ""), response.status);
  }
  return new ApiError(`HTTP_${response.status}`, `The server answered ${response.status} ${response.statusText}.`, response.status);
}

export const sessionEndedError = () => new ApiError("SESSION_ENDED", "Your sign-in has ended; sign in again to continue.");
