// @ts-check
// API keys: create, edit, revoke.

import { api, errorText, rememberKey } from '../lib/api.js';
import { badge, btn, busy, card, confirmDialog, emptyState, errorBlock, field, inlineError, input, loadingBlock, modal, numberOrNull, pageHeader, secretBox, select, statusBadge, table, toast } from '../lib/components.js';
import { keyState } from '../lib/data.js';
import { clear, h } from '../lib/dom.js';
import { fmtCompact, fmtNumber, fmtTime, timeEl } from '../lib/format.js';
import { t } from '../lib/i18n.js';
import { go } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageKeys(root, ctx) {
  root.appendChild(pageHeader(t('keys.title'), t('keys.subtitle')));
  const name = input({ testid: 'key-name', placeholder: t('keys.name_ph'), maxlength: '100' });
  const role = select([{ value: 'user', label: t('keys.role_user') }, { value: 'admin', label: t('keys.role_admin') }], { testid: 'key-role' });
  const expires = input({ type: 'date', testid: 'key-expires', min: new Date(Date.now() + 86400000).toISOString().slice(0, 10) });
  const rpm = input({ type: 'number', min: '1', step: '1', inputmode: 'numeric', testid: 'key-rpm', placeholder: t('keys.no_limit') });
  const tpd = input({ type: 'number', min: '1', step: '1', inputmode: 'numeric', testid: 'key-tpd', placeholder: t('keys.no_limit') });
  const err = inlineError('key-error');
  const create = btn(t('common.create'), { kind: 'primary', icon: 'plus', type: 'submit', testid: 'key-create' });
  const form = h('form', {
    class: 'form key-form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      err.hide();
      if (!name.value.trim()) { err.show(t('keys.name_required')); name.focus(); return; }
      const body = { name: name.value.trim(), role: role.value };
      if (expires.value) {
        const end = new Date(expires.value + 'T23:59:59');
        if (!isNaN(end.getTime())) body.expires_at = end.toISOString();
      }
      const perMinute = numberOrNull(rpm);
      const perDay = numberOrNull(tpd);
      if (perMinute != null) body.requests_per_minute = perMinute;
      if (perDay != null) body.tokens_per_day = perDay;
      busy(create, async () => {
        try {
          const key = await api('POST', '/api/admin/keys', body);
          rememberKey(key);
          name.value = '';
          expires.value = '';
          rpm.value = '';
          tpd.value = '';
          showSecret(key);
          loadList();
        } catch (e2) { err.show(errorText(e2)); }
      });
    },
  },
  h('div', { class: 'key-form-grid' },
    field(t('keys.name'), name, { class: 'key-field-name' }),
    field(t('keys.role'), role),
    field(t('keys.expires'), expires, { optional: true }),
    field(t('keys.rpm'), rpm, { optional: true }),
    field(t('keys.tpd'), tpd, { optional: true })),
  err.el,
  h('div', { class: 'key-form-foot' },
    h('p', { class: 'field-hint' }, t('keys.limits_hint')),
    create));
  root.appendChild(card({ title: t('keys.create'), icon: 'plus', testid: 'key-create-card' }, form));
  const list = h('div', null, loadingBlock());
  root.appendChild(list);

  async function loadList() {
    let keys;
    try { keys = await api('GET', '/api/admin/keys'); } catch (e) {
      if (ctx.alive()) clear(list).appendChild(errorBlock(e, loadList));
      return;
    }
    if (!ctx.alive()) return;
    clear(list);
    if (!keys.data.length) {
      list.appendChild(card({}, emptyState('keys', t('keys.empty'))));
      return;
    }
    const rows = keys.data.slice().sort((a, b) => (a.revoked - b.revoked) || (b.created_at - a.created_at));
    list.appendChild(card({ flush: true, testid: 'keys-card' }, table([
      {
        label: t('keys.name'), class: 'col-main', render: (k) => h('div', null,
          h('strong', { testid: 'key-name-cell' }, k.name),
          h('div', { class: 'cell-sub', title: new Date(k.created_at).toISOString() }, t('keys.created_on', { time: fmtTime(k.created_at) }))),
      },
      { label: t('keys.prefix'), render: (k) => h('code', { class: 'nowrap' }, k.prefix + '…') },
      { label: t('keys.role'), render: (k) => badge(k.role === 'admin' ? t('keys.role_admin') : t('keys.role_user'), k.role === 'admin' ? 'accent' : 'neutral') },
      { label: t('common.status'), render: (k) => statusBadge(keyState(k), 'key-status') },
      { label: t('keys.last_used'), render: (k) => timeEl(k.last_used_at, true) },
      { label: t('keys.expires'), render: (k) => (k.expires_at ? timeEl(k.expires_at) : h('span', { class: 'muted' }, t('common.never'))) },
      { label: t('keys.limits'), render: keyLimits },
      {
        label: '', class: 'col-actions', render: (k) => k.revoked ? h('span') : h('div', { class: 'row-actions' }, btn(t('common.edit'), {
          small: true, icon: 'edit', testid: 'key-edit',
          onclick: () => keyEditForm(k, loadList),
        }), btn(t('keys.revoke'), {
          small: true, kind: 'ghost-danger', icon: 'ban', iconOnly: true, testid: 'key-revoke',
          onclick: async () => {
            if (!await confirmDialog({ title: t('keys.revoke_title'), message: t('keys.revoke_confirm', { name: k.name, prefix: k.prefix }), danger: true, ok: t('keys.revoke') })) return;
            try {
              await api('DELETE', '/api/admin/keys/' + encodeURIComponent(k.id));
              toast(t('keys.revoked', { name: k.name }));
              loadList();
            } catch (e) { toast(errorText(e), 'error'); }
          },
        })),
      },
    ], rows, { testid: 'keys-table', rowTestid: () => 'key-row', rowAttrs: (k) => ({ 'data-key-id': k.id, 'data-key-name': k.name, 'data-state': keyState(k) }) })));
  }
  await loadList();
}

