// @ts-check
// Shared components: buttons, badges, cards, form fields, tables, toasts,
// dialogs, the one-time secret box, the language switch, source cards.

import { errorText } from './api.js';
import { brandMark, clear, h, icon } from './dom.js';
import { hasText, setLang, t } from './i18n.js';
import { S } from './state.js';

/** @typedef {import('./dom.js').Kid} Kid */
/** @typedef {import('./dom.js').Props} Props */

/**
 * A button.
 * @param {string} label its text (the tooltip and aria-label when `iconOnly`)
 * @param {object} [options]
 * @param {string} [options.kind] primary, secondary (the default), ghost, danger, ghost-danger
 * @param {string} [options.icon]
 * @param {boolean} [options.small]
 * @param {boolean} [options.iconOnly]
 * @param {boolean} [options.block]
 * @param {string} [options.type] button (the default) or submit
 * @param {string} [options.testid]
 * @param {string} [options.title]
 * @param {boolean} [options.disabled]
 * @param {(e: MouseEvent) => unknown} [options.onclick]
 * @returns {HTMLButtonElement}
 */
export function btn(label, options) {
  const o = options || {};
  const cls = ['btn', 'btn-' + (o.kind || 'secondary')];
  if (o.small) cls.push('btn-sm');
  if (o.iconOnly) cls.push('btn-icon');
  if (o.block) cls.push('btn-block');
  const b = h('button', {
    type: o.type || 'button',
    class: cls.join(' '),
    testid: o.testid,
    title: o.title || (o.iconOnly ? label : null),
    'aria-label': o.iconOnly ? label : null,
    disabled: o.disabled,
    onclick: o.onclick,
  }, o.icon ? icon(o.icon) : null, o.iconOnly ? null : h('span', { class: 'btn-label' }, label));
  return b;
}

/**
 * Run `fn` with `button` disabled and showing it is busy until `fn` settles.
 * @template T
 * @param {HTMLButtonElement | null | undefined} button
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function busy(button, fn) {
  if (button) {
    button.disabled = true;
    button.classList.add('is-busy');
  }
  try {
    return await fn();
  } finally {
    if (button) {
      button.disabled = false;
      button.classList.remove('is-busy');
    }
  }
}

/**
 * @param {Kid} text
 * @param {string} [kind] neutral (the default), ok, info, warn, danger, accent
 * @param {string} [testid]
 * @returns {HTMLSpanElement}
 */
export function badge(text, kind, testid) {
  return h('span', { class: 'badge badge-' + (kind || 'neutral'), testid }, text);
}

/**
 * A badge for a status word (ready, failed, …), translated where the table
 * knows it, coloured by what it means.
 * @param {string | null | undefined} status
 * @param {string} [testid]
 * @returns {HTMLSpanElement}
 */
export function statusBadge(status, testid) {
  const kinds = {
    ok: 'ok', ready: 'ok', configured: 'ok', active: 'ok',
    pending: 'neutral', empty: 'neutral', not_configured: 'neutral',
    processing: 'info', reindexing: 'info',
    failed: 'danger', down: 'danger', revoked: 'danger',
    mismatch: 'warn', degraded: 'warn', expired: 'warn', cooling: 'warn',
    completed: 'ok', in_progress: 'info', cancelled: 'neutral',
    blocked: 'danger',
  };
  const key = String(status || 'unknown').replace(/ /g, '_');
  const label = hasText('status.' + key) ? t('status.' + key) : String(status);
  const b = badge(label, kinds[key] || 'neutral', testid);
  b.setAttribute('data-status', key);
  b.prepend(h('span', { class: 'dot' }));
  return b;
}

/**
 * @param {object} options
 * @param {string} [options.class]
 * @param {string} [options.testid]
 * @param {string} [options.title]
 * @param {string} [options.subtitle]
 * @param {string} [options.icon]
 * @param {Kid} [options.actions]
 * @param {boolean} [options.flush] a body without padding (for tables)
 * @param {...Kid} body
 * @returns {HTMLElement}
 */
export function card(options, ...body) {
  const o = options || {};
  return h('section', { class: 'card' + (o.class ? ' ' + o.class : ''), testid: o.testid },
    (o.title || o.actions) ? h('div', { class: 'card-head' },
      h('div', { class: 'card-titles' },
        o.title ? h('h2', { class: 'card-title' }, o.icon ? icon(o.icon) : null, o.title) : null,
        o.subtitle ? h('p', { class: 'card-sub' }, o.subtitle) : null),
      o.actions ? h('div', { class: 'card-actions' }, o.actions) : null) : null,
    h('div', { class: 'card-body' + (o.flush ? ' flush' : '') }, body));
}

/**
 * @param {string} title
 * @param {string | null} [subtitle]
 * @param {Kid} [actions]
 * @returns {HTMLElement}
 */
