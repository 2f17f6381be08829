// @ts-check
// Models: the model names clients call, each with its retrieval settings.

import { api, errorText } from '../lib/api.js';
import { badge, btn, busy, card, confirmDialog, emptyState, field, inlineError, input, loadingBlock, modal, numberOrNull, pageHeader, splitList, table, textarea, toast, toggle } from '../lib/components.js';
import { clear, h, icon } from '../lib/dom.js';
import { timeEl } from '../lib/format.js';
import { t } from '../lib/i18n.js';
import { render } from '../lib/router.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageModels(root, ctx) {
  const newBtn = btn(t('models.new'), { kind: 'primary', icon: 'plus', testid: 'model-new' });
  root.appendChild(pageHeader(t('models.title'), t('models.subtitle'), newBtn));
  const holder = h('div', null, loadingBlock());
  root.appendChild(holder);
  const [models, collections, settings] = await Promise.all([
    api('GET', '/api/admin/models'),
    api('GET', '/v1/collections').catch(() => ({ data: [] })),
    api('GET', '/api/admin/settings').catch(() => null),
  ]);
  if (!ctx.alive()) return;
  const extra = { collections: collections.data || [], settings };
  newBtn.addEventListener('click', () => modelForm(null, extra));
  clear(holder);
  if (!models.data.length) {
    holder.appendChild(card({}, emptyState('models', t('models.empty'), null, btn(t('models.new'), { kind: 'primary', icon: 'plus', onclick: () => modelForm(null, extra) }))));
    return;
  }
  const features = (m) => h('div', { class: 'chips' },
    m.retrieval ? badge(t('models.feature_retrieval'), 'accent') : null,
    m.rerank ? badge(t('models.feature_rerank'), 'info') : null,
    m.drawing ? badge(t('models.feature_drawing'), 'warn') : null,
    m.citation_footer ? badge(t('models.feature_footer'), 'neutral') : null);
  holder.appendChild(card({ flush: true, testid: 'models-card' }, table([
    { label: t('models.id'), class: 'col-main', render: (m) => h('div', null,
      h('div', { class: 'cell-main' }, h('strong', null, m.id), m.builtin ? badge(t('models.builtin'), 'neutral') : null),
      m.system_prompt ? h('div', { class: 'cell-sub', title: m.system_prompt }, m.system_prompt) : null) },
    { label: t('models.upstream'), render: (m) => m.upstream_model ? h('code', null, m.upstream_model) : h('span', { class: 'muted' }, t('common.default')) },
    { label: t('models.collections'), render: (m) => m.collections.length ? h('div', { class: 'chips' }, m.collections.map((c) => badge(c, 'neutral'))) : h('span', { class: 'muted' }, t('models.all_collections')) },
    { label: t('models.features'), render: features },
    { label: t('common.updated'), render: (m) => m.builtin ? null : timeEl(m.updated_at) },
    {
      label: '', class: 'col-actions', render: (m) => h('div', { class: 'row-actions' },
        btn(t('common.edit'), { small: true, icon: 'edit', testid: 'model-edit-' + m.id, onclick: () => modelForm(m, extra) }),
        m.builtin ? null : btn(t('common.delete'), {
          small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'model-delete-' + m.id,
          onclick: async () => {
            if (!await confirmDialog({ message: t('models.delete_confirm', { id: m.id }), danger: true, ok: t('common.delete') })) return;
            try { await api('DELETE', '/api/admin/models/' + encodeURIComponent(m.id)); toast(t('models.deleted', { id: m.id })); render(); } catch (e) { toast(errorText(e), 'error'); }
          },
        })),
    },
  ], models.data, { rowTestid: (m) => 'model-row-' + m.id, testid: 'models-table' })));
}

/**
 * The dialog that creates a model, or edits `model`.
 * @param {any} model null for a new one
 * @param {{ collections: any[], settings: any }} extra
 */