/**
 * @param {any} k
 * @returns {HTMLSpanElement}
 */
function keyLimits(k) {
  const parts = [];
  if (k.requests_per_minute != null) parts.push(h('span', { class: 'limit' }, t('keys.rpm_value', { n: fmtNumber(k.requests_per_minute) })));
  if (k.tokens_per_day != null) parts.push(h('span', { class: 'limit' }, t('keys.tpd_value', { n: fmtCompact(k.tokens_per_day) })));
  if (!parts.length) return h('span', { class: 'muted', testid: 'key-limits', 'data-none': '' }, t('keys.limits_none'));
  return h('span', { class: 'limits', testid: 'key-limits' }, parts.map((p, i) => [i ? h('span', { class: 'limit-sep', 'aria-hidden': 'true' }, ' · ') : null, p]));
}

/**
 * The local date as YYYY-MM-DD (a date input's value); empty for none.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
function localDay(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
}

/**
 * @param {any} k
 * @param {() => unknown} [onSaved]
 */
function keyEditForm(k, onSaved) {
  const name = input({ testid: 'key-edit-name', value: k.name, maxlength: '100' });
  const numberProps = { type: 'number', min: '1', step: '1', inputmode: 'numeric', placeholder: t('keys.no_limit') };
  const rpm = input(Object.assign({ testid: 'key-edit-rpm', value: k.requests_per_minute == null ? '' : String(k.requests_per_minute) }, numberProps));
  const tpd = input(Object.assign({ testid: 'key-edit-tpd', value: k.tokens_per_day == null ? '' : String(k.tokens_per_day) }, numberProps));
  const originalDay = localDay(k.expires_at);
  const expires = input({ type: 'date', testid: 'key-edit-expires', value: originalDay });
  const err = inlineError('key-edit-error');
  const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'key-edit-save' });
  const body = h('form', { class: 'form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save.click(); } },
    h('div', { class: 'key-edit-meta' }, h('code', null, k.prefix + '…'), badge(k.role === 'admin' ? t('keys.role_admin') : t('keys.role_user'), k.role === 'admin' ? 'accent' : 'neutral'), statusBadge(keyState(k))),
    field(t('keys.name'), name),
    h('div', { class: 'grid-2-tight' },
      field(t('keys.rpm'), rpm, { optional: true }),
      field(t('keys.tpd'), tpd, { optional: true })),
    h('p', { class: 'field-hint key-edit-hint' }, t('keys.edit_limits_hint')),
    field(t('keys.expires'), expires, { optional: true, hint: t('keys.edit_expires_hint') }),
    err.el,
    h('button', { type: 'submit', hidden: true, tabindex: '-1' }));
  const dlg = modal({
    title: t('keys.edit_title', { name: k.name }), testid: 'key-edit-modal', body,
    actions: [btn(t('common.cancel'), { kind: 'ghost', testid: 'key-edit-cancel', onclick: () => dlg.close() }), save],
  });
  save.addEventListener('click', () => busy(save, async () => {
    err.hide();
    if (!name.value.trim()) { err.show(t('keys.name_required')); name.focus(); return; }
    const payload = {
      name: name.value.trim(),
      requests_per_minute: numberOrNull(rpm),
      tokens_per_day: numberOrNull(tpd),
    };
    // Only a changed expiry is sent: an expired key keeps its past date.
    if (expires.value !== originalDay) {
      if (!expires.value) payload.expires_at = null;
      else {
        const end = new Date(expires.value + 'T23:59:59');
        payload.expires_at = isNaN(end.getTime()) ? expires.value : end.toISOString();
      }
    }
    try {
      const saved = await api('PATCH', '/api/admin/keys/' + encodeURIComponent(k.id), payload);
      toast(t('keys.saved', { name: (saved && saved.name) || payload.name }));
      dlg.close();
      if (onSaved) onSaved();
    } catch (e) {
      err.show(errorText(e));
    }
  }));
}

/**
 * A new key's secret, shown once.
 * @param {any} key
 */
function showSecret(key) {
  const dlg = modal({
    title: t('keys.created_title'), testid: 'key-secret-modal',
    body: h('div', { class: 'stack-sm' },
      h('p', null, t('keys.secret_label', { name: key.name })),
      secretBox(key.key, 'key-secret')),
    actions: [
      btn(t('keys.try'), { kind: 'ghost', icon: 'playground', onclick: () => { S.pg.keyChoice = key.id; dlg.close(); go('playground'); } }),
      btn(t('common.close'), { kind: 'primary', testid: 'key-secret-close', onclick: () => dlg.close() }),
    ],
  });
}
