// @ts-check
// Providers: one upstream per role, and each role's key pool.

import { api, errorText } from '../lib/api.js';
import { badge, btn, busy, confirmDialog, field, input, loadingBlock, pageHeader, statusBadge, toast, toggle } from '../lib/components.js';
import { ROLES } from '../lib/data.js';
import { add, clear, h, icon } from '../lib/dom.js';
import { fmtAgo, fmtNumber, fmtTime, locale } from '../lib/format.js';
import { t } from '../lib/i18n.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/** @type {Record<string, string>} role -> icon */
const ROLE_ICON = { chat: 'conversations', embeddings: 'database', images: 'spark', rerank: 'logs' };

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageProviders(root, ctx) {
  root.appendChild(pageHeader(t('prov.title'), t('prov.subtitle')));
  const grid = h('div', { class: 'grid-2' }, loadingBlock());
  root.appendChild(grid);
  const [views, pools] = await Promise.all([
    api('GET', '/api/admin/providers'),
    api('GET', '/api/admin/upstreams').catch((e) => e),
  ]);
  if (!ctx.alive()) return;
  clear(grid);
  // A provider saved with new keys changes its pool, and a key added to or
  // taken out of a pool changes its provider: each refreshes the other.
  const providerHooks = {};
  const poolHooks = {};
  const refreshProvider = async (role) => {
    try {
      const fresh = await api('GET', '/api/admin/providers');
      if (fresh[role] && providerHooks[role].update) providerHooks[role].update(fresh[role]);
    } catch (_) { /* the card keeps what it shows */ }
  };
  const refreshPool = async (role) => {
    if (!poolHooks[role]) return;
    try {
      const fresh = await api('GET', '/api/admin/upstreams');
      const pool = (fresh.data || []).find((p) => p.role === role);
      if (pool) poolHooks[role].set(pool);
    } catch (_) { /* the card keeps what it shows */ }
  };
  for (const role of ROLES) {
    providerHooks[role] = { changed: () => refreshPool(role) };
    grid.appendChild(providerCard(role, views[role] || { role }, providerHooks[role]));
  }

  const section = h('section', { class: 'pools', testid: 'pools' },
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title' }, icon('keys'), t('pool.title')),
      h('p', { class: 'section-sub' }, t('pool.subtitle'))));
  root.appendChild(section);
  if (pools instanceof Error) {
    section.appendChild(h('div', { class: 'card' }, h('div', { class: 'card-body' },
      h('div', { class: 'inline-error', role: 'alert', testid: 'pools-error' }, icon('alert'), h('span', null, t('pool.load_failed', { error: errorText(pools) }))))));
    return;
  }
  const byRole = new Map((pools.data || []).map((p) => [p.role, p]));
  const poolGrid = h('div', { class: 'grid-2 pool-grid' });
  for (const role of ROLES) {
    if (!byRole.has(role)) continue;
    poolHooks[role] = { changed: () => refreshProvider(role) };
    poolGrid.appendChild(poolCard(role, byRole.get(role), poolHooks[role]));
  }
  section.appendChild(poolGrid);
}

/**
 * @param {number} n
 * @param {string} one the key for one
 * @param {string} many the key for other counts (given `{n}`)
 * @param {Record<string, unknown>} [vars]
 * @returns {string}
 */
function plural(n, one, many, vars) {
  return n === 1 ? t(one, vars) : t(many, Object.assign({ n: fmtNumber(n) }, vars));
}

/**
 * A time later today as 14:05:30, another day as the full date and time.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
function fmtClock(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  if (new Date().toDateString() === d.toDateString()) {
    return d.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  return fmtTime(ms);
}

/**
 * One role's key pool: its counts, every key with its state, and a form
 * to add keys. `hooks.set(view)` redraws it from a PoolView.
 * @param {string} role
 * @param {any} initial the PoolView
 * @param {{ set?: (view: any) => void, changed?: () => void }} [hooks]
 * @returns {HTMLElement}
 */
