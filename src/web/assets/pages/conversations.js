// @ts-check
// Conversations: the list, and one conversation's messages.

import { api, errorText } from '../lib/api.js';
import { badge, btn, busy, card, confirmDialog, emptyState, errorBlock, loadingBlock, pageHeader, select, sourceCards, table, toast } from '../lib/components.js';
import { clear, h, icon } from '../lib/dom.js';
import { fmtTime, timeEl } from '../lib/format.js';
import { hasText, t } from '../lib/i18n.js';
import { plainText, renderMarkdown } from '../lib/markdown.js';
import { go } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * The list, or one conversation (#/conversations/<id>).
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 * @param {string[]} params
 */
export async function pageConversations(root, ctx, params) {
  if (params[0]) return conversationDetail(root, ctx, params[0]);
  root.appendChild(pageHeader(t('conv.title'), t('conv.subtitle')));
  const keys = await api('GET', '/api/admin/keys').catch(() => ({ data: [] }));
  if (!ctx.alive()) return;
  const keyNames = new Map(keys.data.map((k) => [k.id, k.name + ' · ' + k.prefix + '…']));
  keyNames.set('admin-session', t('conv.admin_session'));
  const filter = select([{ value: '', label: t('conv.all_keys') }]
    .concat(keys.data.map((k) => ({ value: k.id, label: keyNames.get(k.id) })))
    .concat([{ value: 'admin-session', label: t('conv.admin_session') }]), { testid: 'conv-filter-key' });
  if (S.convKey) filter.value = S.convKey;
  const listBody = h('div', { testid: 'conversations' });
  const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'conv-more' });
  const moreRow = h('div', { class: 'more-row', hidden: true }, more);
  root.appendChild(card({ flush: true, testid: 'conv-card', title: t('conv.title'), icon: 'conversations', actions: h('div', { class: 'filters' }, h('label', { class: 'filter-label', for: 'conv-key' }, t('conv.filter_key')), filter) }, listBody, moreRow));
  filter.id = 'conv-key';
  let items = [];
  let cursor = null;
  async function load(append) {
    if (!append) clear(listBody).appendChild(loadingBlock());
    const p = new URLSearchParams({ limit: '25' });
    if (filter.value) p.set('key_id', filter.value);
    if (append && cursor) p.set('after', cursor);
    try {
      const res = await api('GET', '/api/admin/conversations?' + p.toString());
      if (!ctx.alive()) return;
      items = append ? items.concat(res.data) : res.data;
      cursor = res.next_cursor || null;
      moreRow.hidden = !res.has_more;
      draw();
    } catch (e) { if (ctx.alive()) clear(listBody).appendChild(errorBlock(e, () => load(false))); }
  }
  function draw() {
    clear(listBody);
    if (!items.length) {
      listBody.appendChild(emptyState('conversations', t('conv.empty'), t('conv.empty_body')));
      return;
    }
    listBody.appendChild(table([
      { label: t('conv.title'), class: 'col-main', render: (c) => h('a', { class: 'cell-link', href: '#/conversations/' + encodeURIComponent(c.id), testid: 'conv-link' }, c.title || t('conv.untitled')) },
      { label: t('conv.model'), render: (c) => h('code', null, c.model) },
      { label: t('conv.filter_key'), render: (c) => h('span', { class: 'small' }, keyNames.get(c.key_id) || c.key_id) },
      { label: t('conv.messages'), render: (c) => String(c.message_count) },
      { label: t('common.updated'), render: (c) => timeEl(c.updated_at, true) },
      {
        label: '', class: 'col-actions', render: (c) => btn(t('common.delete'), {
          small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'conv-delete',
          onclick: async () => {
            if (!await confirmDialog({ message: t('conv.delete_confirm'), danger: true, ok: t('common.delete') })) return;
            try {
              await api('DELETE', '/api/admin/conversations/' + encodeURIComponent(c.id));
              toast(t('conv.deleted'));
              items = items.filter((x) => x.id !== c.id);
              draw();
            } catch (e) { toast(errorText(e), 'error'); }
          },
        }),
      },
    ], items, { testid: 'conv-table', rowTestid: () => 'conv-row' }));
  }
  filter.addEventListener('change', () => { S.convKey = filter.value; load(false); });
  more.addEventListener('click', () => busy(more, () => load(true)));
  await load(false);
}

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 * @param {string} id
 */
async function conversationDetail(root, ctx, id) {
  const back = h('a', { class: 'back-link', href: '#/conversations', testid: 'conv-back' }, icon('arrowLeft'), t('common.back'));
  root.appendChild(back);
  const holder = h('div', null, loadingBlock());
  root.appendChild(holder);
  const [conv, keys] = await Promise.all([
    api('GET', '/api/admin/conversations/' + encodeURIComponent(id)),
    api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
  ]);
  if (!ctx.alive()) return;
  const key = keys.data.find((k) => k.id === conv.key_id);
  clear(holder);
  const del = btn(t('common.delete'), {
    kind: 'ghost-danger', icon: 'trash', testid: 'conv-detail-delete',
    onclick: async () => {
      if (!await confirmDialog({ message: t('conv.delete_confirm'), danger: true, ok: t('common.delete') })) return;
      try {
        await api('DELETE', '/api/admin/conversations/' + encodeURIComponent(id));
        toast(t('conv.deleted'));
        go('conversations');
      } catch (e) { toast(errorText(e), 'error'); }
    },
  });
  holder.appendChild(pageHeader(conv.title || t('conv.untitled'), null, del));
  holder.appendChild(h('div', { class: 'meta-row' },
    badge(conv.model, 'accent'),
    h('span', { class: 'muted small' }, key ? key.name + ' · ' + key.prefix + '…' : (conv.key_id === 'admin-session' ? t('conv.admin_session') : conv.key_id)),
    h('span', { class: 'muted small' }, fmtTime(conv.created_at)),
    h('span', { class: 'muted small' }, t('conv.messages') + ': ' + conv.message_count)));
  const thread = h('div', { class: 'thread', testid: 'conv-messages' });
  for (const msg of conv.messages || []) {
    const bubble = h('div', { class: 'msg msg-' + msg.role, testid: 'conv-message' },
      h('div', { class: 'msg-head' },
        h('span', { class: 'msg-role' }, hasText('conv.role_' + msg.role) ? t('conv.role_' + msg.role) : msg.role),
        msg.incomplete ? badge(t('conv.incomplete'), 'warn') : null,
        msg.usage && msg.usage.total_tokens ? h('span', { class: 'muted small' }, t('conv.tokens', { count: msg.usage.total_tokens })) : null,
        h('span', { class: 'muted small' }, fmtTime(msg.created_at))),
      h('div', { class: 'msg-body' }, msg.role === 'assistant' ? renderMarkdown(msg.content) : plainText(msg.content)),
      msg.sources && msg.sources.length ? sourceCards(msg.sources) : null);
    thread.appendChild(bubble);
  }
  holder.appendChild(thread);
}
