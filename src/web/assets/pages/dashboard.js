// @ts-check
// Dashboard: counts, usage, service health, the index, how to connect.

import { api, errorText } from '../lib/api.js';
import { badge, btn, busy, card, copyText, emptyState, field, kv, loadingBlock, pageHeader, statusBadge, toast } from '../lib/components.js';
import { keyLabeller, ROLES } from '../lib/data.js';
import { add, clear, h, icon } from '../lib/dom.js';
import { fmtCompact, fmtNumber, locale } from '../lib/format.js';
import { t } from '../lib/i18n.js';
import { onCleanup, render } from '../lib/router.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * How many a list holds: 12, or "100+" when it has more.
 * @param {string} path
 * @returns {Promise<number | string>}
 */
async function countOf(path) {
  const res = await api('GET', path);
  const n = (res && res.data) ? res.data.length : 0;
  return res && res.has_more ? n + '+' : n;
}

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageDashboard(root, ctx) {
  root.appendChild(pageHeader(t('dash.title'), t('dash.subtitle'),
    btn(t('common.refresh'), { icon: 'refresh', testid: 'dash-refresh', onclick: () => render() })));
  const body = h('div', { class: 'stack' }, loadingBlock());
  root.appendChild(body);

  const healthP = fetch('/health', { credentials: 'same-origin' }).then((r) => r.json());
  const [health, collections, conversations, keys, models, usage] = await Promise.all([
    healthP,
    api('GET', '/v1/collections').catch(() => null),
    countOf('/api/admin/conversations?limit=100').catch(() => '—'),
    api('GET', '/api/admin/keys').catch(() => null),
    api('GET', '/api/admin/models').catch(() => null),
    api('GET', '/api/admin/usage').catch((e) => e),
  ]);
  if (!ctx.alive()) return;
  clear(body);

  const index = health.index || {};
  if (index.status === 'mismatch' || index.status === 'reindexing') body.appendChild(reindexBanner(index));

  const docs = collections ? collections.data.reduce((sum, c) => sum + (c.documents || 0), 0) : '—';
  const now = Date.now();
  const activeKeys = keys ? keys.data.filter((k) => !k.revoked && !(k.expires_at && k.expires_at < now)).length : '—';
  const stats = [
    ['knowledge', 'dash.documents', docs, 'knowledge', 'stat-documents'],
    ['folder', 'dash.collections', collections ? collections.data.length : '—', 'knowledge', 'stat-collections'],
    ['conversations', 'dash.conversations', conversations, 'conversations', 'stat-conversations'],
    ['keys', 'dash.keys', activeKeys, 'keys', 'stat-keys'],
    ['models', 'dash.models', models ? models.data.length : '—', 'models', 'stat-models'],
  ];
  body.appendChild(h('div', { class: 'stats', testid: 'dash-counts' }, stats.map(([ic, label, value, link, testid]) =>
    h('a', { class: 'stat', href: '#/' + link, testid },
      h('span', { class: 'stat-icon' }, icon(ic)),
      h('span', { class: 'stat-text' }, h('span', { class: 'stat-value' }, typeof value === 'number' ? fmtNumber(value) : String(value)), h('span', { class: 'stat-label' }, t(label)))))));
  body.appendChild(usageCard(usage, keys ? keys.data : []));

  const checks = health.checks || {};
  const queue = health.ingest_queue;
  const service = card({ title: t('dash.service'), icon: 'activity', testid: 'dash-service', actions: statusBadge(health.status, 'health-status') },
    kv([
      [t('dash.version'), health.version],
      [t('dash.database'), statusBadge(checks.database, 'check-database')],
      [t('dash.vector_store'), statusBadge(checks.vector_store, 'check-vector-store')],
      [t('dash.blob_store'), statusBadge(checks.blob_store, 'check-blob-store')],
      [t('dash.queue'), queue ? t('dash.queue_value', { ingest: queue.ingest, reindex: queue.reindex }) : null],
    ]));
  const indexCard = card({ title: t('dash.index'), icon: 'database', testid: 'dash-index', actions: statusBadge(index.status, 'index-status') },
    kv([
      [t('dash.configured_model'), index.configured_model ? h('code', { testid: 'index-configured-model' }, index.configured_model) : null],
      [t('dash.index_model'), index.model ? h('code', null, index.model) : null],
      [t('dash.dimension'), index.dimension],
    ]));
  const up = health.upstreams || {};
  const pools = health.upstream_keys || {};
  const upstreams = card({ title: t('dash.upstreams'), icon: 'providers', testid: 'dash-upstreams', actions: h('a', { class: 'link', href: '#/providers' }, t('dash.manage')) },
    kv(ROLES.map((role) => {
      const configured = up[role] === 'configured';
      const badgeEl = statusBadge(configured ? 'configured' : 'not_configured', 'upstream-' + role);
      const keys = configured ? poolKeysBadge(role, pools[role]) : null;
      return [t('prov.' + role), keys ? h('span', { class: 'badge-pair' }, keys, badgeEl) : badgeEl];
    })));
  body.appendChild(h('div', { class: 'grid-cards' }, service, indexCard, upstreams));
  body.appendChild(connectCard(models ? models.data.map((m) => m.id) : []));
}