function poolCard(role, initial, hooks) {
  let view = initial;
  const id = 'pool-' + role;
  const roleName = t('prov.' + role);
  const el = h('section', { class: 'card pool', testid: id });
  const headBadges = h('div', { class: 'provider-badges' });
  const sub = h('p', { class: 'card-sub pool-model' });
  const summary = h('div', { class: 'pool-summary', testid: id + '-summary' });
  const list = h('div', { class: 'pool-keys', testid: id + '-keys' });
  const newKey = input({ type: 'password', autocomplete: 'new-password', testid: id + '-new-key', placeholder: t('pool.new_key_ph'), 'aria-label': t('pool.new_key', { role: roleName }) });
  const addBtn = btn(t('pool.add'), { kind: 'secondary', icon: 'plus', type: 'submit', testid: id + '-add' });
  const form = h('form', {
    class: 'pool-add', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const value = newKey.value.trim();
      if (!value) { toast(t('pool.key_required'), 'error'); newKey.focus(); return; }
      busy(addBtn, async () => {
        try {
          const before = view.keys.filter((k) => k.key != null).length;
          view = await api('POST', '/api/admin/upstreams/' + role + '/keys', { key: value });
          draw();
          newKey.value = '';
          const added = view.keys.filter((k) => k.key != null).length - before;
          toast(added > 1 ? t('pool.added_many', { n: added, role: roleName }) : t('pool.added', { role: roleName }));
          if (hooks && hooks.changed) hooks.changed();
        } catch (err) { toast(errorText(err), 'error'); }
      });
    },
  }, newKey, addBtn);

  const keyRow = (k) => {
    const fp = k.fingerprint;
    const keyless = k.key == null;
    const label = keyless ? t('pool.no_key') : k.key;
    const details = [];
    if (k.state === 'blocked') {
      details.push(h('div', { class: 'pool-key-note danger-text', testid: id + '-blocked-' + fp, title: k.blocked_reason || null },
        icon('ban'),
        h('span', { class: 'pool-note-text' }, k.blocked_reason || t('status.blocked'))));
    }
    if (k.cooling && k.cooling.length) {
      details.push(h('div', { class: 'pool-cooling', testid: id + '-cooling-' + fp }, k.cooling.map((c) =>
        h('span', { class: 'pool-cool', title: c.reason || null },
          h('code', null, c.model),
          h('span', null, t('pool.cooling_until', { time: fmtClock(c.until) }))))));
    }
    const facts = [];
    if (k.state === 'blocked' && k.blocked_at) facts.push(t('pool.blocked_since', { time: fmtClock(k.blocked_at) }));
    facts.push(plural(k.requests || 0, 'pool.requests_one', 'pool.requests_many'));
    if (k.failures) facts.push(t('pool.failures', { n: fmtNumber(k.failures) }));
    if (k.rate_limited) facts.push(t('pool.rate_limited', { n: fmtNumber(k.rate_limited) }));
    facts.push(k.last_used_at ? t('pool.last_used', { time: fmtAgo(k.last_used_at) }) : t('pool.never_used'));
    const shownReasons = new Set([k.blocked_reason, ...(k.cooling || []).map((c) => c.reason)]);
    const lastError = k.last_error && !shownReasons.has(k.last_error)
      ? h('div', { class: 'pool-key-error', title: k.last_error }, t('pool.last_error', { error: k.last_error })) : null;

    const actions = h('div', { class: 'row-actions' });
    const canEnable = k.state === 'blocked' || k.state === 'cooling';
    const canRemove = !keyless && fp !== '-';
    if (canEnable) {
      const enable = btn(t('pool.enable'), { small: true, icon: 'check', testid: id + '-enable-' + fp });
      enable.addEventListener('click', () => busy(enable, async () => {
        try {
          view = await api('POST', '/api/admin/upstreams/' + role + '/keys/' + encodeURIComponent(fp) + '/enable', {});
          draw();
          toast(t('pool.enabled', { key: label }));
        } catch (err) { toast(errorText(err), 'error'); }
      }));
      actions.appendChild(enable);
    }
    if (canRemove) {
      const remove = btn(t('pool.remove'), { small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: id + '-remove-' + fp });
      remove.addEventListener('click', async () => {
        const last = view.keys.filter((x) => x.key != null).length <= 1;
        const ok = await confirmDialog({
          title: t('pool.remove_title'),
          message: t(last ? 'pool.remove_last' : 'pool.remove_confirm', { key: k.key, role: roleName }),
          danger: true,
          ok: t('pool.remove'),
        });
        if (!ok) return;
        await busy(remove, async () => {
          try {
            view = await api('DELETE', '/api/admin/upstreams/' + role + '/keys/' + encodeURIComponent(fp));
            draw();
            toast(t('pool.removed', { key: k.key, role: roleName }));
            if (hooks && hooks.changed) hooks.changed();
          } catch (err) { toast(errorText(err), 'error'); }
        });
      });
      actions.appendChild(remove);
    }

    const cls = 'pool-key is-' + k.state + (canEnable ? ' has-enable' : '') + (canRemove ? ' has-remove' : '');
    return h('div', { class: cls, testid: id + '-key-' + fp, 'data-state': k.state, 'data-fingerprint': fp },
      h('div', { class: 'pool-key-main' },
        h('div', { class: 'pool-key-line' },
          keyless ? h('span', { class: 'pool-key-mask muted', testid: id + '-mask-' + fp }, label)
            : h('code', { class: 'pool-key-mask', testid: id + '-mask-' + fp }, label),
          keyless ? null : h('code', { class: 'pool-key-fp', title: t('pool.fingerprint') }, fp),
          statusBadge(k.state, id + '-state-' + fp)),
        details,
        h('div', { class: 'pool-key-facts' }, facts.join(' · ')),
        lastError),
      canEnable || canRemove ? actions : null);
  };

  const draw = () => {
    const sum = view.summary || { keys: view.keys.length, active: 0, cooling: 0, blocked: 0 };
    const keyless = view.keys.length === 1 && view.keys[0].key == null;
    clear(headBadges);
    headBadges.appendChild(badge(keyless ? t('pool.no_key') : plural(sum.keys, 'pool.keys_one', 'pool.keys_many'), 'neutral', id + '-count'));
    if (!view.configured) headBadges.appendChild(statusBadge('not_configured', id + '-status'));
    clear(sub);
    if (view.model) sub.appendChild(h('code', null, view.model));
    sub.hidden = !view.model;

    clear(summary);
    const count = (kind, n, key) => h('span', { class: 'pool-count pool-count-' + kind + (n ? '' : ' zero'), testid: id + '-' + key },
      h('span', { class: 'dot' }), t('pool.' + key, { n: fmtNumber(n) }));
    const errors = Object.entries(view.errors || {}).filter(([, n]) => n > 0);
    add(summary, [
      h('span', { class: 'pool-counts' },
        count('ok', sum.active, 'active'),
        count('warn', sum.cooling, 'cooling'),
        count('danger', sum.blocked, 'blocked')),
      h('span', { class: 'pool-stats' },
        h('span', { class: 'pool-retries', testid: id + '-retries' }, plural(view.retries || 0, 'pool.retries_one', 'pool.retries_many')),
        h('span', { class: 'pool-errors', testid: id + '-errors', title: t('pool.errors_hint') },
          errors.length
            ? errors.map(([kind, n]) => h('span', { class: 'pool-error', 'data-kind': kind }, h('span', { class: 'pool-error-kind' }, kind), '× ' + fmtNumber(n)))
            : h('span', { class: 'muted' }, t('pool.no_errors')))),
    ]);

    clear(list);
    for (const k of view.keys) list.appendChild(keyRow(k));
    if (keyless) list.appendChild(h('p', { class: 'field-hint pool-hint' }, t('pool.keyless_hint')));
  };

  add(el, [
    h('div', { class: 'card-head' },
      h('div', { class: 'card-titles' },
        h('h2', { class: 'card-title' }, h('span', { class: 'role-icon' }, icon(ROLE_ICON[role])), roleName),
        sub),
      headBadges),
    h('div', { class: 'card-body pool-body' }, summary, list),
    h('div', { class: 'card-foot pool-foot' }, form),
  ]);
  if (hooks) hooks.set = (fresh) => { view = fresh; draw(); };
  draw();
  return el;
}

