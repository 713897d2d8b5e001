// The console's entry point: sign-in and sign-out, the hash router (#/overview, …), the
// alert and status regions, and running actions (a change, then a fresh render).

import { ApiError, api, clearKey, getKey, isAbort, setHooks, setKey } from './api.js';
import { h } from './dom.js';
import * as views from './views.js';

const byId = (id) => document.getElementById(id);
const ui = {
  nav: byId('nav'),
  signOut: byId('sign-out'),
  alert: byId('alert'),
  status: byId('status'),
  flash: byId('flash'),
  view: byId('view'),
};

// ---------------------------------------------------------------------------------------
// Messages

function showAlert(message) {
  ui.alert.textContent = String(message);
}

function clearAlert() {
  ui.alert.textContent = '';
}

function setStatus(message) {
  ui.status.textContent = message ? String(message) : '';
}

function errorText(err) {
  if (err instanceof ApiError) return err.message;
  return (err && err.message) || String(err);
}

function reportError(err) {
  if (!err || isAbort(err) || err.handled) return;
  showAlert(errorText(err));
}

// ---------------------------------------------------------------------------------------
// Routes

const ROUTES = {
  overview: { view: views.overview, label: 'Overview', nav: 'overview' },
  contracts: { view: views.contracts, label: 'Contracts', nav: 'contracts' },
  contract: { view: views.contract, label: 'Contract', nav: 'contracts' },
  check: { view: views.check, label: 'Check', nav: null },
  webhooks: { view: views.webhooks, label: 'Webhooks', nav: 'webhooks' },
  webhook: { view: views.webhook, label: 'Webhook', nav: 'webhooks' },
  keys: { view: views.keys, label: 'API keys', nav: 'keys' },
  notfound: { view: views.notFound, label: 'Page not found', nav: null },
};

function route(name, params = {}, canonical = null) {
  return { name, params, canonical, ...ROUTES[name] };
}