export function pageHeader(title, subtitle, actions) {
  return h('header', { class: 'page-head' },
    h('div', null, h('h1', { class: 'page-title' }, title), subtitle ? h('p', { class: 'page-sub' }, subtitle) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

/** Ids for fields whose control has none. */
let fieldSeq = 0;

/**
 * A labelled form control.
 * @param {Kid} label
 * @param {HTMLElement} control labelled by id; a <div> (a group) is not
 * @param {object} [options]
 * @param {string} [options.class]
 * @param {boolean} [options.optional]
 * @param {Kid} [options.extra] beside the label
 * @param {string} [options.hint] below the control
 * @returns {HTMLDivElement}
 */
export function field(label, control, options) {
  const o = options || {};
  const id = control.id || ('f' + (++fieldSeq));
  if (!control.id && control.tagName !== 'DIV') control.id = id;
  return h('div', { class: 'field' + (o.class ? ' ' + o.class : '') },
    h('div', { class: 'field-label-row' },
      h('label', { class: 'field-label', for: control.tagName === 'DIV' ? null : id }, label,
        o.optional ? h('span', { class: 'optional' }, t('common.optional')) : null),
      o.extra || null),
    control,
    o.hint ? h('p', { class: 'field-hint' }, o.hint) : null);
}

/**
 * @param {Props} [props]
 * @returns {HTMLInputElement}
 */
export function input(props) {
  return h('input', Object.assign({ class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false' }, props));
}

/**
 * @param {Props} [props]
 * @returns {HTMLTextAreaElement}
 */
export function textarea(props) {
  return h('textarea', Object.assign({ class: 'input textarea' }, props));
}

/**
 * @param {Array<{ value: string, label: string, selected?: boolean, disabled?: boolean }>} options
 * @param {Props} [props]
 * @returns {HTMLSelectElement}
 */
export function select(options, props) {
  const el = h('select', Object.assign({ class: 'input select' }, props));
  for (const o of options) el.appendChild(h('option', { value: o.value, selected: o.selected, disabled: o.disabled }, o.label));
  return el;
}

/**
 * A switch: `el` to show, `box` (a checkbox) to read.
 * @param {string} label
 * @param {boolean} checked
 * @param {Props} [props] of the checkbox
 * @returns {{ el: HTMLLabelElement, box: HTMLInputElement }}
 */
export function toggle(label, checked, props) {
  const box = h('input', Object.assign({ type: 'checkbox', class: 'toggle-input', checked: !!checked }, props));
  return { el: h('label', { class: 'toggle' }, box, h('span', { class: 'toggle-track' }, h('span', { class: 'toggle-thumb' })), h('span', { class: 'toggle-label' }, label)), box };
}

/**
 * An error line in a form, hidden until shown.
 * @param {string} testid
 * @returns {{ el: HTMLDivElement, show: (message: string) => void, hide: () => void }}
 */
export function inlineError(testid) {
  const el = h('div', { class: 'inline-error', role: 'alert', testid, hidden: true });
  return {
    el,
    show(message) { clear(el); el.appendChild(icon('alert')); el.appendChild(h('span', null, message)); el.hidden = false; },
    hide() { el.hidden = true; clear(el); },
  };
}

/**
 * @param {string} iconName
 * @param {string} title
 * @param {string | null} [body]
 * @param {Kid} [action]
 * @param {string} [testid]
 * @returns {HTMLDivElement}
 */
export function emptyState(iconName, title, body, action, testid) {
  return h('div', { class: 'empty', testid: testid || 'empty-state' },
    h('div', { class: 'empty-icon' }, icon(iconName)),
    h('p', { class: 'empty-title' }, title),
    body ? h('p', { class: 'empty-body' }, body) : null,
    action || null);
}

/**
 * @returns {HTMLDivElement}
 */
export function loadingBlock() {
  return h('div', { class: 'loading', testid: 'loading' }, h('span', { class: 'spinner' }), h('span', null, t('common.loading')));
}

/**
 * What failed to load, with a retry button when `retry` is given.
 * @param {any} err
 * @param {() => unknown} [retry]
 * @returns {HTMLDivElement}
 */
export function errorBlock(err, retry) {
  return h('div', { class: 'error-block', role: 'alert', testid: 'page-error' },
    h('div', { class: 'empty-icon danger' }, icon('alert')),
    h('p', { class: 'empty-title' }, t('err.load')),
    h('p', { class: 'empty-body' }, errorText(err)),
    retry ? btn(t('common.retry'), { icon: 'refresh', onclick: retry }) : null);
}

/**
 * A table that becomes stacked cards on narrow screens (labels from data-label).
 * @template R
 * @param {Array<{ label: string, class?: string, render: (row: R) => Kid }>} columns
 * @param {R[]} rows
 * @param {object} [options]
 * @param {string} [options.testid]
 * @param {(row: R) => string} [options.rowTestid]
 * @param {(row: R) => Record<string, string>} [options.rowAttrs]
 * @returns {HTMLDivElement}
 */
export function table(columns, rows, options) {
  const o = options || {};
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class || null }, c.label))));
  const tbody = h('tbody');
  for (const row of rows) {
    const tr = h('tr', { testid: o.rowTestid ? o.rowTestid(row) : null });
    if (o.rowAttrs) for (const [k, v] of Object.entries(o.rowAttrs(row))) tr.setAttribute(k, v);
    for (const c of columns) {
      const content = c.render(row);
      tr.appendChild(h('td', { class: c.class || null, 'data-label': c.label || null }, content == null || content === '' ? h('span', { class: 'muted' }, '—') : content));
    }
    tbody.appendChild(tr);
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', testid: o.testid }, thead, tbody));
}

/**
 * Key-value rows; a falsy row is left out, an empty value shows —.
 * @param {Array<[Kid, Kid, string?]>} rows label, value, testid
 * @returns {HTMLDListElement}
 */
export function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v, testid]) => h('div', { class: 'kv-row', testid },
    h('dt', null, k), h('dd', null, v == null || v === '' ? h('span', { class: 'muted' }, '—') : v))));
}

