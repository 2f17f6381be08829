// @ts-check
// Formatting of times, sizes and numbers in the current language.

import { h } from './dom.js';
import { t } from './i18n.js';
import { S } from './state.js';

/** The locale of dates and numbers: zh-CN or en-GB. */
export function locale() { return S.lang === 'zh' ? 'zh-CN' : 'en-GB'; }

/**
 * @param {number | string | null | undefined} ms epoch milliseconds, or a date string
 * @returns {string} the date and time to the minute; — for none
 */
export function fmtTime(ms) {
  if (ms == null || ms === 0) return '—';
  const d = new Date(typeof ms === 'number' ? ms : Date.parse(ms));
  if (isNaN(d.getTime())) return '—';
  return d.toLocaleString(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * @param {number | null | undefined} ms
 * @returns {string} "5 minutes ago"; the date after six days
 */
export function fmtAgo(ms) {
  if (ms == null) return t('common.never');
  const diff = (Date.now() - ms) / 1000;
  const rtf = new Intl.RelativeTimeFormat(S.lang === 'zh' ? 'zh-CN' : 'en', { numeric: 'auto' });
  const abs = Math.abs(diff);
  if (abs < 45) return rtf.format(-Math.round(diff), 'second');
  if (abs < 2700) return rtf.format(-Math.round(diff / 60), 'minute');
  if (abs < 79200) return rtf.format(-Math.round(diff / 3600), 'hour');
  if (abs < 86400 * 6) return rtf.format(-Math.round(diff / 86400), 'day');
  return fmtTime(ms);
}

/**
 * A <time> with the full ISO time as its title.
 * @param {number | null | undefined} ms
 * @param {boolean} [relative] "5 minutes ago" rather than the date
 */
export function timeEl(ms, relative) {
  return h('time', { title: ms ? new Date(ms).toISOString() : null, class: 'nowrap' }, relative ? fmtAgo(ms) : fmtTime(ms));
}

/**
 * @param {number | null | undefined} n
 * @returns {string} 1.5 KB, 12 MB
 */
export function fmtBytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

/**
 * @param {unknown} n
 * @returns {string} a number with the locale's separators; anything else as text
 */
export function fmtNumber(n) {
  return typeof n === 'number' ? n.toLocaleString(locale()) : String(n);
}

/**
 * 1,234 below ten thousand; 12K / 1.2万 above.
 * @param {unknown} n
 * @returns {string}
 */
export function fmtCompact(n) {
  if (typeof n !== 'number') return String(n);
  if (Math.abs(n) < 10000) return fmtNumber(n);
  return new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

/**
 * @param {number | null | undefined} ms
 * @returns {string | null} "12 ms"; null for none
 */
export function fmtMs(ms) {
  return ms == null ? null : t('logs.ms', { n: fmtNumber(ms) });
}

/**
 * @param {number | null | undefined} ms
 * @returns {string} the date and time to the second; — for none
 */
export function fmtFullTime(ms) {
  if (ms == null) return '—';
  return new Date(ms).toLocaleString(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
