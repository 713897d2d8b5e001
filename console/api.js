// Talking to /api/v1: the key from sessionStorage as X-API-Key, no cookies, JSON in and
// out, the API's error shape turned into ApiError, and 429 waited out and retried.

export const KEY_STORAGE = 'driftguard.key';
const BASE = '/api/v1';

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage unavailable: nothing was kept
  }
}

/** A non-2xx answer: `message` is the API's `error.message`. */
export class ApiError extends Error {
  constructor(status, code, message, violations) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.violations = violations || [];
    // true once the app has already shown it (a 401 returns to sign-in)
    this.handled = false;
  }
}

let hooks = {
  unauthorized: () => {},
  rateLimited: () => {},
  rateLimitOver: () => {},
};

/**
 * unauthorized(message): the key was refused (already forgotten when called);
 * rateLimited(notice, seconds): a 429, retried after `seconds`;
 * rateLimitOver(notice): the wait is over.
 */
export function setHooks(next) {
  hooks = { ...hooks, ...next };
}

export function isAbort(err) {
  return !!err && err.name === 'AbortError';
}

function abortError() {
  return new DOMException('The view changed', 'AbortError');
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(abortError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Seconds from a Retry-After header (whole seconds, or an HTTP date); at least 1. */
export function retryAfterSeconds(header) {
  if (header) {
    const trimmed = header.trim();
    if (/^\d+$/.test(trimmed)) return Math.max(1, parseInt(trimmed, 10));
    const at = Date.parse(trimmed);
    if (!Number.isNaN(at)) return Math.max(1, Math.ceil((at - Date.now()) / 1000));
  }
  return 1;
}

function nextLink(header) {
  if (!header) return null;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/.exec(header);
  return m ? m[1] : null;
}

/**
 * One API call. `path` is below /api/v1 (e.g. "/contracts?limit=10"). Resolves with the
 * parsed body (or {data, next} with `full`), rejects with ApiError, or with an AbortError
 * when `signal` aborts (the view changed).
 */
export async function api(method, path, { body, signal, full } = {}) {
  for (;;) {
    const key = getKey();
    if (!key) {
      const err = new ApiError(401, 'unauthorized', 'Sign in with an API key first.');
      err.handled = true;
      hooks.unauthorized(null);
      throw err;
    }
    const headers = { 'X-API-Key': key, Accept: 'application/json' };
    const init = { method, headers, signal, credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    let text;
    try {
      res = await fetch(BASE + path, init);
      text = await res.text();
    } catch (e) {
      if (isAbort(e)) throw e;
      throw new ApiError(0, 'network', `Could not reach the DriftGuard server (${e && e.message ? e.message : e}).`);
    }
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (res.status === 429) {
      const seconds = retryAfterSeconds(res.headers.get('Retry-After'));
      const notice = `Rate limited; retrying in ${seconds} s`;
      hooks.rateLimited(notice, seconds);
      await sleep(seconds * 1000, signal);
      hooks.rateLimitOver(notice);
      continue;
    }
    if (res.ok) return full ? { data, next: nextLink(res.headers.get('Link')) } : data;

    const e = data && typeof data === 'object' && data.error && typeof data.error === 'object' ? data.error : {};
    const message = typeof e.message === 'string' && e.message
      ? e.message
      : `The server answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
    const err = new ApiError(res.status, typeof e.code === 'string' ? e.code : `http_${res.status}`, message,
      Array.isArray(e.violations) ? e.violations : []);
    if (res.status === 401) {
      // A wrong, revoked or deleted key: forget it and go back to sign-in with the message.
      if (getKey() === key) clearKey();
      err.handled = true;
      hooks.unauthorized(message);
    }
    throw err;
  }
}
