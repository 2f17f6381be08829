// @ts-check
// ragway web admin: one small single-page app over /api/admin/* and /v1/*.
// Plain DOM and native ES modules (no framework, no build step). Every
// visible string goes through t() (lib/i18n.js); untrusted text is only ever
// set as text. This entry registers the pages and starts the router.

import { render, setNav, setPages } from './lib/router.js';
import { S } from './lib/state.js';
import { pageConversations } from './pages/conversations.js';
import { pageDashboard } from './pages/dashboard.js';
import { pageKeys } from './pages/keys.js';
import { pageKnowledge } from './pages/knowledge.js';
import { pageLogs } from './pages/logs.js';
import { pageModels } from './pages/models.js';
import { pagePlayground } from './pages/playground.js';
import { pageProviders } from './pages/providers.js';
import { pageSettings } from './pages/settings.js';

setPages({
  dashboard: pageDashboard,
  playground: pagePlayground,
  providers: pageProviders,
  models: pageModels,
  settings: pageSettings,
  knowledge: pageKnowledge,
  keys: pageKeys,
  conversations: pageConversations,
  logs: pageLogs,
});

window.addEventListener('hashchange', () => render());
window.addEventListener('keydown', (e) => { if (e.key === 'Escape' && S.navOpen) setNav(false); });
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
else render();