/**
 * One role's upstream: its address, model and key, to test and save.
 * `hooks.update(view)` redraws what the pool changes; `hooks.changed()` is
 * called after a save or reset.
 * @param {string} role
 * @param {any} initial the ProviderView
 * @param {{ update?: (view: any) => void, changed?: () => void }} [hooks]
 * @returns {HTMLElement}
 */
function providerCard(role, initial, hooks) {
  let view = initial;
  const el = h('section', { class: 'card provider', testid: 'provider-' + role });
  const listId = 'models-' + role;
  const datalist = h('datalist', { id: listId });
  const base = input({ type: 'url', placeholder: 'https://api.example.com/v1', testid: 'provider-' + role + '-base-url' });
  const model = input({ list: listId, testid: 'provider-' + role + '-model' });
  const key = input({ type: 'password', autocomplete: 'new-password', testid: 'provider-' + role + '-api-key' });
  const clearKey = toggle(t('prov.clear_key'), false, { testid: 'provider-' + role + '-clear-key' });
  const result = h('div', { class: 'test-result', testid: 'provider-' + role + '-result', hidden: true, 'aria-live': 'polite' });
  const head = h('div', { class: 'card-head' });
  const status = h('div', { class: 'provider-badges' });
  const errorLine = h('div');

  const fill = () => {
    base.value = view.base_url || '';
    model.value = view.model || '';
    key.value = '';
    clearKey.box.checked = false;
    fillMeta();
  };
  // What a change to the pool alters: the saved key, the source, the badges.
  const fillMeta = () => {
    key.placeholder = view.keys > 1 ? t('prov.keys_saved', { count: view.keys })
      : view.api_key ? t('prov.key_saved', { masked: view.api_key }) : t('prov.key_none');
    clearKey.el.hidden = !view.api_key;
    if (!view.api_key) clearKey.box.checked = false;
    clear(status);
    status.appendChild(statusBadge(view.configured ? 'configured' : 'not_configured', 'provider-' + role + '-status'));
    status.appendChild(badge(view.source === 'admin' ? t('prov.source_admin') : t('prov.source_settings'), view.source === 'admin' ? 'accent' : 'neutral', 'provider-' + role + '-source'));
    reset.hidden = view.source !== 'admin';
    clear(errorLine);
    if (view.error) errorLine.appendChild(h('div', { class: 'inline-error' }, icon('alert'), h('span', null, view.error)));
    updated.textContent = view.updated_at ? t('prov.updated', { time: fmtTime(view.updated_at) }) : '';
    updated.hidden = !view.updated_at;
  };

  const values = () => {
    const body = { base_url: base.value.trim() || null, model: model.value.trim() || null };
    if (clearKey.box.checked) body.api_key = null;
    else if (key.value.trim()) body.api_key = key.value.trim();
    return body;
  };

  const showResult = (report) => {
    clear(result);
    result.hidden = false;
    result.className = 'test-result ' + (report.ok ? 'ok' : 'fail');
    result.setAttribute('data-ok', report.ok ? 'true' : 'false');
    if (report.ok) {
      result.appendChild(icon('check'));
      result.appendChild(h('span', { testid: 'provider-' + role + '-latency' }, t('prov.test_ok', { ms: report.latency_ms, model: report.model || '—' })));
    } else {
      result.appendChild(icon('alert'));
      result.appendChild(h('span', null, h('strong', null, t('prov.test_fail') + (report.status ? ' (' + report.status + ')' : '') + ': '), report.error || ''));
    }
  };

  const test = btn(t('prov.test'), { icon: 'activity', testid: 'provider-' + role + '-test' });
  test.addEventListener('click', () => busy(test, async () => {
    try { showResult(await api('POST', '/api/admin/providers/' + role + '/test', values())); } catch (e) { showResult({ ok: false, error: errorText(e), status: e.status }); }
  }));
  const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'provider-' + role + '-save' });
  save.addEventListener('click', () => busy(save, async () => {
    try {
      view = await api('PUT', '/api/admin/providers/' + role, values());
      fill();
      toast(t('prov.saved', { role: t('prov.' + role) }));
      if (hooks && hooks.changed) hooks.changed();
    } catch (e) { toast(errorText(e), 'error'); }
  }));
  const reset = btn(t('prov.reset'), { kind: 'ghost', icon: 'refresh', testid: 'provider-' + role + '-reset' });
  reset.addEventListener('click', async () => {
    if (!await confirmDialog({ message: t('prov.reset_confirm', { role: t('prov.' + role) }), danger: true, ok: t('prov.reset') })) return;
    await busy(reset, async () => {
      try {
        view = await api('DELETE', '/api/admin/providers/' + role);
        fill();
        result.hidden = true;
        toast(t('prov.reset_done', { role: t('prov.' + role) }));
        if (hooks && hooks.changed) hooks.changed();
      } catch (e) { toast(errorText(e), 'error'); }
    });
  });
  const listBtn = btn(t('prov.list_models'), { kind: 'ghost', small: true, icon: 'search', testid: 'provider-' + role + '-list-models' });
  listBtn.addEventListener('click', () => busy(listBtn, async () => {
    try {
      const res = await api('POST', '/api/admin/providers/' + role + '/models', values());
      clear(datalist);
      const ids = (res.data || []).map((m) => m.id);
      for (const id of ids) datalist.appendChild(h('option', { value: id }));
      renderPicker(ids);
      toast(ids.length ? t('prov.models_loaded', { count: ids.length }) : t('prov.models_none'), ids.length ? 'ok' : 'error');
    } catch (e) { toast(errorText(e), 'error'); }
  }));
  const picker = h('div', { class: 'chips picker', testid: 'provider-' + role + '-models', hidden: true });
  const renderPicker = (ids) => {
    clear(picker);
    picker.hidden = !ids.length;
    for (const id of ids.slice(0, 40)) {
      picker.appendChild(h('button', { type: 'button', class: 'chip' + (id === model.value ? ' active' : ''), onclick: () => { model.value = id; renderPicker(ids); } }, id));
    }
  };
  const updated = h('p', { class: 'muted small provider-updated' });

  add(head, [h('div', { class: 'card-titles' },
    h('h2', { class: 'card-title' }, h('span', { class: 'role-icon' }, icon(ROLE_ICON[role])), t('prov.' + role)),
    h('p', { class: 'card-sub' }, t('prov.' + role + '_desc')), updated), status]);
  add(el, [head, h('div', { class: 'card-body form' },
    errorLine,
    field(t('prov.base_url'), base),
    field(t('prov.model'), model, { extra: listBtn }),
    picker, datalist,
    field(t('prov.api_key'), key),
    clearKey.el,
    result),
  h('div', { class: 'card-foot' }, h('span'), h('div', { class: 'row-actions' }, reset, test, save))]);
  fill();
  if (hooks) hooks.update = (fresh) => { view = fresh; fillMeta(); };
  return el;
}