/**
 * A passing note in the corner.
 * @param {string} message
 * @param {string} [kind] ok (the default) or error
 */
export function toast(message, kind) {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: 'toast toast-' + (kind || 'ok'), role: kind === 'error' ? 'alert' : 'status', testid: 'toast' },
    icon(kind === 'error' ? 'alert' : 'check'), h('span', null, message));
  host.appendChild(el);
  const remove = () => { el.classList.add('leaving'); setTimeout(() => el.remove(), 250); };
  el.addEventListener('click', remove);
  setTimeout(remove, kind === 'error' ? 6500 : 3500);
}

/** Dialogs open now (the page does not scroll while any is). */
let openModals = 0;

/**
 * A dialog. Escape and the close button close it unless `dismissable` is
 * false; a click beside it only with `lightDismiss`.
 * @param {object} options
 * @param {string} [options.title]
 * @param {Kid} [options.body]
 * @param {Kid} [options.actions] the buttons at the foot
 * @param {string} [options.testid]
 * @param {boolean} [options.wide]
 * @param {boolean} [options.dismissable]
 * @param {boolean} [options.lightDismiss]
 * @param {() => void} [options.onclose]
 * @returns {{ close: () => void, el: HTMLDivElement, body: HTMLDivElement }}
 */
export function modal(options) {
  const o = options || {};
  const previous = /** @type {HTMLElement | null} */ (document.activeElement);
  const close = () => {
    if (!back.isConnected) return;
    back.remove();
    openModals -= 1;
    if (openModals <= 0) document.body.classList.remove('modal-open');
    document.removeEventListener('keydown', onKey);
    if (o.onclose) o.onclose();
    if (previous && previous.focus) previous.focus();
  };
  const onKey = (e) => { if (e.key === 'Escape' && o.dismissable !== false) close(); };
  const body = h('div', { class: 'modal-body' }, o.body);
  const foot = o.actions ? h('div', { class: 'modal-foot' }, o.actions) : null;
  const dialog = h('div', { class: 'modal' + (o.wide ? ' modal-wide' : ''), role: 'dialog', 'aria-modal': 'true', testid: o.testid || 'modal' },
    h('div', { class: 'modal-head' },
      h('h2', { class: 'modal-title' }, o.title),
      o.dismissable === false ? null : btn(t('common.close'), { kind: 'ghost', icon: 'x', iconOnly: true, testid: 'modal-close', onclick: close })),
    body, foot);
  // Only a dialog that holds nothing to lose (a confirmation) closes on a
  // click beside it, and only when the press and the release both land
  // there: a form or a key shown once never vanishes by a stray click.
  let pressedBeside = false;
  const back = h('div', {
    class: 'modal-back',
    onmousedown: (e) => { pressedBeside = e.target === back; },
    onclick: (e) => { if (o.lightDismiss && pressedBeside && e.target === back) close(); pressedBeside = false; },
  }, dialog);
  document.body.appendChild(back);
  document.body.classList.add('modal-open');
  openModals += 1;
  document.addEventListener('keydown', onKey);
  // Focus moves in now, while the dialog is new: a deferred focus could land
  // after the admin (or a test) has already clicked into another field, and
  // send what they type there into the first one.
  const focusable = /** @type {HTMLElement | null} */ (dialog.querySelector('input, textarea, select, .btn-primary'));
  if (focusable) focusable.focus();
  return { close, el: dialog, body };
}

