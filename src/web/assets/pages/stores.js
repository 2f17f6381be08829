// @ts-check
// Knowledge: the vector stores (OpenAI's Vector Stores API) every key made,
// with their files' progress; an admin may delete one (its files stay).

import { api, errorText } from '../lib/api.js';
import { badge, btn, card, confirmDialog, emptyState, errorBlock, loadingBlock, statusBadge, table, toast } from '../lib/components.js';
import { clear, h } from '../lib/dom.js';
import { fmtBytes, timeEl } from '../lib/format.js';
import { t } from '../lib/i18n.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * The card, filled once the stores are read.
 * @param {PageContext} ctx
 * @returns {HTMLElement}
 */
export function storesCard(ctx) {
  const body = h('div', { testid: 'stores' });
  const holder = card({ title: t('vs.title'), subtitle: t('vs.subtitle'), icon: 'database', testid: 'kb-stores', flush: true }, body);
  /** @type {any[]} */
  let stores = [];
  async function load() {
    clear(body).appendChild(loadingBlock());
    try {
      const res = await api('GET', '/v1/vector_stores?limit=100');
      if (!ctx.alive()) return;
      stores = res.data || [];
      draw();
    } catch (e) { if (ctx.alive()) clear(body).appendChild(errorBlock(e, load)); }
  }
  function draw() {
    clear(body);
    if (!stores.length) {
      body.appendChild(emptyState('database', t('vs.empty'), t('vs.empty_body'), null, 'stores-empty'));
      return;
    }
    body.appendChild(table([
      { label: t('common.name'), class: 'col-main', render: (s) => h('div', null, h('div', { class: 'cell-title' }, s.name || t('vs.unnamed')), h('code', { class: 'small muted' }, s.id)) },
      { label: t('vs.visibility'), render: (s) => badge(s.visibility === 'shared' ? t('vs.shared') : t('kb.private'), s.visibility === 'shared' ? 'accent' : 'neutral') },
      { label: t('vs.files'), render: (s) => h('span', { class: 'nowrap', testid: 'store-files' }, t('vs.files_done', { done: s.file_counts.completed, total: s.file_counts.total })) },
      { label: t('vs.status'), render: (s) => statusBadge(s.status, 'store-status') },
      { label: t('kb.size'), render: (s) => fmtBytes(s.usage_bytes) },
      { label: t('vs.last_active'), render: (s) => timeEl(s.last_active_at * 1000, true) },
      {
        label: '', class: 'col-actions', render: (s) => btn(t('common.delete'), {
          small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'store-delete',
          onclick: async () => {
            if (!await confirmDialog({ message: t('vs.delete_confirm', { name: s.name || s.id }), danger: true, ok: t('common.delete') })) return;
            try {
              await api('DELETE', '/v1/vector_stores/' + encodeURIComponent(s.id));
              toast(t('vs.deleted'));
              stores = stores.filter((x) => x.id !== s.id);
              draw();
            } catch (e) { toast(errorText(e), 'error'); }
          },
        }),
      },
    ], stores, { testid: 'stores-table', rowTestid: () => 'store-row', rowAttrs: (s) => ({ 'data-store-id': s.id }) }));
  }
  load();
  return holder;
}
