// @ts-check
// Markdown-ish rendering into DOM nodes (never innerHTML), and plain text.

import { h } from './dom.js';

/**
 * A link's or picture's address if it is safe to use: http(s), this
 * server's paths, and for pictures data:image/ and blob: URLs.
 * @param {string} url
 * @param {boolean} forImage
 * @returns {string | null}
 */
function safeUrl(url, forImage) {
  const u = String(url || '').trim();
  if (/^https?:\/\//i.test(u) || u.startsWith('/')) return u;
  if (forImage && /^(data:image\/|blob:)/i.test(u)) return u;
  return null;
}

/** Inline code, pictures, links, bold, italics and bare URLs. */
const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\*\*([^*]+?)\*\*|__([^_]+?)__|(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

/**
 * @param {string} text one line
 * @returns {DocumentFragment}
 */
function renderInline(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  INLINE.lastIndex = 0;
  let m;
  while ((m = INLINE.exec(text)) !== null) {
    let start = m.index;
    if (m[9] !== undefined) start += m[9].length;
    if (start > last) frag.appendChild(document.createTextNode(text.slice(last, start)));
    if (m[1] !== undefined) {
      frag.appendChild(h('code', { class: 'md-code' }, m[2]));
    } else if (m[4] !== undefined) {
      const src = safeUrl(m[4], true);
      if (src) {
        const img = h('img', { class: 'md-img', src, alt: m[3] || '', loading: 'lazy', testid: 'md-image' });
        frag.appendChild(h('a', { href: src, target: '_blank', rel: 'noopener noreferrer', class: 'md-img-link' }, img));
      } else {
        frag.appendChild(document.createTextNode(m[0]));
      }
    } else if (m[6] !== undefined) {
      const href = safeUrl(m[6], false);
      if (href) frag.appendChild(h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[5]));
      else frag.appendChild(document.createTextNode(m[5]));
    } else if (m[7] !== undefined || m[8] !== undefined) {
      frag.appendChild(h('strong', null, m[7] !== undefined ? m[7] : m[8]));
    } else if (m[10] !== undefined) {
      frag.appendChild(h('em', null, m[10]));
    } else if (m[11] !== undefined) {
      frag.appendChild(h('a', { href: m[11], target: '_blank', rel: 'noopener noreferrer' }, m[11]));
    }
    last = INLINE.lastIndex;
  }
  if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
  return frag;
}

/**
 * Lines joined by <br>.
 * @param {string[]} lines
 * @returns {DocumentFragment}
 */
function inlineLines(lines) {
  const frag = document.createDocumentFragment();
  lines.forEach((line, i) => {
    if (i > 0) frag.appendChild(h('br'));
    frag.appendChild(renderInline(line));
  });
  return frag;
}

/**
 * Paragraphs, code fences, headings, rules, lists and quotes.
 * @param {string | null | undefined} text
 * @returns {HTMLDivElement}
 */
export function renderMarkdown(text) {
  const root = h('div', { class: 'md' });
  const lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) root.appendChild(h('p', null, inlineLines(para)));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```+|~~~+)\s*([\w+#.-]*)/);
    if (fence) {
      flush();
      const marker = fence[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(marker)) { body.push(lines[i]); i += 1; }
      i += 1;
      const code = h('code', null, body.join('\n'));
      const pre = h('pre', { class: 'md-pre' }, code);
      if (fence[2]) pre.setAttribute('data-lang', fence[2]);
      root.appendChild(pre);
      continue;
    }
    const heading = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1].length + 2);
      root.appendChild(h('h' + level, { class: 'md-h' }, renderInline(heading[2])));
      i += 1;
      continue;
    }
    if (/^\s*([-*_])\s*\1\s*\1[\s\x01]*$/.test(line) && !/^\s*[-*]\s+\S/.test(line)) {
      flush();
      root.appendChild(h('hr'));
      i += 1;
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/;
    const ordered = /^\s*(\d+)[.)]\s+(.*)$/;
    if (bullet.test(line) || ordered.test(line)) {
      flush();
      const isOrdered = !bullet.test(line);
      const re = isOrdered ? ordered : bullet;
      const list = h(isOrdered ? 'ol' : 'ul');
      if (isOrdered) {
        const first = parseInt(line.match(ordered)[1], 10);
        if (first !== 1) list.setAttribute('start', String(first));
      }
      while (i < lines.length && re.test(lines[i])) {
        const m = lines[i].match(re);
        const item = [isOrdered ? m[2] : m[1]];
        i += 1;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !re.test(lines[i])) { item.push(lines[i].trim()); i += 1; }
        list.appendChild(h('li', null, inlineLines(item)));
      }
      root.appendChild(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      flush();
      const quote = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) { quote.push(lines[i].replace(/^\s*>\s?/, '')); i += 1; }
      root.appendChild(h('blockquote', null, inlineLines(quote)));
      continue;
    }
    if (!line.trim()) { flush(); i += 1; continue; }
    para.push(line);
    i += 1;
  }
  flush();
  return root;
}

/**
 * A message's content as plain text (a list of parts joins their texts).
 * @param {unknown} content
 * @returns {HTMLDivElement}
 */
export function plainText(content) {
  const text = typeof content === 'string' ? content : Array.isArray(content)
    ? content.map((p) => (p && p.text) || '').join('\n') : JSON.stringify(content);
  return h('div', { class: 'plain' }, text);
}