/**
 * "2/3 keys" beside a role on the dashboard, when its pool has several
 * keys or none of them can take calls; null otherwise.
 * @param {string} role
 * @param {any} summary the pool's key counts, from /health
 * @returns {HTMLSpanElement | null}
 */
function poolKeysBadge(role, summary) {
  if (!summary || typeof summary.keys !== 'number') return null;
  const { keys, active } = summary;
  if (!(keys > 1 || active === 0)) return null;
  const kind = active === 0 ? 'danger' : (active < keys ? 'warn' : 'neutral');
  const b = badge(t('pool.dash_keys', { active, keys }), kind, 'upstream-' + role + '-keys');
  b.setAttribute('title', t('pool.dash_keys_title', { active, keys, cooling: summary.cooling || 0, blocked: summary.blocked || 0 }));
  b.setAttribute('data-active', String(active));
  b.setAttribute('data-keys', String(keys));
  return b;
}

/**
 * Requests and tokens of the last days: totals, a bar per day, the top keys.
 * @param {any} usage /api/admin/usage, or the Error that it failed with
 * @param {any[]} keys
 * @returns {HTMLElement}
 */
function usageCard(usage, keys) {
  const opts = { title: t('usage.title'), icon: 'chart', testid: 'dash-usage', actions: h('a', { class: 'link', href: '#/logs', testid: 'usage-logs-link' }, t('usage.view_logs') + ' →') };
  if (!usage || usage instanceof Error) {
    return card(opts, h('p', { class: 'muted' }, usage ? errorText(usage) : t('err.generic')));
  }
  const total = usage.total || {};
  if (!total.requests) {
    return card(opts, emptyState('chart', t('usage.empty'), t('usage.empty_body'), null, 'usage-empty'));
  }
  const keyLabel = keyLabeller(keys);
  // Every day of the range, oldest first, zero where nothing was counted.
  const days = [];
  const first = Date.parse(usage.from + 'T00:00:00Z');
  const last = Date.parse(usage.to + 'T00:00:00Z');
  for (let d = first; d <= last && days.length < 31; d += 86400000) days.push(new Date(d).toISOString().slice(0, 10));
  const perDay = new Map(days.map((d) => [d, { requests: 0, tokens: 0 }]));
  const perKey = new Map();
  for (const row of usage.data || []) {
    const day = perDay.get(row.day);
    if (day) { day.requests += row.requests; day.tokens += row.total_tokens; }
    const k = perKey.get(row.key_id) || { id: row.key_id, name: row.key_name, requests: 0, tokens: 0 };
    k.requests += row.requests;
    k.tokens += row.total_tokens;
    perKey.set(row.key_id, k);
  }
  const max = Math.max(1, ...[...perDay.values()].map((d) => d.requests));
  const bars = h('div', { class: 'bars', testid: 'usage-bars', role: 'img', 'aria-label': t('usage.per_day') }, days.map((day, i) => {
    const v = perDay.get(day);
    const date = new Date(day + 'T00:00:00Z');
    const fill = h('span', { class: 'bar-fill' });
    fill.style.height = (v.requests ? Math.max(4, (v.requests / max) * 100) : 0) + '%';
    return h('div', {
      class: 'bar' + (v.requests ? '' : ' zero') + (i === days.length - 1 ? ' today' : ''),
      testid: 'usage-bar', 'data-day': day, 'data-requests': String(v.requests),
      title: t('usage.day_title', { day: date.toLocaleDateString(locale(), { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' }), requests: fmtNumber(v.requests), tokens: fmtNumber(v.tokens) }),
    },
    h('span', { class: 'bar-value' }, fmtCompact(v.requests)),
    h('span', { class: 'bar-track' }, fill),
    h('span', { class: 'bar-label' }, date.toLocaleDateString(locale(), { weekday: 'short', timeZone: 'UTC' })),
    h('span', { class: 'bar-date' }, date.toLocaleDateString(locale(), { month: 'numeric', day: 'numeric', timeZone: 'UTC' })));
  }));
  const top = [...perKey.values()].sort((a, b) => (b.tokens - a.tokens) || (b.requests - a.requests)).slice(0, 5);
  const topMax = Math.max(1, ...top.map((k) => k.tokens));
  const topList = h('div', { class: 'top-keys', testid: 'usage-top-keys' }, top.map((k) => {
    const bar = h('div', { class: 'progress thin' }, h('span'));
    /** @type {HTMLElement} */ (bar.firstChild).style.width = (k.tokens ? Math.max(2, (k.tokens / topMax) * 100) : 0) + '%';
    return h('div', { class: 'top-key', testid: 'usage-top-key' },
      h('div', { class: 'top-key-line' },
        h('span', { class: 'top-key-name', title: k.id }, keyLabel(k.id, k.name) || '—'),
        h('span', { class: 'top-key-value' }, t('usage.key_value', { tokens: fmtCompact(k.tokens), requests: fmtCompact(k.requests) }))),
      bar);
  }));
  const totals = h('div', { class: 'usage-totals' },
    h('div', { class: 'usage-total' },
      h('span', { class: 'usage-total-value', testid: 'usage-requests' }, fmtNumber(total.requests)),
      h('span', { class: 'usage-total-label' }, t('usage.requests'))),
    h('div', { class: 'usage-total' },
      h('span', { class: 'usage-total-value', testid: 'usage-tokens' }, fmtCompact(total.total_tokens)),
      h('span', { class: 'usage-total-label' }, t('usage.tokens')),
      h('span', { class: 'usage-total-sub' }, t('usage.split', { prompt: fmtCompact(total.prompt_tokens), completion: fmtCompact(total.completion_tokens) }))));
  return card(opts,
    h('div', { class: 'usage' },
      h('div', { class: 'usage-main' }, totals,
        h('div', { class: 'usage-chart' }, h('div', { class: 'usage-caption' }, t('usage.per_day')), bars)),
      h('div', { class: 'usage-side' }, h('div', { class: 'usage-caption' }, t('usage.top_keys')), topList)),
    usage.dropped_log_rows ? h('p', { class: 'field-hint usage-dropped' }, t('usage.dropped', { count: fmtNumber(usage.dropped_log_rows) })) : null);
}

/**
 * Where clients connect, with a curl example.
 * @param {string[]} modelIds
 * @returns {HTMLElement}
 */
function connectCard(modelIds) {
  const baseUrl = location.origin + '/v1';
  const example = [
    'curl ' + baseUrl + '/chat/completions \\',
    '  -H "Authorization: Bearer sk-…" \\',
    '  -H "Content-Type: application/json" \\',
    "  -d '{\"model\": \"" + (modelIds[0] || 'ragway') + "\", \"stream\": true,",
    "       \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'",
  ].join('\n');
  const copy = btn(t('common.copy'), {
    small: true, icon: 'copy', iconOnly: true, testid: 'connect-copy',
    onclick: async () => toast((await copyText(baseUrl)) ? t('common.copied') : t('common.copy_failed'), 'ok'),
  });
  return card({ title: t('dash.connect'), subtitle: t('dash.connect_sub'), icon: 'spark', testid: 'dash-connect' },
    h('div', { class: 'connect' },
      h('div', { class: 'connect-facts' },
        field(t('dash.base_url'), h('div', { class: 'connect-url' }, h('code', { testid: 'connect-base-url' }, baseUrl), copy)),
        field(t('dash.model_names'), h('div', { class: 'chips' }, modelIds.map((id) => badge(id, 'accent')))),
        h('a', { class: 'link', href: '#/keys' }, t('dash.key_link') + ' →')),
      field(t('dash.example'), h('pre', { class: 'md-pre' }, h('code', null, example)))));
}

/**
 * A reindex to start (the index was built by another model), or its progress.
 * @param {any} index /health's `index`
 * @returns {HTMLDivElement}
 */
function reindexBanner(index) {
  const banner = h('div', { class: 'banner banner-warn', testid: 'reindex-banner' });
  const fill = () => {
    clear(banner);
    if (index.status === 'reindexing' && index.reindex) {
      const r = index.reindex;
      const pct = r.documents_total ? Math.round((r.documents_done / r.documents_total) * 100) : 0;
      const bar = h('div', { class: 'progress' }, h('span'));
      /** @type {HTMLElement} */ (bar.firstChild).style.width = pct + '%';
      banner.className = 'banner banner-info';
      add(banner, [icon('refresh'), h('div', { class: 'banner-text' },
        h('strong', null, t('dash.reindexing', { model: r.model, done: r.documents_done, total: r.documents_total })), bar,
        r.error ? h('p', { class: 'danger-text' }, t('dash.reindex_error', { error: r.error })) : null)]);
    } else {
      const b = btn(t('dash.reindex'), { kind: 'primary', small: true, icon: 'refresh', testid: 'reindex-start' });
      b.addEventListener('click', () => busy(b, async () => {
        try {
          await api('POST', '/api/admin/reindex');
          toast(t('dash.reindex_started'));
          render();
        } catch (e) { toast(errorText(e), 'error'); }
      }));
      add(banner, [icon('alert'), h('div', { class: 'banner-text' },
        h('strong', null, t('dash.mismatch_title')),
        h('p', null, t('dash.mismatch_body', { model: index.configured_model }))), b]);
    }
  };
  fill();
  if (index.status === 'reindexing') {
    const timer = setInterval(async () => {
      try {
        const health = await fetch('/health').then((r) => r.json());
        if (!health.index) return;
        if (health.index.status !== 'reindexing') { clearInterval(timer); render(); return; }
        index = health.index;
        fill();
      } catch (_) { /* try again */ }
    }, 3000);
    onCleanup(() => clearInterval(timer));
  }
  return banner;
}
