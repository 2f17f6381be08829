// @ts-check
// Logs: the request log with filters, and one request's details.

import { api } from '../lib/api.js';
import { badge, btn, busy, card, emptyState, errorBlock, input, kv, loadingBlock, modal, pageHeader, select, table } from '../lib/components.js';
import { keyLabeller } from '../lib/data.js';
import { clear, focusSoon, h, icon } from '../lib/dom.js';
import { fmtBytes, fmtFullTime, fmtMs, fmtNumber, locale } from '../lib/format.js';
import { t } from '../lib/i18n.js';
import { onCleanup } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {number} status
 * @param {string} [testid]
 * @returns {HTMLSpanElement}
 */
function httpStatusBadge(status, testid) {
  const b = badge(String(status), status < 400 ? 'ok' : 'danger', testid);
  b.prepend(h('span', { class: 'dot' }));
  b.setAttribute('data-status', String(status));
  return b;
}

/**
 * The "—" of a cell with nothing to show (phone cards leave such cells out).
 * @returns {HTMLSpanElement}
 */
function emptyCell() {
  return h('span', { class: 'muted cell-empty' }, '—');
}

/**
 * @param {any} r a log row
 * @returns {HTMLDivElement}
 */
function logRequestCell(r) {
  return h('div', { class: 'log-req' },
    h('div', { class: 'log-req-line' },
      h('span', { class: 'log-method' }, r.method),
      h('span', { class: 'log-endpoint', title: r.endpoint }, r.endpoint),
      r.stream ? badge(t('logs.stream'), 'info', 'log-stream') : null),
    r.error ? h('div', { class: 'log-req-error', title: r.error }, r.error) : null);
}

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageLogs(root, ctx) {
  const refresh = btn(t('common.refresh'), { icon: 'refresh', testid: 'log-refresh' });
  root.appendChild(pageHeader(t('logs.title'), t('logs.subtitle'), refresh));
  const holder = h('div', null, loadingBlock());
  root.appendChild(holder);
  const [keys, models] = await Promise.all([
    api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
    api('GET', '/api/admin/models').catch(() => ({ data: [] })),
  ]);
  if (!ctx.alive()) return;
  clear(holder);
  const keyLabel = keyLabeller(keys.data);
  const saved = S.logFilters || (S.logFilters = { key: '', status: '', endpoint: '', model: '' });

  const fKey = select([{ value: '', label: t('logs.all_keys') }]
    .concat(keys.data.map((k) => ({ value: k.id, label: k.name + ' · ' + k.prefix + '…' })))
    .concat([{ value: 'admin-session', label: t('conv.admin_session') }]), { testid: 'log-filter-key', 'aria-label': t('logs.key') });
  const fStatus = select([
    { value: '', label: t('logs.all_statuses') },
    { value: 'ok', label: t('logs.status_ok') },
    { value: 'error', label: t('logs.status_error') },
  ], { testid: 'log-filter-status', 'aria-label': t('common.status') });
  const modelIds = (models.data || []).map((m) => m.id);
  if (saved.model && !modelIds.includes(saved.model)) modelIds.push(saved.model);
  const fModel = select([{ value: '', label: t('logs.all_models') }].concat(modelIds.map((id) => ({ value: id, label: id }))), { testid: 'log-filter-model', 'aria-label': t('logs.model') });
  const fEndpoint = input({ type: 'search', placeholder: t('logs.endpoint_ph'), testid: 'log-filter-endpoint', 'aria-label': t('logs.endpoint_ph'), class: 'input log-filter-endpoint' });
  fKey.value = keys.data.some((k) => k.id === saved.key) || saved.key === 'admin-session' ? saved.key : '';
  fStatus.value = saved.status;
  fModel.value = saved.model;
  fEndpoint.value = saved.endpoint;

  const listBody = h('div', { testid: 'logs' });
  const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'log-more' });
  const moreRow = h('div', { class: 'more-row', hidden: true }, more);
  holder.appendChild(card({
    title: t('logs.requests'), icon: 'logs', flush: true, testid: 'logs-card', class: 'logs-card',
    actions: h('div', { class: 'filters log-filters' }, fEndpoint, fKey, fModel, fStatus),
  }, listBody, moreRow));

  let items = [];
  let cursor = null;
  let seq = 0;
  const filtered = () => !!(fKey.value || fStatus.value || fModel.value || fEndpoint.value.trim());

  async function load(append) {
    const mine = ++seq;
    S.logFilters = { key: fKey.value, status: fStatus.value, endpoint: fEndpoint.value, model: fModel.value };
    if (!append) clear(listBody).appendChild(loadingBlock());
    const p = new URLSearchParams({ limit: '50' });
    if (fKey.value) p.set('key_id', fKey.value);
    if (fStatus.value) p.set('status', fStatus.value);
    if (fModel.value) p.set('model', fModel.value);
    if (fEndpoint.value.trim()) p.set('endpoint', fEndpoint.value.trim());
    if (append && cursor) p.set('after', cursor);
    try {
      const res = await api('GET', '/api/admin/logs?' + p.toString());
      if (!ctx.alive() || mine !== seq) return;
      items = append ? items.concat(res.data) : res.data;
      cursor = res.next_cursor || null;
      moreRow.hidden = !(res.has_more && cursor);
      draw();
    } catch (e) {
      if (ctx.alive() && mine === seq) {
        moreRow.hidden = true;
        clear(listBody).appendChild(errorBlock(e, () => load(false)));
      }
    }
  }

  function draw() {
    clear(listBody);
    if (!items.length) {
      listBody.appendChild(filtered()
        ? emptyState('search', t('logs.no_match'), null, btn(t('logs.clear_filters'), {
          icon: 'x', testid: 'log-clear-filters',
          onclick: () => { fKey.value = ''; fStatus.value = ''; fModel.value = ''; fEndpoint.value = ''; load(false); },
        }), 'logs-empty')
        : emptyState('logs', t('logs.empty'), t('logs.empty_body'), null, 'logs-empty'));
      return;
    }
    const wrap = table([
      {
        label: t('logs.time'), class: 'col-time', render: (r) => h('time', { class: 'log-time', title: new Date(r.created_at).toISOString() },
          h('span', null, new Date(r.created_at).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })),
          h('span', { class: 'muted small' }, new Date(r.created_at).toLocaleDateString(locale(), { month: 'short', day: 'numeric' }))),
      },
      { label: t('logs.request'), class: 'col-main', render: logRequestCell },
      {
        label: t('logs.key'), render: (r) => r.key_id
          ? h('span', { class: 'log-key' + (r.key_id === 'admin-session' ? ' muted' : ''), title: r.key_id }, keyLabel(r.key_id))
          : h('span', { class: 'muted' }, t('logs.no_key')),
      },
      { label: t('logs.model'), render: (r) => r.model ? h('code', { class: 'log-model' }, r.model) : emptyCell() },
      {
        label: t('common.status'), render: (r) => httpStatusBadge(r.status, 'log-status'),
      },
      {
        label: t('logs.tokens'), class: 'num', render: (r) => r.total_tokens == null ? emptyCell() : h('span', { class: 'num-cell', testid: 'log-tokens' },
          h('span', null, fmtNumber(r.total_tokens)),
          r.prompt_tokens != null && r.completion_tokens != null ? h('span', { class: 'muted small' }, t('logs.tokens_split', { prompt: fmtNumber(r.prompt_tokens), completion: fmtNumber(r.completion_tokens) })) : null),
      },
      {
        label: t('logs.latency'), class: 'num', render: (r) => h('span', { class: 'num-cell' },
          h('span', null, fmtMs(r.latency_ms)),
          // The first byte matters where it differs: streams, mostly.
          r.ttft_ms != null && (r.stream || r.ttft_ms !== r.latency_ms) ? h('span', { class: 'muted small', title: t('logs.ttft') }, t('logs.ttft_short', { ms: fmtMs(r.ttft_ms) })) : null),
      },
      {
        label: '', class: 'col-actions', render: (r) => btn(t('logs.details'), {
          small: true, kind: 'ghost', icon: 'chevron', iconOnly: true, testid: 'log-open',
          onclick: () => logDetail(r, keyLabel),
        }),
      },
    ], items, {
      testid: 'logs-table',
      rowTestid: () => 'log-row',
      rowAttrs: (r) => ({ 'data-status': String(r.status), 'data-endpoint': r.endpoint, 'data-log-id': r.id, 'data-key-id': r.key_id || '', class: 'row-click' }),
    });
    wrap.classList.add('logs-table-wrap');
    wrap.querySelectorAll('tbody tr').forEach((tr, i) => {
      tr.addEventListener('click', (e) => {
        if (/** @type {Element} */ (e.target).closest('a, button')) return;
        const sel = window.getSelection();
        if (sel && String(sel).trim()) return; // selecting text, not opening
        logDetail(items[i], keyLabel);
      });
    });
    listBody.appendChild(wrap);
  }

  let timer = null;
  fEndpoint.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(false), 350); });
  onCleanup(() => clearTimeout(timer));
  for (const f of [fKey, fStatus, fModel]) f.addEventListener('change', () => load(false));
  more.addEventListener('click', () => busy(more, () => load(true)));
  refresh.addEventListener('click', () => busy(refresh, () => load(false)));
  await load(false);
}

