// @ts-check
// Facts about the API's data that several pages share.

import { t } from './i18n.js';

/** The upstream roles, in the order pages show them. */
export const ROLES = ['chat', 'embeddings', 'images', 'rerank'];

/**
 * @param {any} k an API key as listed
 * @returns {'revoked' | 'expired' | 'active'}
 */
export function keyState(k) {
  if (k.revoked) return 'revoked';
  if (k.expires_at && k.expires_at < Date.now()) return 'expired';
  return 'active';
}

/**
 * A key id as people know it: its name (or prefix), or the admin session.
 * @param {any[] | null | undefined} keys the keys as listed
 * @returns {(id: string | null | undefined, nameHint?: string) => string | null}
 */
export function keyLabeller(keys) {
  const byId = new Map((keys || []).map((k) => [k.id, k]));
  return (id, nameHint) => {
    if (!id) return null;
    if (id === 'admin-session') return t('conv.admin_session');
    const k = byId.get(id);
    if (k) return k.name || (k.prefix + '…');
    return nameHint || (id.length > 12 ? id.slice(0, 8) + '…' : id);
  };
}
