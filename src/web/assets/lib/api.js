// @ts-check
// Calls to the server's JSON API, its errors, and the API keys this tab has
// seen in full (for the Playground).

import { toast } from './components.js';
import { t } from './i18n.js';
import { go } from './router.js';
import { S } from './state.js';

/** An answer other than 2xx (status 0: no answer at all). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {string} [code] the error's `code`
   */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Call the server's JSON API. A 401 ends the session (back to the login)
 * unless `opts.quiet401`.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON
 * @param {{ quiet401?: boolean }} [opts]
 * @returns {Promise<any>} the JSON answer (null when empty)
 * @throws {ApiError}
 */
export async function api(method, path, body, opts) {
  const options = opts || {};
  /** @type {RequestInit & { headers: Record<string, string> }} */
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (_) {
    throw new ApiError(0, t('err.network'), 'network');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const message = (data && data.error && data.error.message) || ('HTTP ' + res.status);
    const code = data && data.error && data.error.code;
    if (res.status === 401 && !options.quiet401) sessionEnded();
    throw new ApiError(res.status, message, code);
  }
  return data;
}

/**
 * @param {any} err
 * @returns {string} what to tell the admin
 */
export function errorText(err) {
  if (err instanceof ApiError) return err.message;
  return (err && err.message) || t('err.generic');
}

/** The server no longer knows this session: say so and show the login. */
export function sessionEnded() {
  if (S.authed === false) return;
  S.authed = false;
  toast(t('err.session'), 'error');
  go('login');
}

// Keys created in this tab (and the first key from setup), for the Playground.
/**
 * @typedef {object} StoredKey
 * @property {string} id
 * @property {string} name
 * @property {string} prefix
 * @property {string} role
 * @property {string} key the secret
 */
const KEYSTORE = 'ragway.playground.keys';

/**
 * @returns {StoredKey[]}
 */
export function storedKeys() {
  try {
    const list = JSON.parse(sessionStorage.getItem(KEYSTORE) || '[]');
    return Array.isArray(list) ? list : [];
  } catch (_) {
    return [];
  }
}

/**
 * @param {any} key a key as created, with its secret in `key`
 */
export function rememberKey(key) {
  if (!key || !key.key) return;
  const list = storedKeys().filter((k) => k.id !== key.id);
  list.unshift({ id: key.id, name: key.name, prefix: key.prefix, role: key.role, key: key.key });
  try { sessionStorage.setItem(KEYSTORE, JSON.stringify(list.slice(0, 50))); } catch (_) { /* ignore */ }
}