function modelForm(model, extra) {
  const m = model || { id: '', collections: [], retrieval: true, rerank: false, drawing: false, citation_footer: false };
  const settings = extra.settings || {};
  const upstreamList = h('datalist', { id: 'upstream-models' });
  const id = input({ testid: 'model-form-id', value: m.id, placeholder: 'e.g. handbook' });
  const upstream = input({ testid: 'model-form-upstream', value: m.upstream_model || '', list: 'upstream-models', placeholder: t('common.default') });
  const prompt = textarea({ testid: 'model-form-system-prompt', rows: '4', placeholder: settings.system_prompt || '' });
  prompt.value = m.system_prompt || '';
  const chosen = new Set(m.collections || []);
  const colls = h('div', { class: 'chips collection-picker', testid: 'model-form-collections' });
  const collections = extra.collections || [];
  if (!collections.length) colls.appendChild(h('span', { class: 'muted small' }, t('models.no_collections')));
  for (const c of collections) {
    const box = h('input', { type: 'checkbox', value: c.name, checked: chosen.has(c.name), testid: 'model-form-collection-' + c.name });
    colls.appendChild(h('label', { class: 'check-chip' }, box, h('span', null, c.name)));
  }
  const retrieval = toggle(t('models.retrieval'), m.retrieval, { testid: 'model-form-retrieval' });
  const rerank = toggle(t('models.rerank'), m.rerank, { testid: 'model-form-rerank' });
  const drawing = toggle(t('models.drawing'), m.drawing, { testid: 'model-form-drawing' });
  const footer = toggle(t('models.citation_footer'), m.citation_footer, { testid: 'model-form-citation-footer' });
  const topK = input({ type: 'number', min: '1', max: '50', testid: 'model-form-top-k', value: m.top_k == null ? '' : String(m.top_k), placeholder: settings.top_k != null ? t('models.global', { value: settings.top_k }) : '' });
  const threshold = input({ type: 'number', min: '-1', max: '1', step: '0.01', testid: 'model-form-score-threshold', value: m.score_threshold == null ? '' : String(m.score_threshold) });
  const rerankThreshold = input({ type: 'number', step: '0.01', testid: 'model-form-rerank-threshold', value: m.rerank_threshold == null ? '' : String(m.rerank_threshold) });
  const condense = input({ testid: 'model-form-condense-model', value: m.condense_model || '', list: 'upstream-models', placeholder: t('models.condense_off') });
  const maxMessages = input({ type: 'number', min: '1', max: '1000', testid: 'model-form-max-messages', value: m.max_messages == null ? '' : String(m.max_messages), placeholder: settings.max_messages != null ? t('models.global', { value: settings.max_messages }) : '' });
  const globalTriggers = (settings.draw_triggers || []).join(', ');
  const triggers = input({ testid: 'model-form-draw-triggers', value: (m.draw_triggers || []).join(', '), placeholder: globalTriggers });
  const err = inlineError('model-form-error');
  const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'model-save' });

  const body = h('form', { class: 'form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save.click(); } },
    m.builtin ? h('div', { class: 'banner banner-info compact' }, icon('alert'), h('span', null, t('models.builtin_hint'))) : null,
    h('div', { class: 'grid-2-tight' },
      field(t('models.id'), id, { hint: t('models.id_hint') }),
      field(t('models.upstream'), upstream, { hint: t('models.upstream_hint'), optional: true })),
    upstreamList,
    field(t('models.system_prompt'), prompt, { hint: t('models.system_prompt_hint'), optional: true }),
    h('h3', { class: 'form-section' }, t('models.retrieval_section')),
    retrieval.el,
    field(t('models.collections'), colls, { hint: t('models.collections_hint') }),
    h('div', { class: 'grid-2-tight' },
      field(t('models.top_k'), topK, { optional: true }),
      field(t('models.score_threshold'), threshold, { hint: t('models.score_hint'), optional: true })),
    rerank.el,
    h('div', { class: 'grid-2-tight' },
      field(t('models.rerank_threshold'), rerankThreshold, { hint: t('models.rerank_threshold_hint'), optional: true }),
      field(t('models.condense_model'), condense, { hint: t('models.condense_hint'), optional: true })),
    footer.el,
    h('h3', { class: 'form-section' }, t('models.limits_section')),
    h('div', { class: 'grid-2-tight' },
      field(t('models.max_messages'), maxMessages, { optional: true }),
      field(t('models.draw_triggers'), triggers, { hint: t('models.triggers_hint', { value: globalTriggers || '—' }), optional: true })),
    drawing.el,
    err.el);

  const dlg = modal({
    title: model ? t('models.edit', { id: m.id }) : t('models.create_title'),
    wide: true, testid: 'model-modal', body,
    actions: [btn(t('common.cancel'), { kind: 'ghost', onclick: () => dlg.close() }), save],
  });

  api('GET', '/api/admin/providers/chat/models').then((res) => {
    for (const item of (res.data || [])) upstreamList.appendChild(h('option', { value: item.id }));
  }).catch(() => { /* the picker is a convenience */ });

  save.addEventListener('click', () => busy(save, async () => {
    err.hide();
    const picked = [.../** @type {NodeListOf<HTMLInputElement>} */ (colls.querySelectorAll('input[type=checkbox]'))].filter((b) => b.checked).map((b) => b.value);
    const trig = splitList(triggers.value);
    const payload = {
      id: id.value.trim(),
      upstream_model: upstream.value.trim() || null,
      system_prompt: prompt.value.trim() ? prompt.value : null,
      collections: picked,
      retrieval: retrieval.box.checked,
      top_k: numberOrNull(topK),
      score_threshold: numberOrNull(threshold),
      rerank: rerank.box.checked,
      rerank_threshold: numberOrNull(rerankThreshold),
      condense_model: condense.value.trim() || null,
      drawing: drawing.box.checked,
      draw_triggers: trig.length ? trig : null,
      max_messages: numberOrNull(maxMessages),
      citation_footer: footer.box.checked,
    };
    try {
      if (model) {
        await api('PATCH', '/api/admin/models/' + encodeURIComponent(model.id), payload);
        toast(t('models.updated', { id: payload.id }));
      } else {
        await api('POST', '/api/admin/models', payload);
        toast(t('models.created', { id: payload.id }));
      }
      dlg.close();
      render();
    } catch (e) {
      err.show(errorText(e));
    }
  }));
}
