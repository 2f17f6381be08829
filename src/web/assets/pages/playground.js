// @ts-check
// Playground: chat with a model, streamed, through the protocol chosen
// (OpenAI chat or Responses, Anthropic, Gemini): one conversation, one
// answer through every face of the pipeline.

import { api, ApiError, errorText, storedKeys } from '../lib/api.js';
import { badge, btn, emptyState, field, input, pageHeader, select, sourceCards, textarea, toast } from '../lib/components.js';
import { keyState } from '../lib/data.js';
import { clear, focusSoon, h, icon } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { plainText, renderMarkdown } from '../lib/markdown.js';
import { PROTOCOLS, protocolOf, refusal } from '../lib/protocols.js';
import { onCleanup } from '../lib/router.js';
import { S } from '../lib/state.js';

/** @typedef {import('../lib/router.js').PageContext} PageContext */

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
export async function pagePlayground(root, ctx) {
  const pg = S.pg;
  root.classList.add('content-wide');
  root.appendChild(pageHeader(t('pg.title'), t('pg.subtitle')));
  const [models, keys] = await Promise.all([
    api('GET', '/api/admin/models'),
    api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
  ]);
  if (!ctx.alive()) return;
  const keyInfo = new Map(keys.data.map((k) => [k.id, k]));
  const stored = storedKeys();

  const modelSel = select(models.data.map((m) => ({ value: m.id, label: m.id })), { testid: 'pg-model' });
  if (pg.model && models.data.some((m) => m.id === pg.model)) modelSel.value = pg.model;
  pg.model = modelSel.value;
  modelSel.addEventListener('change', () => { pg.model = modelSel.value; });

  const protocolSel = select(PROTOCOLS.map((p) => ({ value: p.id, label: p.label })), { testid: 'pg-protocol' });
  protocolSel.value = protocolOf(pg.protocol).id;
  pg.protocol = protocolSel.value;
  protocolSel.addEventListener('change', () => { pg.protocol = protocolSel.value; });

  const keyOptions = stored.map((k) => {
    const info = keyInfo.get(k.id);
    const revoked = info && (info.revoked || keyState(info) !== 'active');
    return { value: k.id, label: k.name + ' · ' + k.prefix + '…' + (revoked ? ' (' + t('pg.key_revoked') + ')' : '') };
  }).concat([{ value: '__paste__', label: t('pg.key_paste') }]);
  const keySel = select(keyOptions, { testid: 'pg-key' });
  if (pg.keyChoice && keyOptions.some((o) => o.value === pg.keyChoice)) keySel.value = pg.keyChoice;
  pg.keyChoice = keySel.value;
  const paste = input({ type: 'password', testid: 'pg-key-paste', placeholder: t('pg.key_paste_ph'), value: pg.pasted, autocomplete: 'off' });
  const pasteField = field(t('pg.key_paste'), paste);
  const syncPaste = () => { pasteField.hidden = keySel.value !== '__paste__'; };
  keySel.addEventListener('change', () => { pg.keyChoice = keySel.value; syncPaste(); });
  paste.addEventListener('input', () => { pg.pasted = paste.value; });
  syncPaste();

  const convLine = h('div', { class: 'conv-id', testid: 'pg-conversation' });
  const showConv = () => {
    clear(convLine);
    if (pg.convId) convLine.appendChild(h('a', { href: '#/conversations/' + encodeURIComponent(pg.convId), class: 'mono small' }, pg.convId));
    else convLine.appendChild(h('span', { class: 'muted small' }, t('pg.conversation_new')));
  };
  showConv();

  const newChat = btn(t('pg.new_chat'), { icon: 'plus', small: true, testid: 'pg-new', onclick: () => {
    if (pg.abort) pg.abort.abort();
    pg.messages = [];
    pg.convId = null;
    showConv();
    drawThread();
    inputEl.focus({ preventScroll: true });
  } });

  const side = h('aside', { class: 'pg-side card' },
    h('div', { class: 'card-body form' },
      field(t('pg.model'), modelSel),
      field(t('pg.protocol'), protocolSel, { hint: t('pg.protocol_hint') }),
      field(t('pg.key'), keySel, { hint: t('pg.key_hint') }),
      pasteField,
      h('div', { class: 'pg-conv-row' },
        h('div', { class: 'field' }, h('div', { class: 'field-label' }, t('pg.conversation')), convLine),
        newChat)));

  const thread = h('div', { class: 'pg-thread', testid: 'pg-thread' });
  const inputEl = textarea({ rows: '1', testid: 'pg-input', placeholder: t('pg.input_ph') });
  const send = btn(t('pg.send'), { kind: 'primary', icon: 'send', type: 'submit', testid: 'pg-send' });
  const stop = btn(t('pg.stop'), { kind: 'secondary', icon: 'stop', testid: 'pg-stop', onclick: () => { if (pg.abort) pg.abort.abort(); } });
  const composer = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } }, inputEl, send, stop);
  const chat = h('section', { class: 'pg-chat card' }, thread, composer, h('p', { class: 'composer-hint' }, t('pg.input_hint')));
  root.appendChild(h('div', { class: 'pg' }, chat, side));

  const grow = () => { inputEl.style.height = 'auto'; inputEl.style.height = Math.min(inputEl.scrollHeight, 200) + 'px'; };
  inputEl.addEventListener('input', grow);
  inputEl.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  const syncBusy = () => { send.hidden = pg.busy; stop.hidden = !pg.busy; };
  syncBusy();

  function messageEl(msg) {
    const isUser = msg.role === 'user';
    const body = h('div', { class: 'msg-body' });
    if (msg.error) {
      body.appendChild(h('div', { class: 'msg-error', role: 'alert', testid: 'pg-error' }, icon('alert'), h('span', null, msg.error)));
    }
    if (msg.content || (!msg.error && !isUser)) {
      if (isUser) body.prepend(plainText(msg.content));
      else body.prepend(renderMarkdown(msg.content));
    }
    const el = h('div', { class: 'msg msg-' + msg.role + (msg.streaming ? ' streaming' : '') + (msg.error ? ' has-error' : ''), testid: 'pg-msg-' + msg.role },
      h('div', { class: 'msg-head' }, h('span', { class: 'msg-role' }, isUser ? t('pg.you') : t('pg.assistant')),
        msg.via ? badge(msg.via, 'neutral', 'pg-via') : null,
        msg.stopped ? badge(t('pg.stopped'), 'warn') : null),
      body,
      msg.sources && msg.sources.length ? sourceCards(msg.sources) : null);
    if (msg.streaming && !msg.content) body.appendChild(h('span', { class: 'typing' }, h('span'), h('span'), h('span')));
    return el;
  }

  function drawThread() {
    clear(thread);
    if (!pg.messages.length) {
      thread.appendChild(emptyState('playground', t('pg.empty'), t('pg.empty_body'), null, 'pg-empty'));
      return;
    }
    for (const msg of pg.messages) {
      msg.el = messageEl(msg);
      thread.appendChild(msg.el);
    }
    thread.scrollTop = thread.scrollHeight;
  }

  function redraw(msg) {
    if (!ctx.alive()) return;
    const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    const fresh = messageEl(msg);
    if (msg.el && msg.el.parentNode === thread) thread.replaceChild(fresh, msg.el);
    else thread.appendChild(fresh);
    msg.el = fresh;
    if (nearBottom) thread.scrollTop = thread.scrollHeight;
  }

  function fail(text) {
    const note = { role: 'assistant', content: '', error: text };
    pg.messages.push(note);
    drawThread();
  }

  async function submit() {
    if (pg.busy) return;
    const text = inputEl.value.trim();
    if (!text) return;
    const model = modelSel.value;
    if (!model) { toast(t('pg.need_model'), 'error'); return; }
    let secret = null;
    if (keySel.value === '__paste__') secret = paste.value.trim();
    else {
      const k = storedKeys().find((x) => x.id === keySel.value);
      secret = k && k.key;
    }
    if (!secret) { toast(t('pg.need_key'), 'error'); (keySel.value === '__paste__' ? paste : keySel).focus(); return; }
    // Error notes are for the eye only; they are not sent back.
    const history = pg.messages.filter((m) => !m.error && m.content).map((m) => ({ role: m.role, content: m.content }));
    history.push({ role: 'user', content: text });
    pg.messages.push({ role: 'user', content: text });
    inputEl.value = '';
    grow();
    const answer = { role: 'assistant', content: '', streaming: true, sources: null, via: protocolOf(protocolSel.value).short };
    pg.messages.push(answer);
    drawThread();
    pg.busy = true;
    syncBusy();
    const abort = new AbortController();
    pg.abort = abort;
    let frame = 0;
    const schedule = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => { frame = 0; redraw(answer); });
    };
    const protocol = protocolOf(protocolSel.value);
    try {
      const request = protocol.request(model, history, secret);
      const headers = { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...request.headers };
      if (pg.convId) headers['X-Conversation-Id'] = pg.convId;
      let res;
      try {
        res = await fetch(request.url, {
          method: 'POST', headers, credentials: 'omit', signal: abort.signal,
          body: JSON.stringify(request.body),
        });
      } catch (e) {
        if (abort.signal.aborted) throw e;
        throw new ApiError(0, t('err.network'));
      }
      const conv = res.headers.get('X-Conversation-Id');
      if (!res.ok) {
        let message = 'HTTP ' + res.status;
        try {
          message = refusal(await res.json()) || message;
        } catch (_) { /* not JSON */ }
        throw new ApiError(res.status, message);
      }
      if (conv) { pg.convId = conv; if (ctx.alive()) showConv(); }
      const type = res.headers.get('Content-Type') || '';
      if (!type.includes('text/event-stream')) {
        const data = await res.json();
        answer.content = (data.choices && data.choices[0] && data.choices[0].message && data.choices[0].message.content) || '';
        answer.sources = data.sources || null;
      } else {
        await readStream(res.body, (event) => {
          const piece = protocol.read(event);
          if (piece.error !== undefined) {
            answer.error = piece.error || t('err.generic');
            return;
          }
          if (Array.isArray(piece.sources)) answer.sources = piece.sources;
          if (piece.conversation && !pg.convId) { pg.convId = piece.conversation; if (ctx.alive()) showConv(); }
          if (piece.delta) answer.content += piece.delta;
          schedule();
        });
      }
    } catch (e) {
      if (abort.signal.aborted) answer.stopped = true;
      else answer.error = errorText(e);
    } finally {
      if (frame) cancelAnimationFrame(frame);
      answer.streaming = false;
      if (!answer.content && !answer.error && !answer.stopped) answer.error = t('err.generic');
      pg.busy = false;
      pg.abort = null;
      if (ctx.alive()) {
        syncBusy();
        redraw(answer);
        inputEl.focus({ preventScroll: true });
      }
    }
  }

  drawThread();
  onCleanup(() => { /* a running answer keeps streaming into S.pg */ });
  if (window.matchMedia('(min-width: 761px)').matches) focusSoon(inputEl, { preventScroll: true });
}

/**
 * Read an SSE body, calling `onEvent` with each JSON `data:` payload until `[DONE]`.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: any) => void} onEvent
 */
async function readStream(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  const handle = (block) => {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (!data) return;
    if (data.trim() === '[DONE]') { done = true; return; }
    let event;
    try { event = JSON.parse(data); } catch (_) { return; }
    onEvent(event);
  };
  while (!done) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buffer += decoder.decode(value, { stream: true });
    let idx;
    while (!done && (idx = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, idx);
      buffer = buffer.slice(idx).replace(/^\r?\n\r?\n/, '');
      handle(block);
    }
  }
  if (!done && buffer.trim()) handle(buffer);
  try { reader.cancel(); } catch (_) { /* closed */ }
}