/**
 * One request's details, in a dialog.
 * @param {any} r a log row
 * @param {(id: string) => string | null} keyLabel
 */
function logDetail(r, keyLabel) {
  const keyText = r.key_id ? keyLabel(r.key_id) : t('logs.no_key');
  const tokens = (n) => (n == null ? null : fmtNumber(n));
  const mono = (text, testid) => (text == null || text === '' ? null : h('code', { testid, title: text }, text));
  let dlg = null;
  const conv = r.conversation_id ? h('a', {
    class: 'link log-conv', href: '#/conversations/' + encodeURIComponent(r.conversation_id), testid: 'log-detail-conversation', title: r.conversation_id,
    onclick: () => { if (dlg) dlg.close(); },
  }, r.conversation_id) : null;
  const section = (title, body) => h('div', { class: 'log-detail-section' }, h('h3', { class: 'log-detail-title' }, title), body);
  const body = h('div', { class: 'log-detail' },
    h('div', { class: 'log-detail-head' },
      httpStatusBadge(r.status, 'log-detail-status'),
      h('span', { class: 'log-method' }, r.method),
      h('code', { class: 'log-detail-endpoint', testid: 'log-detail-endpoint' }, r.endpoint),
      r.stream ? badge(t('logs.stream'), 'info') : null,
      h('span', { class: 'log-detail-time muted small' }, fmtFullTime(r.created_at))),
    r.error ? h('div', { class: 'log-error', role: 'note', testid: 'log-detail-error' },
      h('div', { class: 'log-error-title' }, icon('alert'), t('logs.error')),
      h('pre', { class: 'log-error-text' }, r.error)) : null,
    h('div', { class: 'log-detail-grid' },
      section(t('logs.section_request'), kv([
        [t('logs.key'), h('span', { title: r.key_id || '' }, keyText)],
        [t('logs.model'), mono(r.model)],
        [t('logs.upstream_model'), mono(r.upstream_model)],
        [t('logs.streamed'), r.stream ? t('common.yes') : t('common.no')],
        [t('logs.conversation'), conv],
        [t('logs.client_ip'), mono(r.client_ip, 'log-detail-ip')],
        [h('span', { title: t('logs.upstream_key_hint') }, t('logs.upstream_key')), mono(r.upstream_key, 'log-detail-upstream-key')],
      ])),
      section(t('logs.section_cost'), kv([
        [t('logs.latency'), fmtMs(r.latency_ms)],
        [t('logs.ttft'), fmtMs(r.ttft_ms)],
        [t('logs.retrieval'), fmtMs(r.retrieval_ms)],
        [t('logs.retries'), r.retries == null ? null : fmtNumber(r.retries)],
        [t('logs.prompt_tokens'), tokens(r.prompt_tokens)],
        [t('logs.completion_tokens'), tokens(r.completion_tokens)],
        [t('logs.total_tokens'), tokens(r.total_tokens)],
        [t('logs.request_bytes'), fmtBytes(r.request_bytes)],
        [t('logs.response_bytes'), fmtBytes(r.response_bytes)],
      ]))),
    section(t('logs.user_agent'), h('p', { class: 'log-ua', testid: 'log-detail-ua' }, r.user_agent || '—')),
    h('p', { class: 'log-detail-id muted small' }, t('logs.id') + ': ', h('span', { class: 'mono' }, r.id)));
  dlg = modal({
    title: t('logs.detail_title'), wide: true, testid: 'log-detail-modal', lightDismiss: true, body,
    actions: [btn(t('common.close'), { kind: 'secondary', testid: 'log-detail-close', onclick: () => dlg.close() })],
  });
  // Start at the top of a long dialog: focus its close button, not the foot.
  const x = /** @type {HTMLElement | null} */ (dlg.el.querySelector('[data-testid="modal-close"]'));
  if (x) focusSoon(x, { preventScroll: true });
}