/** "#/contracts/ctr_1" → the contract route with {id: "ctr_1"}. */
function parseRoute(hash) {
  const raw = String(hash || '').replace(/^#\/?/, '');
  let parts;
  try {
    parts = raw.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return route('notfound');
  }
  const [a, b, extra] = parts;
  if (extra !== undefined) return route('notfound');
  if (!a) return route('overview', {}, '#/overview');
  if (a === 'overview' && !b) return route('overview');
  if (a === 'contracts') return b ? route('contract', { id: b }) : route('contracts');
  if (a === 'checks' && b) return route('check', { id: b });
  if (a === 'webhooks') return b ? route('webhook', { id: b }) : route('webhooks');
  if (a === 'keys' && !b) return route('keys');
  return route('notfound');
}

// ---------------------------------------------------------------------------------------
// Rendering

let seq = 0; // the render that may still draw; older ones drop their result
let controller = null; // aborts the requests of the view being left

function abortCurrent() {
  seq += 1;
  if (controller) controller.abort();
  controller = null;
  return seq;
}

function setTitle(text) {
  document.title = `${text} · DriftGuard`;
}

function showNav(current) {
  ui.nav.hidden = false;
  for (const link of ui.nav.querySelectorAll('a[data-nav]')) {
    if (link.getAttribute('data-nav') === current.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function focusHeading() {
  const heading = ui.view.querySelector('h1');
  if (heading) heading.focus();
}

/** What had focus (by data-test, and the row's data-id), to focus its successor. */
function focusMemo() {
  const active = document.activeElement;
  if (!active || active === document.body || !ui.view.contains(active)) return null;
  const test = active.getAttribute('data-test');
  if (!test) return null;
  const row = active.closest('[data-id]');
  return { test, id: row ? row.getAttribute('data-id') : null };
}

// A control that an action replaces by its opposite.
const SUCCESSOR = { pause: 'resume', resume: 'pause', revoke: 'activate', activate: 'revoke' };

function restoreFocus(memo) {
  let target = null;
  if (memo === 'flash') {
    target = ui.flash.firstElementChild;
  } else if (memo) {
    const scope = memo.id ? ui.view.querySelector(`[data-id="${CSS.escape(memo.id)}"]`) : ui.view;
    for (const test of [memo.test, SUCCESSOR[memo.test]]) {
      if (!scope || !test) continue;
      target = scope.querySelector(`[data-test="${CSS.escape(test)}"]`);
      if (target) break;
    }
  }
  if (!target || target.disabled) target = ui.view.querySelector('h1');
  if (target) target.focus();
}

let flashed = false;

function makeCtx(current, signal, mine) {
  return {
    params: current.params,
    get: (path) => api('GET', path, { signal }),
    getFull: (path) => api('GET', path, { signal, full: true }),
    send: (method, path, body) => api(method, path, { body, signal }),
    setTitle: (text) => {
      if (mine === seq) setTitle(text);
    },
    status: setStatus,
    alert: showAlert,
    clearAlert,
    fail: reportError,
    flash: (node) => {
      ui.flash.replaceChildren(node);
      flashed = true;
    },
    action: runAction,
  };
}

/**
 * Draws the view of location.hash. `navigation`: a new view (a loading line first, then
 * focus on its h1); otherwise a refresh after an action (the old view stays until the new
 * one is ready, and focus goes back to the control that had it).
 */
async function render({ navigation = true, memo = null } = {}) {
  const mine = abortCurrent();
  controller = new AbortController();
  const { signal } = controller;
  const current = parseRoute(location.hash);
  if (current.canonical) history.replaceState(null, '', current.canonical);
  if (!getKey()) {
    showSignIn();
    return;
  }
  showNav(current);
  setTitle(current.label);
  if (navigation) ui.view.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  ui.view.setAttribute('aria-busy', 'true');
  let rootEl;
  try {
    rootEl = await current.view(makeCtx(current, signal, mine));
  } catch (err) {
    if (mine !== seq || isAbort(err) || (err && err.handled)) return;
    const message = errorText(err);
    showAlert(message);
    rootEl = h('div', { class: 'view', 'data-test': `view-${current.name}` },
      h('h1', { tabindex: '-1' }, current.label),
      h('p', { class: 'error-text' }, `This page could not be loaded: ${message}`),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onClick: () => { clearAlert(); render(); } }, 'Try again')));
  }
  if (mine !== seq) return;
  ui.view.removeAttribute('aria-busy');
  ui.view.replaceChildren(rootEl);
  if (navigation) focusHeading();
  else restoreFocus(memo);
}

/** An action: run `fn` (which answers the status line), then draw the view afresh. */
async function runAction(btn, fn) {
  const memo = focusMemo();
  clearAlert();
  setStatus('Working…');
  if (btn) btn.disabled = true;
  flashed = false;
  let message;
  try {
    message = await fn();
  } catch (err) {
    if (btn) btn.disabled = false;
    setStatus('');
    reportError(err);
    return;
  }
  const hadFlash = flashed;
  await render({ navigation: false, memo: hadFlash ? 'flash' : memo });
  setStatus(message);
}

// ---------------------------------------------------------------------------------------
// Signing in and out

function showSignIn() {
  abortCurrent();
  ui.nav.hidden = true;
  ui.flash.replaceChildren();
  ui.view.removeAttribute('aria-busy');
  setTitle('Sign in');
  ui.view.replaceChildren(views.signIn(signInWith));
  const input = ui.view.querySelector('[data-test="key-input"]');
  if (input) input.focus();
}

function signInWith(key) {
  clearAlert();
  setStatus('');
  if (!key) {
    showAlert('Paste an API key first.');
    return;
  }
  try {
    setKey(key);
  } catch {
    showAlert('This browser does not allow sessionStorage, where the console keeps the key.');
    return;
  }
  render({ navigation: true });
}

function signOut() {
  clearKey();
  clearAlert();
  showSignIn();
  setStatus('Signed out.');
}

setHooks({
  unauthorized: (message) => {
    if (message) showAlert(message);
    showSignIn();
  },
  rateLimited: (notice) => showAlert(notice),
  rateLimitOver: (notice) => {
    if (ui.alert.textContent === notice) clearAlert();
  },
});

ui.signOut.addEventListener('click', signOut);

window.addEventListener('hashchange', () => {
  clearAlert();
  setStatus('');
  ui.flash.replaceChildren();
  render({ navigation: true });
});

render({ navigation: true });
