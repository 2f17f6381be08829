// @ts-check
// DOM helpers: h() builds elements (untrusted text is only ever set as
// text), add/clear, and the inline SVG icons.

/**
 * What h() accepts beside an element: text (numbers too), nodes, nested
 * lists; null, undefined and false are left out.
 * @typedef {Node | string | number | boolean | null | undefined | ReadonlyArray<any>} Kid
 */

/**
 * h()'s props: `class`, `testid` (data-testid), `text`, `on<event>`
 * listeners, the DOM properties in PROPS, any other attribute; a null,
 * undefined or false value is left out.
 * @typedef {Record<string, any>} Props
 */

/** Set as DOM properties, not attributes. */
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'multiple', 'readOnly', 'required', 'hidden', 'indeterminate']);

/**
 * Build an element.
 * @template {string} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Kid} kids
 * @returns {K extends keyof HTMLElementTagNameMap ? HTMLElementTagNameMap[K] : HTMLElement}
 */
export function h(tag, props, ...kids) {
  const el = /** @type {any} */ (document.createElement(tag));
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, kids);
  return el;
}

/**
 * Append `kids` to `el`, as h() does.
 * @template {Node} E
 * @param {E} el
 * @param {Kid[]} kids
 * @returns {E}
 */
export function add(el, kids) {
  for (const kid of kids) {
    if (kid == null || kid === false) continue;
    if (Array.isArray(kid)) add(el, kid);
    else if (kid instanceof Node) el.appendChild(kid);
    else el.appendChild(document.createTextNode(String(kid)));
  }
  return el;
}

/**
 * Remove every child of `el`.
 * @template {Node} E
 * @param {E} el
 * @returns {E}
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * Focus `el` once the page it belongs to is on screen (after this task),
 * unless focus has moved meanwhile: a click or a keypress that came first
 * keeps its field, and nothing typed lands in another one.
 * @param {HTMLElement} el
 * @param {FocusOptions} [options]
 */
export function focusSoon(el, options) {
  const before = document.activeElement;
  setTimeout(() => { if (document.activeElement === before) el.focus(options); }, 0);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** @type {Record<string, string>} icon name -> SVG path (24 x 24, stroked) */
const ICONS = {
  dashboard: 'M3 3h7v9H3z M14 3h7v5h-7z M14 12h7v9h-7z M3 16h7v5H3z',
  playground: 'M13 2 3 14h9l-1 8 10-12h-9l1-8z',
  providers: 'M4 4h16v6H4z M4 14h16v6H4z M8 7h.01 M8 17h.01',
  models: 'M21 16V8l-9-5-9 5v8l9 5 9-5z M3.3 7.3 12 12l8.7-4.7 M12 22V12',
  settings: 'M4 21v-7 M4 10V3 M12 21v-9 M12 8V3 M20 21v-5 M20 12V3 M1 14h6 M9 8h6 M17 16h6',
  knowledge: 'M4 19.5A2.5 2.5 0 0 1 6.5 17H20 M6.5 2H20v20H6.5A2.5 2.5 0 0 1 4 19.5v-15A2.5 2.5 0 0 1 6.5 2z',
  keys: 'M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.8 7.8 5.5 5.5 0 0 1 7.8-7.8zm0 0L15.5 7.5m0 0 3 3L22 7l-3-3m-3.5 3.5L19 4',
  conversations: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z',
  logs: 'M8 6h13 M8 12h13 M8 18h13 M3 6h.01 M3 12h.01 M3 18h.01',
  logout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4 M16 17l5-5-5-5 M21 12H9',
  menu: 'M3 6h18 M3 12h18 M3 18h18',
  copy: 'M9 9h13v13H9z M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1',
  upload: 'M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4 M17 8l-5-5-5 5 M12 3v12',
  trash: 'M3 6h18 M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6 M10 11v6 M14 11v6 M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2',
  plus: 'M12 5v14 M5 12h14',
  send: 'M22 2 11 13 M22 2l-7 20-4-9-9-4 20-7z',
  refresh: 'M23 4v6h-6 M1 20v-6h6 M3.5 9a9 9 0 0 1 14.9-3.4L23 10 M1 14l4.6 4.4A9 9 0 0 0 20.5 15',
  check: 'M20 6 9 17l-5-5',
  alert: 'M12 9v4 M12 17h.01 M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
  x: 'M18 6 6 18 M6 6l12 12',
  file: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z M14 2v6h6 M8 13h8 M8 17h5',
  edit: 'M12 20h9 M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z',
  stop: 'M6 6h12v12H6z',
  database: 'M12 3c-5 0-8 1.3-8 3v12c0 1.7 3 3 8 3s8-1.3 8-3V6c0-1.7-3-3-8-3z M4 6c0 1.7 3 3 8 3s8-1.3 8-3 M4 12c0 1.7 3 3 8 3s8-1.3 8-3',
  folder: 'M22 19a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h5l2 3h9a2 2 0 0 1 2 2z',
  globe: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z M2 12h20 M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z',
  search: 'M11 3a8 8 0 1 0 0 16 8 8 0 0 0 0-16z M21 21l-4.3-4.3',
  lock: 'M5 11h14v10H5z M8 11V7a4 4 0 0 1 8 0v4',
  chevron: 'M9 18l6-6-6-6',
  arrowLeft: 'M19 12H5 M12 19l-7-7 7-7',
  activity: 'M22 12h-4l-3 9L9 3l-3 9H2',
  chart: 'M3 3v18h18 M8 17v-4 M13 17V8 M18 17v-7',
  ban: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z M4.9 4.9l14.2 14.2',
  spark: 'M12 3l1.9 5.8L20 10l-6.1 1.2L12 17l-1.9-5.8L4 10l6.1-1.2z M19 17l.8 2.2L22 20l-2.2.8L19 23l-.8-2.2L16 20l2.2-.8z',
};

/**
 * An inline SVG icon (decorative: hidden from screen readers).
 * @param {string} name a key of ICONS (an unknown name draws `file`)
 * @param {string} [cls] more classes
 * @returns {SVGSVGElement}
 */
export function icon(name, cls) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.file);
  svg.appendChild(path);
  return svg;
}

/**
 * The ragway logo.
 * @returns {SVGSVGElement}
 */
export function brandMark() {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'brand-mark');
  /** @type {Array<[string, Record<string, string>]>} */
  const parts = [
    ['rect', { x: '1', y: '1', width: '30', height: '30', rx: '9', class: 'bm-bg' }],
    ['path', { d: 'M10 22V10h6.5a4 4 0 0 1 0 8H10 M16 18l5 4', class: 'bm-fg' }],
    ['circle', { cx: '22.5', cy: '10', r: '2', class: 'bm-dot' }],
  ];
  for (const [tag, attrs] of parts) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.appendChild(el);
  }
  return svg;
}
