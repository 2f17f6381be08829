// @ts-check
// Knowledge: collections, documents (upload, paste, list), vector stores, retrieval test.

import { api, errorText, sessionEnded } from '../lib/api.js';
import { badge, btn, busy, card, confirmDialog, emptyState, errorBlock, field, inlineError, input, loadingBlock, pageHeader, select, statusBadge, table, textarea, toast } from '../lib/components.js';
import { add, clear, h, icon } from '../lib/dom.js';
import { fmtBytes, fmtNumber, timeEl } from '../lib/format.js';
import { t } from '../lib/i18n.js';
import { onCleanup } from '../lib/router.js';
import { storesCard } from './stores.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pageKnowledge(root, ctx) {
  root.appendChild(pageHeader(t('kb.title'), t('kb.subtitle')));
  const state = { collections: [], docs: [], cursor: null, hasMore: false, filters: { collection: '', status: '', q: '' }, uploadMax: null };

  const topGrid = h('div', { class: 'kb-top' });
  const addCard = h('div');
  const collCard = h('div');
  add(topGrid, [addCard, collCard]);
  root.appendChild(topGrid);
  const docsHolder = h('div');
  root.appendChild(docsHolder);
  const storesHolder = h('div');
  root.appendChild(storesHolder);
  const rtHolder = h('div');
  root.appendChild(rtHolder);

  const [collections, settings, models] = await Promise.all([
    api('GET', '/v1/collections'),
    api('GET', '/api/admin/settings').catch(() => null),
    api('GET', '/api/admin/models').catch(() => ({ data: [] })),
  ]);
  if (!ctx.alive()) return;
  state.collections = collections.data || [];
  state.uploadMax = settings ? settings.upload_max_bytes : null;
  state.models = (models && models.data) || [];
  storesHolder.appendChild(storesCard(ctx));

  // --- add documents ---
  // Pseudo-collections of the list filter (real names never start with a space).
  const VIS_SHARED = ' shared';
  const VIS_PRIVATE = ' private';
  const collectionSelect = (testid, withAll) => select(
    (withAll ? [
      { value: '', label: t('kb.all_collections') },
      { value: VIS_SHARED, label: t('kb.only_shared') },
      { value: VIS_PRIVATE, label: t('kb.only_private') },
    ] : []).concat(state.collections.map((c) => ({ value: c.name, label: c.name, selected: !withAll && c.name === 'default' }))),
    { testid });
  const uploadCollection = collectionSelect('upload-collection', false);
  const fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden', testid: 'file-input', accept: '.txt,.md,.markdown,.html,.htm,.pdf,.docx,.csv,.json,text/*,application/pdf,application/json' });
  const uploads = h('div', { class: 'uploads', testid: 'uploads' });
  const drop = h('label', { class: 'dropzone', testid: 'dropzone', tabindex: '0' },
    fileInput,
    h('span', { class: 'dropzone-icon' }, icon('upload')),
    h('span', { class: 'dropzone-title' }, t('kb.drop')),
    h('span', { class: 'dropzone-hint' }, t('kb.drop_hint', { size: fmtBytes(state.uploadMax || 52428800) })));
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
  ['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', (e) => { if (e.dataTransfer && e.dataTransfer.files) uploadFiles([...e.dataTransfer.files]); });
  fileInput.addEventListener('change', () => { uploadFiles([...fileInput.files]); fileInput.value = ''; });

  function uploadFiles(files) {
    for (const file of files) uploadOne(file);
  }

  function uploadOne(file) {
    const bar = h('div', { class: 'progress' }, h('span'));
    const statusEl = h('span', { class: 'upload-status' }, t('kb.uploading'));
    const item = h('div', { class: 'upload-item', testid: 'upload-item' },
      icon('file'),
      h('div', { class: 'upload-main' },
        h('div', { class: 'upload-line' }, h('span', { class: 'upload-name' }, file.name), h('span', { class: 'muted small' }, fmtBytes(file.size))),
        bar, statusEl));
    uploads.prepend(item);
    if (state.uploadMax && file.size > state.uploadMax) {
      item.classList.add('failed');
      statusEl.textContent = t('kb.drop_hint', { size: fmtBytes(state.uploadMax) });
      return;
    }
    const form = new FormData();
    form.append('file', file, file.name);
    form.append('collection', uploadCollection.value || 'default');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/documents');
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) /** @type {HTMLElement} */ (bar.firstChild).style.width = Math.round((e.loaded / e.total) * 100) + '%';
    });
    xhr.addEventListener('load', () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        /** @type {HTMLElement} */ (bar.firstChild).style.width = '100%';
        item.classList.add('done');
        clear(statusEl).appendChild(statusBadge(data.status));
        if (data.duplicate) statusEl.appendChild(h('span', { class: 'muted small' }, ' ' + t('kb.duplicate', { title: data.title })));
        reloadDocs();
        refreshCollections();
      } else {
        if (xhr.status === 401) { sessionEnded(); return; }
        item.classList.add('failed');
        statusEl.textContent = (data && data.error && data.error.message) || ('HTTP ' + xhr.status);
      }
    });
    xhr.addEventListener('error', () => { item.classList.add('failed'); statusEl.textContent = t('err.network'); });
    xhr.send(form);
  }

  const pasteTitle = input({ testid: 'doc-title', placeholder: t('kb.doc_title_ph') });
  const pasteText = textarea({ testid: 'doc-text', rows: '6', placeholder: t('kb.doc_text_ph') });
  const pasteCollection = collectionSelect('doc-collection', false);
  const pasteErr = inlineError('doc-error');
  const pasteSubmit = btn(t('kb.doc_submit'), { kind: 'primary', icon: 'plus', type: 'submit', testid: 'doc-submit' });
  const pasteForm = h('form', {
    class: 'form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      pasteErr.hide();
      if (!pasteText.value.trim()) { pasteErr.show(t('kb.text_required')); pasteText.focus(); return; }
      const body = { text: pasteText.value, collection: pasteCollection.value || 'default' };
      if (pasteTitle.value.trim()) body.title = pasteTitle.value.trim();
      busy(pasteSubmit, async () => {
        try {
          const doc = await api('POST', '/v1/documents', body);
          toast(doc.duplicate ? t('kb.duplicate', { title: doc.title }) : t('kb.added', { title: doc.title }));
          pasteTitle.value = '';
          pasteText.value = '';
          reloadDocs();
          refreshCollections();
        } catch (e2) { pasteErr.show(errorText(e2)); }
      });
    },
  },
  h('div', { class: 'grid-2-tight' }, field(t('kb.doc_title'), pasteTitle, { optional: true }), field(t('kb.collection'), pasteCollection)),
  field(t('kb.doc_text'), pasteText),
  pasteErr.el,
  h('div', { class: 'form-actions' }, pasteSubmit));

  const uploadPane = h('div', { class: 'form' }, field(t('kb.collection'), uploadCollection), drop, uploads);
  /** @type {Array<[string, string, HTMLElement]>} */
  const tabs = [['upload', t('kb.tab_upload'), uploadPane], ['paste', t('kb.tab_paste'), pasteForm]];
  const tabBar = h('div', { class: 'tabs', role: 'tablist' });
  const tabBody = h('div', { class: 'tab-body' });
  const showTab = (name) => {
    for (const b of tabBar.children) b.classList.toggle('active', /** @type {HTMLElement} */ (b).dataset.tab === name);
    for (const [n, , pane] of tabs) pane.hidden = n !== name;
  };
  for (const [n, label, pane] of tabs) {
    tabBar.appendChild(h('button', { type: 'button', class: 'tab', role: 'tab', 'data-tab': n, testid: 'tab-' + n, onclick: () => showTab(n) }, label));
    tabBody.appendChild(pane);
  }
  showTab('upload');
  addCard.appendChild(card({ title: t('kb.add'), icon: 'upload', testid: 'kb-add' }, tabBar, tabBody));

  // --- collections ---
  const collList = h('div', { class: 'coll-list', testid: 'collections' });
  const collName = input({ testid: 'collection-name', placeholder: t('kb.collection_name_ph') });
  const collDesc = input({ testid: 'collection-description', placeholder: t('kb.collection_desc_ph') });
  const collErr = inlineError('collection-error');
  const collCreate = btn(t('common.create'), { kind: 'secondary', icon: 'plus', type: 'submit', testid: 'collection-create' });
  const collForm = h('form', {
    class: 'coll-form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      collErr.hide();
      if (!collName.value.trim()) { collName.focus(); return; }
      busy(collCreate, async () => {
        try {
          const c = await api('POST', '/v1/collections', { name: collName.value.trim(), description: collDesc.value.trim() });
          toast(t('kb.collection_created', { name: c.name }));
          collName.value = '';
          collDesc.value = '';
          await refreshCollections();
        } catch (e2) { collErr.show(errorText(e2)); }
      });
    },
  }, h('div', { class: 'coll-form-row' }, collName, collDesc, collCreate), collErr.el);
  collCard.appendChild(card({ title: t('kb.collections'), icon: 'folder', testid: 'kb-collections' }, collList, h('div', { class: 'divider' }), h('p', { class: 'form-section small-top' }, t('kb.new_collection')), collForm));

  function renderCollections() {
    clear(collList);
    for (const c of state.collections) {
      collList.appendChild(h('div', { class: 'coll', testid: 'collection-row', 'data-name': c.name },
        h('span', { class: 'coll-icon' }, icon('folder')),
        h('div', { class: 'coll-main' },
          h('div', { class: 'coll-name' }, h('strong', null, c.name), h('span', { class: 'muted small' }, t('kb.docs_count', { count: fmtNumber(c.documents || 0) }))),
          c.description ? h('div', { class: 'muted small coll-desc' }, c.description) : null),
        c.name === 'default' ? null : btn(t('common.delete'), {
          small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'collection-delete',
          onclick: async () => {
            if (!await confirmDialog({ message: t('kb.collection_delete_confirm', { name: c.name, count: c.documents || 0 }), danger: true, ok: t('common.delete') })) return;
            try {
              await api('DELETE', '/v1/collections/' + encodeURIComponent(c.name) + '?force=true');
              toast(t('kb.collection_deleted', { name: c.name }));
              await refreshCollections();
              reloadDocs();
            } catch (e) { toast(errorText(e), 'error'); }
          },
        })));
    }
    // keep the selects in step
    for (const sel of [uploadCollection, pasteCollection, filterCollection]) {
      const current = sel.value;
      const withAll = sel === filterCollection;
      clear(sel);
      if (withAll) {
        sel.appendChild(h('option', { value: '' }, t('kb.all_collections')));
        sel.appendChild(h('option', { value: VIS_SHARED }, t('kb.only_shared')));
        sel.appendChild(h('option', { value: VIS_PRIVATE }, t('kb.only_private')));
      }
      for (const c of state.collections) sel.appendChild(h('option', { value: c.name }, c.name));
      const pseudo = withAll && ['', VIS_SHARED, VIS_PRIVATE].includes(current);
      sel.value = state.collections.some((c) => c.name === current) || pseudo ? current : (withAll ? '' : 'default');
    }
    fillRtCollections();
  }

  async function refreshCollections() {
    try {
      const res = await api('GET', '/v1/collections');
      if (!ctx.alive()) return;
      state.collections = res.data || [];
      renderCollections();
    } catch (_) { /* keep the old list */ }
  }

  // --- retrieval test ---
  const rtQuestion = textarea({ testid: 'rt-question', rows: '2', placeholder: t('rt.question_ph') });
  const rtModel = select([{ value: '', label: t('rt.default_model') }].concat(state.models.map((m) => ({ value: m.id, label: m.id }))), { testid: 'rt-model' });
  const rtCollection = select([], { testid: 'rt-collection' });
  const rtTopK = input({ type: 'number', min: '1', max: '50', step: '1', value: '5', inputmode: 'numeric', testid: 'rt-top-k' });
  const rtRun = btn(t('rt.run'), { kind: 'primary', icon: 'search', type: 'submit', testid: 'rt-run' });
  const rtErr = inlineError('rt-error');
  const rtResults = h('div', { class: 'rt-results', testid: 'rt-results', hidden: true });
  function fillRtCollections() {
    const current = rtCollection.value;
    clear(rtCollection);
    rtCollection.appendChild(h('option', { value: '' }, t('rt.model_collections')));
    for (const c of state.collections) rtCollection.appendChild(h('option', { value: c.name }, c.name));
    rtCollection.value = state.collections.some((c) => c.name === current) ? current : '';
  }
  fillRtCollections();
  const rtForm = h('form', {
    class: 'form rt-form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      rtErr.hide();
      const question = rtQuestion.value.trim();
      if (!question) { rtErr.show(t('rt.question_required')); rtQuestion.focus(); return; }
      const topK = Number(rtTopK.value);
      if (!Number.isInteger(topK) || topK < 1 || topK > 50) { rtErr.show(t('rt.top_k_range')); rtTopK.focus(); return; }
      const body = { question, top_k: topK };
      if (rtModel.value) body.model = rtModel.value;
      if (rtCollection.value) body.collections = [rtCollection.value];
      busy(rtRun, async () => {
        try {
          const res = await api('POST', '/api/admin/retrieval/test', body);
          if (!ctx.alive()) return;
          renderRetrieval(res);
        } catch (e2) {
          rtErr.show(errorText(e2));
        }
      });
    },
  },
  field(t('rt.question'), rtQuestion),
  h('div', { class: 'rt-controls' },
    field(t('rt.model'), rtModel),
    field(t('rt.collection'), rtCollection),
    field(t('rt.top_k'), rtTopK, { class: 'rt-topk' }),
    h('div', { class: 'rt-submit' }, rtRun)),
  rtErr.el);
  rtQuestion.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); rtForm.requestSubmit(); }
  });
  rtHolder.appendChild(card({ title: t('rt.title'), subtitle: t('rt.subtitle'), icon: 'search', testid: 'kb-retrieval', flush: true }, rtForm, rtResults));

  const dash = () => h('span', { class: 'muted', title: t('rt.not_found') }, '—');
  const num = (v, digits) => (typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : null);
  function rankScore(rank, score, digits, testid) {
    if (rank == null) return h('span', { testid }, dash());
    return h('span', { class: 'rt-score', testid },
      h('span', { class: 'rt-rank' }, '#' + rank),
      num(score, digits) != null ? h('span', { class: 'rt-score-value' }, num(score, digits)) : null);
  }
  function excerpt(text) {
    const full = String(text || '').trim();
    const flat = full.replace(/\s+/g, ' ');
    const long = flat.length > 240;
    const short = long ? flat.slice(0, 240).replace(/\s+\S*$/, '') + '…' : flat;
    const p = h('p', { class: 'rt-excerpt', title: long ? full : null, testid: 'rt-excerpt' }, short);
    if (!long) return p;
    let open = false;
    const toggle = h('button', { type: 'button', class: 'link small rt-more', testid: 'rt-more' }, t('rt.more'));
    toggle.addEventListener('click', () => {
      open = !open;
      p.classList.toggle('open', open);
      p.textContent = open ? full : short;
      toggle.textContent = open ? t('rt.less') : t('rt.more');
    });
    return h('div', null, p, toggle);
  }
  function renderRetrieval(res) {
    clear(rtResults);
    rtResults.hidden = false;
    const sources = Array.isArray(res.sources) ? res.sources : [];
    const queries = Array.isArray(res.queries) && res.queries.length ? res.queries : (res.query ? [res.query] : []);
    const took = typeof res.took_ms === 'number' ? (res.took_ms < 10 ? res.took_ms.toFixed(1) : fmtNumber(Math.round(res.took_ms))) : '—';
    rtResults.appendChild(h('div', { class: 'rt-summary', testid: 'rt-summary' },
      h('span', { class: 'rt-summary-count' }, h('strong', null, sources.length === 1 ? t('rt.found_one') : t('rt.found', { count: fmtNumber(sources.length) })), ' ', t('rt.took', { ms: took })),
      res.model ? badge(res.model, 'neutral') : null,
      res.rerank ? badge(t('rt.rerank'), 'accent') : null,
      queries.length ? h('span', { class: 'rt-queries', testid: 'rt-queries' },
        h('span', { class: 'muted' }, t('rt.searched')),
        queries.map((q) => h('q', { class: 'rt-query' }, q))) : null));
    if (!sources.length) {
      rtResults.appendChild(emptyState('search', t('rt.empty'), t('rt.empty_body'), null, 'rt-empty'));
      return;
    }
    const reranked = res.rerank || sources.some((s) => typeof s.rerank_score === 'number');
    const columns = [
      {
        label: t('rt.col_source'), class: 'col-main', render: (s) => h('div', { class: 'rt-source-cell' },
          h('span', { class: 'source-num' }, String(s.index)),
          h('div', { class: 'rt-source-main' },
            h('div', { class: 'rt-source-head' },
              h('strong', { class: 'rt-source-title', testid: 'rt-source-title' }, s.title || s.document_id || '—'),
              s.heading ? h('span', { class: 'muted small rt-heading' }, s.heading) : null,
              s.page != null ? h('span', { class: 'muted small nowrap' }, t('rt.page', { page: s.page })) : null,
              s.collection ? badge(s.collection, 'neutral') : null),
            excerpt(s.text))),
      },
      { label: t('rt.col_vector'), class: 'num rt-num', render: (s) => rankScore(s.explain && s.explain.vector_rank, s.explain ? s.explain.vector_score : null, 3, 'rt-vector') },
      { label: t('rt.col_text'), class: 'num rt-num', render: (s) => rankScore(s.explain && s.explain.text_rank, s.explain ? s.explain.text_score : null, 2, 'rt-text') },
      { label: t('rt.col_fused'), class: 'num rt-num', render: (s) => h('span', { class: 'rt-score-value', testid: 'rt-fused' }, num(s.explain && s.explain.fused_score, 4) || '—') },
    ];
    if (reranked) columns.push({ label: t('rt.col_rerank'), class: 'num rt-num', render: (s) => num(s.rerank_score, 4) != null ? h('span', { class: 'rt-score-value', testid: 'rt-rerank' }, num(s.rerank_score, 4)) : dash() });
    rtResults.appendChild(table(columns, sources, { testid: 'rt-table', rowTestid: () => 'rt-source', rowAttrs: (s) => ({ 'data-chunk-id': s.chunk_id || '' }) }));
  }

  // --- documents ---
  const filterCollection = collectionSelect('doc-filter-collection', true);
  const filterStatus = select([{ value: '', label: t('kb.all_statuses') }].concat(['ready', 'processing', 'pending', 'failed'].map((s) => ({ value: s, label: t('status.' + s) }))), { testid: 'doc-filter-status' });
  const filterQ = input({ type: 'search', placeholder: t('kb.search_ph'), testid: 'doc-filter-q' });
  let qTimer = null;
  filterQ.addEventListener('input', () => { clearTimeout(qTimer); qTimer = setTimeout(reloadDocs, 300); });
  filterCollection.addEventListener('change', reloadDocs);
  filterStatus.addEventListener('change', reloadDocs);
  const docsBody = h('div', { testid: 'documents' });
  const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'docs-more', onclick: () => loadDocs(true) });
  const moreRow = h('div', { class: 'more-row', hidden: true }, more);
  docsHolder.appendChild(card({
    title: t('kb.documents'), icon: 'file', flush: true, testid: 'kb-documents',
    actions: h('div', { class: 'filters' }, filterQ, filterCollection, filterStatus),
  }, docsBody, moreRow));
  renderCollections();

  function docQuery(after) {
    const p = new URLSearchParams();
    if (filterCollection.value === VIS_SHARED) p.set('visibility', 'shared');
    else if (filterCollection.value === VIS_PRIVATE) p.set('visibility', 'private');
    else if (filterCollection.value) p.set('collection', filterCollection.value);
    if (filterStatus.value) p.set('status', filterStatus.value);
    if (filterQ.value.trim()) p.set('q', filterQ.value.trim());
    p.set('limit', '20');
    if (after) p.set('after', after);
    return '/v1/documents?' + p.toString();
  }

  let loadSeq = 0;
  async function loadDocs(append) {
    const seq = ++loadSeq;
    if (!append) {
      if (!state.docs.length) clear(docsBody).appendChild(loadingBlock());
    }
    try {
      const res = await api('GET', docQuery(append ? state.cursor : null));
      if (!ctx.alive() || seq !== loadSeq) return;
      state.docs = append ? state.docs.concat(res.data) : res.data;
      state.cursor = res.next_cursor || null;
      state.hasMore = !!res.has_more;
      renderDocs();
    } catch (e) {
      if (ctx.alive() && seq === loadSeq) clear(docsBody).appendChild(errorBlock(e, () => loadDocs(false)));
    }
  }

  function reloadDocs() { return loadDocs(false); }

  function docProgress(d) {
    if (d.status === 'failed') return h('div', { class: 'doc-error', testid: 'doc-error-text' }, d.error || t('status.failed'));
    if (d.status === 'ready') return h('span', { class: 'muted small' }, d.chunk_count === 1 ? t('kb.chunk_one') : t('kb.chunk_count', { count: d.chunk_count }));
    const total = d.chunks_total || 0;
    const pct = total ? Math.round((d.chunks_done / total) * 100) : 0;
    const bar = h('div', { class: 'progress' + (total ? '' : ' indeterminate') }, h('span'));
    if (total) /** @type {HTMLElement} */ (bar.firstChild).style.width = pct + '%';
    return h('div', { class: 'doc-progress' }, bar, total ? h('span', { class: 'muted small' }, t('kb.chunks', { done: d.chunks_done, total })) : null);
  }

  function renderDocs() {
    clear(docsBody);
    moreRow.hidden = !state.hasMore;
    if (!state.docs.length) {
      const filtered = filterCollection.value || filterStatus.value || filterQ.value.trim();
      docsBody.appendChild(filtered ? emptyState('search', t('kb.no_match')) : emptyState('knowledge', t('kb.empty'), t('kb.empty_body')));
      return;
    }
    docsBody.appendChild(table([
      { label: t('kb.doc_title'), class: 'col-main', render: (d) => h('div', { class: 'cell-main doc-title-cell' }, icon('file'), h('div', null, h('strong', { testid: 'doc-title-text' }, d.title), d.filename && d.filename !== d.title ? h('div', { class: 'muted small' }, d.filename) : null)) },
      { label: t('kb.collection'), render: (d) => d.visibility === 'private' ? badge(t('kb.private'), 'neutral') : badge(d.collection, 'neutral') },
      { label: t('common.status'), render: (d) => h('div', { class: 'doc-status-cell' }, statusBadge(d.status, 'doc-status'), docProgress(d)) },
      { label: t('kb.size'), render: (d) => h('span', { class: 'nowrap' }, fmtBytes(d.bytes)) },
      { label: t('common.created'), render: (d) => timeEl(d.created_at) },
      {
        label: '', class: 'col-actions', render: (d) => h('div', { class: 'row-actions' },
        d.status === 'ready' || d.status === 'failed' ? btn(t('kb.reingest'), {
          small: true, kind: 'ghost', icon: 'refresh', iconOnly: true, testid: 'doc-reingest',
          onclick: async (e) => {
            const b = /** @type {HTMLButtonElement} */ (e.currentTarget);
            await busy(b, async () => {
              try {
                const doc = await api('POST', '/v1/documents/' + encodeURIComponent(d.id) + '/reingest');
                toast(t('kb.reingest_started', { title: d.title }));
                const i = state.docs.findIndex((x) => x.id === d.id);
                if (i >= 0) state.docs[i] = doc;
                renderDocs();
              } catch (err2) { toast(errorText(err2), 'error'); }
            });
          },
        }) : null,
        btn(t('common.delete'), {
          small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'doc-delete',
          onclick: async () => {
            if (!await confirmDialog({ message: t('kb.doc_delete_confirm', { title: d.title }), danger: true, ok: t('common.delete') })) return;
            try {
              await api('DELETE', '/v1/documents/' + encodeURIComponent(d.id));
              toast(t('kb.doc_deleted'));
              state.docs = state.docs.filter((x) => x.id !== d.id);
              renderDocs();
              refreshCollections();
            } catch (e) { toast(errorText(e), 'error'); }
          },
        })),
      },
    ], state.docs, { testid: 'documents-table', rowTestid: () => 'doc-row', rowAttrs: (d) => ({ 'data-doc-id': d.id, 'data-status': d.status }) }));
  }

  // Live status: every 2 s, read the documents still being worked on.
  let polling = false;
  const timer = setInterval(async () => {
    if (polling || !ctx.alive()) return;
    const open = state.docs.filter((d) => d.status === 'pending' || d.status === 'processing').slice(0, 20);
    if (!open.length) return;
    polling = true;
    try {
      const fresh = await Promise.all(open.map((d) => api('GET', '/v1/documents/' + encodeURIComponent(d.id)).catch(() => null)));
      if (!ctx.alive()) return;
      let changed = false;
      let finished = false;
      for (const doc of fresh) {
        if (!doc) continue;
        const i = state.docs.findIndex((d) => d.id === doc.id);
        if (i >= 0 && JSON.stringify(state.docs[i]) !== JSON.stringify(doc)) {
          if (doc.status === 'ready' || doc.status === 'failed') finished = true;
          state.docs[i] = doc;
          changed = true;
        }
      }
      if (changed) renderDocs();
      if (finished) refreshCollections();
    } finally {
      polling = false;
    }
  }, 2000);
  onCleanup(() => clearInterval(timer));

  await loadDocs(false);
}
