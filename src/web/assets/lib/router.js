// @ts-check
// Routing (the URL's hash names the page) and the shell around the pages.

import { renderLogin } from '../pages/login.js';
import { renderSetup } from '../pages/setup.js';
import { api, ApiError } from './api.js';
import { btn, errorBlock, langSwitch, toast } from './components.js';
import { brandMark, clear, h, icon } from './dom.js';
import { t } from './i18n.js';
import { S } from './state.js';

/**
 * One rendering of one page: `alive()` turns false once the admin went
 * elsewhere, so late answers are dropped.
 * @typedef {{ alive: () => boolean }} PageContext
 */

/**
 * A page draws itself into `root` (the shell's <main>); `params` are the
 * hash's parts after the page's name (#/conversations/<id>).
 * @typedef {(root: HTMLElement, ctx: PageContext, params: string[]) => Promise<unknown>} Page
 */

/**
 * The sidebar: groups of [page name, icon].
 * @type {Array<{ group: string, items: Array<[string, string]> }>}
 */
const NAV = [
  { group: 'nav.main', items: [['dashboard', 'dashboard'], ['playground', 'playground']] },
  { group: 'nav.config', items: [['providers', 'providers'], ['models', 'models'], ['settings', 'settings']] },
  { group: 'nav.data', items: [['knowledge', 'knowledge'], ['keys', 'keys'], ['conversations', 'conversations'], ['logs', 'logs']] },
];

/** @type {Record<string, Page>} */
let PAGES = {};

/**
 * The pages by route name; main.js registers them at start.
 * @param {Record<string, Page>} pages
 */
export function setPages(pages) {
  PAGES = pages;
}

/**
 * @returns {{ name: string, params: string[] }} #/name/param/…
 */
function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1) };
}

/**
 * Show a page: set the hash, or draw again when it is already there.
 * @param {string} name
 * @param {...string} params
 */
export function go(name, ...params) {
  const hash = '#/' + [name].concat(params.map(encodeURIComponent)).join('/');
  if (location.hash === hash) render();
  else location.hash = hash;
}

/**
 * Run `fn` when the current page is left (timers, streams).
 * @param {() => void} fn
 */
export function onCleanup(fn) { S.cleanups.push(fn); }

function runCleanups() {
  const list = S.cleanups;
  S.cleanups = [];
  for (const fn of list) {
    try { fn(); } catch (_) { /* ignore */ }
  }
}

/**
 * A context for one rendering of one page: `alive()` turns false once
 * the user went elsewhere, so late answers are dropped.
 * @returns {PageContext}
 */
function newContext() {
  S.token += 1;
  const token = S.token;
  return { alive: () => token === S.token };
}

/** Draw what the hash asks for: setup, login, or a page in the shell. */
export async function render() {
  runCleanups();
  const ctx = newContext();
  const app = document.getElementById('app');
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  if (S.setupRequired === null) {
    try {
      const setup = await api('GET', '/api/admin/setup');
      S.setupRequired = !!setup.setup_required;
    } catch (err) {
      if (!ctx.alive()) return;
      clear(app).appendChild(h('div', { class: 'auth-wrap' }, errorBlock(err, () => render())));
      return;
    }
    if (!ctx.alive()) return;
  }
  const route = parseHash();
  if (S.setupRequired) {
    if (route.name !== 'setup') { history.replaceState(null, '', '#/setup'); }
    renderSetup(app, ctx);
    return;
  }
  if (route.name === 'setup' && S.setupDone) {
    renderSetup(app, ctx);
    return;
  }
  if (S.authed === null) {
    try {
      await api('GET', '/api/admin/session', undefined, { quiet401: true });
      S.authed = true;
    } catch (err) {
      if (!ctx.alive()) return;
      if (err.status === 401) S.authed = false;
      else {
        clear(app).appendChild(h('div', { class: 'auth-wrap' }, errorBlock(err, () => render())));
        return;
      }
    }
    if (!ctx.alive()) return;
  }
  if (!S.authed) {
    if (route.name !== 'login') {
      if (route.name && route.name !== 'setup') S.afterLogin = location.hash;
      history.replaceState(null, '', '#/login');
    }
    renderLogin(app, ctx);
    return;
  }
  if (!PAGES[route.name]) {
    history.replaceState(null, '', '#/dashboard');
    route.name = 'dashboard';
    route.params = [];
  }
  const content = renderShell(app, route.name);
  const page = PAGES[route.name];
  document.title = t('nav.' + route.name) + ' · ragway';
  try {
    await page(content, ctx, route.params);
  } catch (err) {
    if (!ctx.alive()) return;
    if (err instanceof ApiError && err.status === 401) return;
    clear(content).appendChild(errorBlock(err, () => render()));
  }
}

/**
 * The sidebar, the top bar and an empty <main> for the page.
 * @param {HTMLElement} app
 * @param {string} active the page's name
 * @returns {HTMLElement} the <main>
 */
function renderShell(app, active) {
  S.navOpen = false;
  const navEl = h('nav', { class: 'nav', 'aria-label': t('nav.menu') },
    NAV.map((group) => h('div', { class: 'nav-group' },
      h('div', { class: 'nav-group-label' }, t(group.group)),
      group.items.map(([name, ic]) => h('a', {
        href: '#/' + name,
        class: 'nav-item' + (name === active ? ' active' : ''),
        testid: 'nav-' + name,
        'aria-current': name === active ? 'page' : null,
      }, icon(ic), h('span', null, t('nav.' + name)))))));
  const logout = h('button', {
    type: 'button', class: 'nav-item nav-logout', testid: 'logout',
    onclick: async () => {
      try { await api('POST', '/api/admin/logout', undefined, { quiet401: true }); } catch (_) { /* gone anyway */ }
      S.authed = false;
      S.pg = { messages: [], convId: null, model: null, protocol: null, keyChoice: null, pasted: '', busy: false, abort: null };
      toast(t('login.out'));
      go('login');
    },
  }, icon('logout'), h('span', null, t('nav.logout')));
  const sidebar = h('aside', { class: 'sidebar', testid: 'sidebar' },
    h('a', { class: 'brand', href: '#/dashboard' }, brandMark(), h('span', { class: 'brand-text' }, h('strong', null, 'ragway'), h('small', null, t('app.tagline')))),
    navEl,
    h('div', { class: 'sidebar-foot' }, langSwitch(), logout));
  const scrim = h('div', { class: 'scrim', onclick: () => setNav(false) });
  const topbar = h('header', { class: 'topbar' },
    btn(t('nav.menu'), { kind: 'ghost', icon: 'menu', iconOnly: true, testid: 'menu-toggle', onclick: () => setNav(!S.navOpen) }),
    h('a', { class: 'brand brand-small', href: '#/dashboard' }, brandMark(), h('strong', null, 'ragway')),
    h('span', { class: 'topbar-title' }, t('nav.' + active)));
  const content = h('main', { class: 'content', id: 'content', testid: 'page-' + active });
  const shell = h('div', { class: 'shell' }, sidebar, scrim, h('div', { class: 'main-col' }, topbar, content));
  navEl.addEventListener('click', (e) => { if (/** @type {Element} */ (e.target).closest('a')) setNav(false); });
  clear(app).appendChild(shell);
  window.scrollTo(0, 0);
  return content;
}

/**
 * Open or close the sidebar (phones).
 * @param {boolean} open
 */
export function setNav(open) {
  S.navOpen = open;
  const shell = document.querySelector('.shell');
  if (shell) {
    // Slide only when the menu button asks, not when the window is resized.
    shell.classList.add('nav-animate');
    shell.classList.toggle('nav-open', open);
  }
}
