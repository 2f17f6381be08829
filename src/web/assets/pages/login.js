// @ts-check
// The login screen.

import { api, errorText } from '../lib/api.js';
import { authFrame, btn, busy, field, inlineError, input } from '../lib/components.js';
import { focusSoon, h, icon } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { go } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} app
 * @param {PageContext} ctx
 */
export function renderLogin(app, ctx) {
  document.title = t('login.title') + ' · ragway';
  const pw = input({ type: 'password', autocomplete: 'current-password', testid: 'login-password' });
  const err = inlineError('login-error');
  const submit = btn(t('login.submit'), { kind: 'primary', type: 'submit', block: true, testid: 'login-submit' });
  const form = h('form', {
    class: 'form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.hide();
      if (!pw.value) { pw.focus(); return; }
      await busy(submit, async () => {
        try {
          await api('POST', '/api/admin/login', { password: pw.value }, { quiet401: true });
          S.authed = true;
          const target = S.afterLogin;
          S.afterLogin = null;
          if (target && target !== '#/login') location.hash = target;
          else go('dashboard');
        } catch (e2) {
          if (e2.status === 409) { S.setupRequired = true; go('setup'); return; }
          err.show(errorText(e2));
          pw.select();
        }
      });
    },
  }, field(t('login.password'), pw), err.el, submit);
  authFrame(app, h('div', { class: 'auth-card card', testid: 'login-page' },
    h('div', { class: 'auth-lock' }, icon('lock')),
    h('h1', { class: 'auth-title' }, t('login.title')),
    h('p', { class: 'auth-sub' }, t('login.subtitle')),
    form));
  if (ctx.alive()) focusSoon(pw);
}
