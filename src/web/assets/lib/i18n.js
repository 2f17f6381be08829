// @ts-check
// Translations: t(key, {name}) picks the current language's text from
// ../i18n/en.js or ../i18n/zh.js and fills in `{name}`; a missing key shows
// as itself. setLang switches and redraws.

import en from '../i18n/en.js';
import zh from '../i18n/zh.js';
import { render } from './router.js';
import { LANG_KEY, LANGS, S } from './state.js';

/** @returns {Record<string, string>} the current language's texts */
function texts() {
  return S.lang === 'zh' ? zh : en;
}

/**
 * Whether `key` has a text (both tables hold the same keys).
 * @param {string} key
 */
export function hasText(key) {
  return Object.hasOwn(texts(), key);
}

/**
 * @param {string} key
 * @param {Record<string, unknown>} [vars] replace `{name}` in the text
 * @returns {string}
 */
export function t(key, vars) {
  const table = texts();
  let text = Object.hasOwn(table, key) ? table[key] : key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

/** @param {string} lang */
export function setLang(lang) {
  if (!LANGS.includes(lang) || lang === S.lang) return;
  S.lang = lang;
  try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
  render();
}
