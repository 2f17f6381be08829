// @ts-check
// The app's state in this tab, shared by every module: the language, the
// session as last seen, the page token and cleanups of the router, and what
// pages keep between visits (the Playground's chat, the filters).

/**
 * The Playground's chat, kept while the admin visits other pages.
 * @typedef {object} PlaygroundState
 * @property {any[]} messages
 * @property {string | null} convId
 * @property {string | null} model
 * @property {string | null} protocol the client protocol the playground speaks (lib/protocols.js)
 * @property {string | null} keyChoice
 * @property {string} pasted
 * @property {boolean} busy
 * @property {AbortController | null} abort
 */

/**
 * @typedef {object} AppState
 * @property {string} lang 'en' or 'zh'
 * @property {boolean | null} setupRequired null until asked
 * @property {boolean | null} authed null until asked
 * @property {number} token bumped by every rendering (see router.js)
 * @property {Array<() => void>} cleanups run before the next rendering
 * @property {boolean} navOpen
 * @property {PlaygroundState} pg
 * @property {any} [setupDone] the first key, shown once after setup
 * @property {string | null} [afterLogin] the hash to go back to after login
 * @property {string} [convKey] the Conversations page's key filter
 * @property {{ key: string, status: string, endpoint: string, model: string }} [logFilters]
 */

export const LANGS = ['en', 'zh'];
export const LANG_KEY = 'ragway.lang';

function initialLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch (_) { /* storage blocked */ }
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** @type {AppState} */
export const S = {
  lang: initialLang(),
  setupRequired: null,
  authed: null,
  token: 0,
  cleanups: [],
  navOpen: false,
  pg: { messages: [], convId: null, model: null, protocol: null, keyChoice: null, pasted: '', busy: false, abort: null },
};
