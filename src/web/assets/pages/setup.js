// @ts-check
// First-run setup: the admin password, optional upstreams, the first key.

import { api, errorText, rememberKey } from '../lib/api.js';
import { authFrame, btn, busy, field, inlineError, input, secretBox } from '../lib/components.js';
import { ROLES } from '../lib/data.js';
import { focusSoon, h, icon } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { go } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * The setup form, or the first key once setup is done.
 * @param {HTMLElement} app
 * @param {PageContext} ctx
 */
export function renderSetup(app, ctx) {
  document.title = t('setup.title') + ' · ragway';
  if (S.setupDone) {
    authFrame(app, h('div', { class: 'auth-card card', testid: 'setup-done' },
      h('div', { class: 'done-mark' }, icon('check')),
      h('h1', { class: 'auth-title' }, t('setup.done_title')),
      h('p', { class: 'auth-sub' }, t('setup.done_body')),
      secretBox(S.setupDone.key, 'setup-key'),
      btn(t('setup.continue'), { kind: 'primary', block: true, testid: 'setup-continue', onclick: () => { S.setupDone = null; go('dashboard'); } })));
    return;
  }
  const pw = input({ type: 'password', autocomplete: 'new-password', testid: 'setup-password', minlength: '12' });
  const pw2 = input({ type: 'password', autocomplete: 'new-password', testid: 'setup-password2' });
  const err = inlineError('setup-error');
  const meter = h('div', { class: 'pw-meter' }, h('span'));
  pw.addEventListener('input', () => {
    const n = [...pw.value].length;
    meter.classList.toggle('good', n >= 12);
    /** @type {HTMLElement} */ (meter.firstChild).style.width = Math.min(100, (n / 12) * 100) + '%';
  });
  const provInputs = {};
  const provGroups = ROLES.map((role) => {
    const base = input({ type: 'url', placeholder: 'https://api.example.com/v1', testid: 'setup-' + role + '-base-url' });
    const model = input({ testid: 'setup-' + role + '-model' });
    const key = input({ type: 'password', autocomplete: 'off', testid: 'setup-' + role + '-api-key' });
    provInputs[role] = { base, model, key };
    return h('fieldset', { class: 'setup-role' },
      h('legend', null, t('prov.' + role)),
      h('div', { class: 'grid-3' }, field(t('prov.base_url'), base), field(t('prov.model'), model), field(t('prov.api_key'), key)));
  });
  const details = h('details', { class: 'setup-providers', testid: 'setup-providers' },
    h('summary', null, icon('chevron', 'summary-chevron'), t('setup.providers')),
    h('p', { class: 'field-hint' }, t('setup.providers_hint')), provGroups);
  const submit = btn(t('setup.submit'), { kind: 'primary', type: 'submit', block: true, testid: 'setup-submit' });
  const form = h('form', {
    class: 'form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.hide();
      const count = [...pw.value].length;
      if (count < 12) { err.show(t('setup.too_short', { count })); pw.focus(); return; }
      if (pw.value !== pw2.value) { err.show(t('setup.mismatch')); pw2.focus(); return; }
      const providers = {};
      for (const role of ROLES) {
        const p = provInputs[role];
        const entry = {};
        if (p.base.value.trim()) entry.base_url = p.base.value.trim();
        if (p.model.value.trim()) entry.model = p.model.value.trim();
        if (p.key.value.trim()) entry.api_key = p.key.value.trim();
        if (Object.keys(entry).length) providers[role] = entry;
      }
      const body = { password: pw.value };
      if (Object.keys(providers).length) body.providers = providers;
      await busy(submit, async () => {
        try {
          const res = await api('POST', '/api/admin/setup', body, { quiet401: true });
          S.setupRequired = false;
          S.authed = true;
          S.setupDone = res.key;
          rememberKey(res.key);
          if (ctx.alive()) renderSetup(app, ctx);
        } catch (e2) {
          if (e2.status === 409) { S.setupRequired = false; S.authed = null; go('login'); return; }
          err.show(errorText(e2));
        }
      });
    },
  },
  field(t('setup.password'), pw, { hint: t('setup.password_hint') }), meter,
  field(t('setup.password2'), pw2),
  details, err.el, submit);
  authFrame(app, h('div', { class: 'auth-card card auth-card-wide', testid: 'setup-page' },
    h('h1', { class: 'auth-title' }, t('setup.title')),
    h('p', { class: 'auth-sub' }, t('setup.subtitle')),
    form));
  focusSoon(pw);
}