/**
 * @param {object} options
 * @param {string} [options.title]
 * @param {string} [options.message]
 * @param {string} [options.ok] the confirm button's label
 * @param {boolean} [options.danger]
 * @returns {Promise<boolean>} whether the admin confirmed
 */
export function confirmDialog(options) {
  const o = options || {};
  return new Promise((resolve) => {
    let done = false;
    const finish = (value) => { if (!done) { done = true; resolve(value); } };
    const m = modal({
      title: o.title || t('common.confirm'),
      testid: 'confirm-modal',
      lightDismiss: true,
      body: h('p', { class: 'confirm-text' }, o.message),
      onclose: () => finish(false),
      actions: [
        btn(t('common.cancel'), { kind: 'ghost', testid: 'confirm-cancel', onclick: () => m.close() }),
        btn(o.ok || t('common.confirm'), { kind: o.danger ? 'danger' : 'primary', testid: 'confirm-ok', onclick: () => { finish(true); m.close(); } }),
      ],
    });
  });
}

/**
 * @param {string} text
 * @returns {Promise<boolean>} whether it was copied
 */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) { /* fall back */ }
  const area = h('textarea', { class: 'offscreen', readOnly: true }, text);
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
  area.remove();
  return ok;
}

/**
 * A secret shown once, with a copy button.
 * @param {string} secret
 * @param {string} [testid]
 * @returns {HTMLDivElement}
 */
export function secretBox(secret, testid) {
  const code = h('code', { class: 'secret-value', testid: testid || 'secret' }, secret);
  const copy = btn(t('common.copy'), {
    kind: 'primary', icon: 'copy', small: true, testid: 'secret-copy',
    onclick: async () => {
      const ok = await copyText(secret);
      if (ok) {
        copy.querySelector('.btn-label').textContent = t('common.copied');
        toast(t('common.copied'));
      } else {
        const range = document.createRange();
        range.selectNodeContents(code);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        toast(t('common.copy_failed'), 'error');
      }
    },
  });
  return h('div', { class: 'secret' },
    h('div', { class: 'secret-row' }, code, copy),
    h('p', { class: 'secret-warn' }, icon('alert'), h('span', null, t('secret.once'))),
    h('p', { class: 'field-hint' }, t('secret.kept')));
}

/**
 * @returns {HTMLDivElement}
 */
export function langSwitch() {
  return h('div', { class: 'lang-switch', role: 'group', 'aria-label': t('lang.label'), testid: 'lang-switch' },
    icon('globe'),
    h('button', { type: 'button', class: 'lang-btn' + (S.lang === 'zh' ? ' active' : ''), testid: 'lang-zh', onclick: () => setLang('zh') }, '中文'),
    h('button', { type: 'button', class: 'lang-btn' + (S.lang === 'en' ? ' active' : ''), testid: 'lang-en', onclick: () => setLang('en') }, 'EN'));
}

/**
 * The frame of the setup and login screens, drawn into `app`.
 * @param {HTMLElement} app
 * @param {...Kid} body
 */
export function authFrame(app, ...body) {
  clear(app).appendChild(h('div', { class: 'auth-wrap' },
    h('div', { class: 'auth-top' }, langSwitch()),
    h('div', { class: 'auth-brand' }, brandMark(), h('div', null, h('strong', null, 'ragway'), h('small', null, t('app.tagline')))),
    body));
}

/**
 * The sources of an answer, each a card that opens to its text.
 * @param {any[]} sources
 * @returns {HTMLDivElement}
 */
export function sourceCards(sources) {
  return h('div', { class: 'sources', testid: 'pg-sources' },
    h('div', { class: 'sources-title' }, t('pg.sources')),
    h('div', { class: 'source-grid' }, sources.map((s, i) => {
      const snippet = h('p', { class: 'source-text' }, s.text || '');
      const cardEl = h('button', { type: 'button', class: 'source', testid: 'pg-source', onclick: () => cardEl.classList.toggle('open') },
        h('div', { class: 'source-head' },
          h('span', { class: 'source-num' }, String(s.index || i + 1)),
          h('strong', { class: 'source-title' }, s.title || s.document_id || '—')),
        h('div', { class: 'source-meta' },
          s.collection ? h('span', null, s.collection) : null,
          typeof s.score === 'number' ? h('span', null, t('pg.score', { score: s.score.toFixed(2) })) : null),
        snippet);
      return cardEl;
    })));
}

/**
 * A number field's value: null when empty, the text when not a number.
 * @param {HTMLInputElement} el
 * @returns {number | string | null}
 */
export function numberOrNull(el) {
  const v = el.value.trim();
  if (v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/**
 * Split on commas (also the full-width ，) and newlines.
 * @param {string} text
 * @returns {string[]}
 */
export function splitList(text) {
  return text.split(/[,，\n]/).map((s) => s.trim()).filter(Boolean);
}
