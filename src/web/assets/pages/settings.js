// @ts-check
// Settings: the runtime settings and the admin password.

import { api, errorText } from '../lib/api.js';
import { badge, btn, busy, card, field, inlineError, input, loadingBlock, pageHeader, splitList, textarea, toast, toggle } from '../lib/components.js';
import { clear, h } from '../lib/dom.js';
import { fmtBytes, fmtNumber } from '../lib/format.js';
import { t } from '../lib/i18n.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageSettings(root, ctx) {
  root.appendChild(pageHeader(t('set.title'), t('set.subtitle')));
  const holder = h('div', { class: 'stack' }, loadingBlock());
  root.appendChild(holder);
  let settings = await api('GET', '/api/admin/settings');
  if (!ctx.alive()) return;
  clear(holder);

  const NUMBERS = ['max_messages', 'max_message_chars', 'max_total_chars', 'top_k', 'upload_max_bytes'];
  const controls = {};
  controls.system_prompt = textarea({ rows: '5', testid: 'setting-system_prompt', placeholder: t('set.system_prompt_ph') });
  for (const n of NUMBERS) controls[n] = input({ type: 'number', min: '1', testid: 'setting-' + n });
  controls.draw_triggers = input({ testid: 'setting-draw_triggers' });
  const footer = toggle(t('set.citation_footer'), false, { testid: 'setting-citation_footer' });
  controls.citation_footer = footer.box;

  const readValue = (name) => {
    const el = controls[name];
    if (name === 'system_prompt') return el.value.trim() ? el.value : null;
    if (name === 'citation_footer') return el.checked;
    if (name === 'draw_triggers') return splitList(el.value);
    const v = el.value.trim();
    if (v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : v;
  };
  const shown = (name, value) => {
    if (name === 'draw_triggers') return (value || []).join(', ');
    if (name === 'system_prompt') return value || '';
    return value == null ? '' : String(value);
  };
  const extras = {};
  const fill = () => {
    for (const name of Object.keys(controls)) {
      if (name === 'citation_footer') controls[name].checked = !!settings[name];
      else controls[name].value = shown(name, settings[name]);
      const ex = extras[name];
      if (ex) {
        clear(ex);
        if ((settings.saved || []).includes(name)) {
          ex.appendChild(badge(t('set.saved_badge'), 'accent'));
          ex.appendChild(h('button', { type: 'button', class: 'link small', testid: 'setting-reset-' + name, onclick: () => resetOne(name) }, t('common.reset')));
        }
      }
    }
  };
  const defaultText = (name) => {
    const d = settings.defaults ? settings.defaults[name] : undefined;
    if (d == null || d === '') return t('common.default_is', { value: t('common.none') });
    if (name === 'draw_triggers') return t('common.default_is', { value: d.join(', ') });
    if (name === 'citation_footer') return t('common.default_is', { value: d ? t('common.on') : t('common.off') });
    if (name === 'upload_max_bytes') return t('common.default_is', { value: fmtNumber(d) + ' (' + fmtBytes(d) + ')' });
    return t('common.default_is', { value: typeof d === 'number' ? fmtNumber(d) : d });
  };
  const f = (name, label, hint) => {
    extras[name] = h('span', { class: 'field-extra' });
    return field(label, controls[name], { hint: [hint, defaultText(name)].filter(Boolean).join(' · '), extra: extras[name] });
  };
  const footerExtra = h('span', { class: 'field-extra' });
  extras.citation_footer = footerExtra;

  const err = inlineError('settings-error');
  const save = btn(t('common.save'), { kind: 'primary', icon: 'check', type: 'submit', testid: 'settings-save' });
  const form = h('form', {
    class: 'form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      err.hide();
      const changes = {};
      for (const name of Object.keys(controls)) {
        const now = readValue(name);
        const before = settings[name];
        if (JSON.stringify(now) !== JSON.stringify(before === undefined ? null : before)) {
          if (name === 'draw_triggers' && !now.length) changes[name] = null;
          else changes[name] = now;
        }
      }
      if (!Object.keys(changes).length) { toast(t('set.nothing')); return; }
      busy(save, async () => {
        try {
          settings = await api('PATCH', '/api/admin/settings', changes);
          fill();
          toast(t('set.saved'));
        } catch (e2) { err.show(errorText(e2)); }
      });
    },
  },
  f('system_prompt', t('set.system_prompt')),
  h('div', { class: 'grid-2-tight' },
    f('max_messages', t('set.max_messages')),
    f('top_k', t('set.top_k')),
    f('max_message_chars', t('set.max_message_chars')),
    f('max_total_chars', t('set.max_total_chars')),
    f('draw_triggers', t('set.draw_triggers'), t('set.draw_triggers_hint')),
    f('upload_max_bytes', t('set.upload_max_bytes'))),
  h('div', { class: 'toggle-row' }, footer.el, footerExtra),
  err.el,
  h('div', { class: 'form-actions' }, save));

  async function resetOne(name) {
    try {
      settings = await api('PATCH', '/api/admin/settings', { [name]: null });
      fill();
      toast(t('set.reset_done'));
    } catch (e) { toast(errorText(e), 'error'); }
  }

  holder.appendChild(card({ title: t('set.runtime'), icon: 'settings', testid: 'settings-card' }, form));
  fill();

  // Password
  const cur = input({ type: 'password', autocomplete: 'current-password', testid: 'pw-current' });
  const pw1 = input({ type: 'password', autocomplete: 'new-password', testid: 'pw-new' });
  const pw2 = input({ type: 'password', autocomplete: 'new-password', testid: 'pw-new2' });
  const pwErr = inlineError('pw-error');
  const pwSave = btn(t('set.password_submit'), { kind: 'primary', type: 'submit', icon: 'lock', testid: 'pw-submit' });
  const pwForm = h('form', {
    class: 'form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      pwErr.hide();
      const count = [...pw1.value].length;
      if (count < 12) { pwErr.show(t('setup.too_short', { count })); pw1.focus(); return; }
      if (pw1.value !== pw2.value) { pwErr.show(t('setup.mismatch')); pw2.focus(); return; }
      busy(pwSave, async () => {
        try {
          await api('POST', '/api/admin/password', { current_password: cur.value, new_password: pw1.value }, { quiet401: true });
          cur.value = '';
          pw1.value = '';
          pw2.value = '';
          toast(t('set.password_done'));
        } catch (e2) { pwErr.show(errorText(e2)); }
      });
    },
  },
  h('div', { class: 'grid-3' },
    field(t('set.current_password'), cur),
    field(t('set.new_password'), pw1),
    field(t('set.new_password2'), pw2)),
  h('p', { class: 'field-hint' }, t('setup.password_hint') + ' ' + t('set.password_hint')),
  pwErr.el,
  h('div', { class: 'form-actions' }, pwSave));
  holder.appendChild(card({ title: t('set.password'), icon: 'lock', testid: 'password-card' }, pwForm));
}
