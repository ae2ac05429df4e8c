// The public API: JSON requests with the bearer token, refreshed before it expires.
// The session (tokens) lives in localStorage so that it survives a reload.

const STORAGE_KEY = "videoEnhancer.session";
const REFRESH_MARGIN_MS = 60_000;

let session = readSession();
let refreshTimer = null;
let refreshing = null;
const signedOutListeners = [];

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function readSession() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY));
  } catch {
    return null;
  }
}

function storeTokens(tokens) {
  session = {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: Date.now() + tokens.expiresIn * 1000,
  };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  scheduleRefresh();
}

function forgetSession() {
  session = null;
  localStorage.removeItem(STORAGE_KEY);
  clearTimeout(refreshTimer);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const lifetime = session.expiresAt - Date.now();
  const delay = Math.max(0, Math.min(lifetime - REFRESH_MARGIN_MS, lifetime / 2));
  refreshTimer = setTimeout(() => refreshTokens().catch(() => {}), delay);
}

export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

export function isSignedIn() {
  return session !== null;
}

/** On page load: refresh at once when the stored access token is (nearly) expired. */
export async function resumeSession() {
  if (!session) return false;
  if (session.expiresAt - Date.now() < REFRESH_MARGIN_MS) {
    try {
      await refreshTokens();
    } catch {
      return false;
    }
  } else {
    scheduleRefresh();
  }
  return isSignedIn();
}

export function refreshTokens() {
  // One refresh at a time: a refresh token is single use.
  refreshing ??= (async () => {
    try {
      const tokens = await send("POST", "/auth/refresh", { body: { refreshToken: session.refreshToken }, auth: false });
      storeTokens(tokens);
    } catch (error) {
      if (error.status === 401 || error.status === 400 || error.status === 422) signOutLocally();
      throw error;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function signOutLocally() {
  forgetSession();
  for (const listener of signedOutListeners) listener();
}

export async function register(email, password) {
  await send("POST", "/auth/register", { body: { email, password }, auth: false });
  await login(email, password);
}

export async function login(email, password) {
  storeTokens(await send("POST", "/auth/login", { body: { email, password }, auth: false }));
}

export async function logout() {
  const refreshToken = session?.refreshToken;
  forgetSession();
  if (refreshToken) await send("POST", "/auth/logout", { body: { refreshToken }, auth: false }).catch(() => {});
}

export function forgetAfterAccountDeletion() {
  forgetSession();
}

/** A JSON request to the API; a 401 refreshes the tokens once and tries again. */
export async function api(method, path, options = {}) {
  if (refreshing) await refreshing.catch(() => {});
  try {
    return await send(method, path, options);
  } catch (error) {
    if (error.status !== 401 || options.auth === false || !session) throw error;
    await refreshTokens();
    return send(method, path, options);
  }
}

async function send(method, path, { body, auth = true, headers = {} } = {}) {
  const allHeaders = { Accept: "application/json", ...headers };
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  if (auth && session) allHeaders.Authorization = `Bearer ${session.accessToken}`;
  let response;
  try {
    response = await fetch(path, { method, headers: allHeaders, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const error = payload?.error ?? {};
    throw new ApiError(response.status, error.code ?? "HTTP_ERROR", error.message ?? `The server answered ${response.status}.`);
  }
  return payload;
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
