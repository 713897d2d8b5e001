// The views. Each takes a context from app.js (ctx.get/send call the API, ctx.action runs
// a change and re-renders, ctx.status/alert/flash report) and resolves with the view's
// root element; app.js puts it in the page and moves focus to its h1.

import { ApiError, getKey, isAbort } from './api.js';
import { checksChart } from './chart.js';
import {
  h, enc, badge, stateBadge, time, num, names, facts, table, section, label,
} from './dom.js';

// Values kept across re-renders of one view (a form that an action re-draws).
const kept = { recoverSince: null, keyEnv: 'test', convertFormat: 'avro' };

function root(name, title, ...children) {
  return h('div', { class: 'view', 'data-test': `view-${name}` },
    h('h1', { tabindex: '-1' }, title), ...children);
}

const muted = (text) => h('span', { class: 'muted' }, text);
const code = (text) => h('code', {}, String(text));
const arr = (v) => (Array.isArray(v) ? v : []);

function list(items, empty = 'None.') {
  const values = arr(items);
  if (!values.length) return h('p', { class: 'muted' }, empty);
  return h('ul', { class: 'cols' }, values.map((v) => h('li', {}, code(v))));
}

function contractLink(id) {
  return id ? h('a', { href: `#/contracts/${enc(id)}` }, code(id)) : muted('all contracts');
}

function checkLink(id, text) {
  return h('a', { href: `#/checks/${enc(id)}` }, text === undefined ? code(id) : text);
}

/** A small form: each control with its label, then the buttons. */
function field(id, text, control, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, text), control, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null);
}

function button(test, text, onClick, extra = {}) {
  return h('button', { type: 'button', 'data-test': test, onClick, ...extra }, text);
}

// ---------------------------------------------------------------------------------------
// Sign-in

export function signIn(submit) {
  const input = h('input', {
    id: 'key-input', name: 'api-key', type: 'text', 'data-test': 'key-input', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'key-input-hint',
  });
  const form = h('form', {
    class: 'signin-form', novalidate: true,
    onSubmit: (e) => {
      e.preventDefault();
      submit(input.value.trim());
    },
  },
  field('key-input', 'API key', input,
    'Paste a key (dg_live_… or dg_test_…). It is kept only in this browser tab (sessionStorage) and sent as the X-API-Key header; Sign out forgets it.'),
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'sign-in' }, 'Sign in')));
  return root('signin', 'Sign in to DriftGuard', form);
}

export function notFound(ctx) {
  ctx.setTitle('Not found');
  return root('notfound', 'Page not found',
    h('p', {}, 'There is no view at this address. '),
    h('p', {}, h('a', { href: '#/overview' }, 'Go to the overview')));
}

// ---------------------------------------------------------------------------------------
// Overview

export async function overview(ctx) {
  ctx.setTitle('Overview');
  const o = await ctx.get('/overview');
  const usage = o.usage || {};
  const contracts = o.contracts || {};
  const by = contracts.by_last_result || {};
  const wh = o.webhooks || {};
  const d24 = o.deliveries_24h || {};
  return root('overview', 'Overview',
    section('ov-credits', 'Credits',
      facts([
        ['Credits remaining', h('span', { 'data-test': 'credits-remaining' }, num(usage.credits_remaining))],
        ['Credits used', h('span', { 'data-test': 'credits-used' }, num(usage.credits_used))],
        ['Total checks', h('span', { 'data-test': 'total-checks' }, num(usage.total_checks))],
      ], 'facts stats')),
    section('ov-checks', 'Checks per day, last 30 days', checksChart(o.checks_by_day)),
    section('ov-contracts', 'Contracts by last result',
      h('p', {}, `${num(contracts.total)} contracts. `, h('a', { href: '#/contracts' }, 'See all contracts')),
      facts(['breaking', 'warning', 'pass', 'none'].map((r) => [badge(r), num(by[r])]), 'facts stats')),
    section('ov-webhooks', 'Webhooks',
      h('p', {}, `${num(wh.total)} webhooks; ${num((wh.failing || 0) + (wh.paused || 0))} failing or paused. `,
        h('a', { href: '#/webhooks' }, 'See all webhooks')),
      facts([
        [stateBadge('failing'), num(wh.failing)],
        [stateBadge('paused'), num(wh.paused)],
        [stateBadge('gone'), num(wh.gone)],
        [stateBadge('active'), num(wh.active)],
      ], 'facts stats')),
    section('ov-deliveries', 'Deliveries in the last 24 h', deliveryTotals(d24)));
}

function deliveryTotals(d24) {
  return facts([
    [stateBadge('delivered'), num(d24.delivered)],
    [stateBadge('abandoned'), num(d24.abandoned)],
    [stateBadge('pending'), num(d24.pending)],
  ], 'facts stats');
}

// ---------------------------------------------------------------------------------------
// Contracts

export async function contracts(ctx) {
  ctx.setTitle('Contracts');
  const { data, next } = await ctx.getFull('/contracts?include=last_check&limit=1000');
  const all = arr(data);
  const rows = all.map((c) => {
    const last = c.last_check;
    return h('tr', { 'data-test': 'contract-row', 'data-id': c.id },
      h('td', {}, h('a', { href: `#/contracts/${enc(c.id)}` }, label(c.name))),
      h('td', {}, num(c.version)),
      h('td', {}, c.compatibility || 'none'),
      h('td', {}, badge(last ? last.result : null), last ? ` (severity ${num(last.severity)})` : null),
      h('td', {}, last ? checkLink(last.id, time(last.created_at)) : muted('never checked')));
  });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const filter = h('input', {
    id: 'contract-filter', type: 'search', 'data-test': 'contract-filter', autocomplete: 'off', spellcheck: 'false',
    onInput: apply,
  });
  function apply() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    all.forEach((c, i) => {
      const hit = !q || String(c.name).toLowerCase().includes(q);
      rows[i].hidden = !hit;
      if (hit) shown += 1;
    });
    count.textContent = q ? `Showing ${shown} of ${all.length} contracts.` : `${all.length} contracts.`;
  }
  apply();
  return root('contracts', 'Contracts',
    h('div', { class: 'toolbar' }, field('contract-filter', 'Filter by name', filter), count),
    table({
      caption: 'Contracts with their last check',
      columns: ['Name', 'Version', 'Compatibility', 'Last result', 'Last checked'],
      rows,
      empty: 'No contracts yet. Create one with POST /api/v1/contracts.',
    }),
    next ? h('p', { class: 'hint' }, 'Only the first 1000 contracts are shown.') : null);
}

// ---------------------------------------------------------------------------------------
// One contract

const RULES = [
  ['allow_additional_columns', false, 'Allow additional columns'],
  ['treat_renames_as_breaking', true, 'Treat renames as breaking'],
  ['allow_type_widening', false, 'Allow type widening'],
];

const MODES = {
  none: 'Any change to the columns is accepted.',
  backward: 'Readers of the new version must read data written under the latest one: removing a column, adding an optional one and widening a type are allowed.',
  forward: 'Readers of the latest version must read data written under the new one: adding a column, removing an optional one and narrowing a type are allowed.',
  full: 'Both backward and forward: only optional columns may come and go.',
};

function modeText(mode) {
  const m = String(mode || 'none');
  if (m.endsWith('_transitive')) {
    const base = m.slice(0, -'_transitive'.length);
    return `${MODES[base] || ''} Judged against every stored version.`.trim();
  }
  return MODES[m] || '';
}

function rulesView(rules) {
  const given = rules && typeof rules === 'object' ? rules : {};
  return h('div', {},
    rules ? null : h('p', { class: 'hint' }, 'No rules set: the defaults apply.'),
    facts(RULES.map(([key, def, text]) => {
      const set = given[key] !== undefined && given[key] !== null;
      const value = set ? !!given[key] : def;
      return [text, h('span', {}, value ? 'yes' : 'no', set ? '' : muted(' (default)'))];
    })));
}

const req = (b) => (b ? 'required' : 'optional');

/** A version's (or a dry run's) `changes`. */
export function changesView(changes) {
  if (!changes) return h('p', { class: 'muted' }, 'First version.');
  const items = [];
  if (arr(changes.added).length) items.push(h('li', {}, 'Added: ', names(changes.added)));
  if (arr(changes.removed).length) items.push(h('li', {}, 'Removed: ', names(changes.removed)));
  for (const t of arr(changes.type_changes)) {
    items.push(h('li', {}, 'Type of ', code(t.column), `: ${t.from} → ${t.to}`, t.kind ? ` (${t.kind})` : ''));
  }
  for (const r of arr(changes.required_changes)) {
    items.push(h('li', {}, code(r.column), `: ${req(r.from)} → ${req(r.to)}`));
  }
  if (changes.name_changed) {
    items.push(h('li', {}, 'Name: ', code(changes.name_changed.from), ' → ', code(changes.name_changed.to)));
  }
  if (changes.rules_changed) items.push(h('li', {}, 'Rules or severity overrides changed'));
  if (changes.compatibility_changed) {
    items.push(h('li', {}, `Compatibility: ${changes.compatibility_changed.from} → ${changes.compatibility_changed.to}`));
  }
  if (!items.length) return h('p', { class: 'muted' }, 'No changes.');
  return h('ul', { class: 'changes' }, items);
}

function violationsView(violations) {
  const vs = arr(violations);
  if (!vs.length) return h('p', { class: 'muted' }, 'No violations.');
  return h('ul', { class: 'violations' }, vs.map((v) => h('li', { 'data-test': 'violation' },
    `Version ${num(v.version)}, column `, code(v.column), `: ${v.rule} — `, String(v.message))));
}

function parseColumns(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`The schema is not valid JSON: ${e.message}`);
  }
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') {
    if (Array.isArray(value.columns)) return value.columns;
    if (value.schema && Array.isArray(value.schema.columns)) return value.schema.columns;
  }
  throw new Error('Give an object with a "columns" list: {"columns": [{"name": …, "type": …, "required": …}]}.');
}

function plainColumns(columns) {
  return arr(columns).map((c) => {
    const out = { name: c.name, type: c.type, required: c.required };
    if (c.severity_override) out.severity_override = c.severity_override;
    return out;
  });
}

export async function contract(ctx) {
  const id = ctx.params.id;
  ctx.setTitle('Contract');
  const path = `/contracts/${enc(id)}`;
  const [c, versions, checks] = await Promise.all([
    ctx.get(path),
    ctx.get(`${path}/versions`),
    ctx.get(`/checks?contract_id=${enc(id)}&limit=20`),
  ]);
  ctx.setTitle(`Contract ${label(c.name)}`);
  const schema = c.schema || {};
  const columns = arr(schema.columns);

  const columnRows = columns.map((col) => h('tr', { 'data-test': 'column-row' },
    h('td', {}, code(col.name)),
    h('td', {}, String(col.type)),
    h('td', {}, col.required ? 'yes' : 'no'),
    h('td', {}, col.severity_override ? String(col.severity_override) : muted('none (default points)'))));

  const timeline = arr(versions).length
    ? h('ol', { class: 'timeline' }, arr(versions).map((v) => h('li', { 'data-test': 'version-row' },
      h('h3', {}, `Version ${num(v.version)}`),
      h('p', { class: 'meta' }, time(v.created_at), ' · name ', code(label(v.name)),
        ' · compatibility ', String(v.compatibility || 'none'), ` · ${arr(v.schema && v.schema.columns).length} columns`),
      changesView(v.changes))))
    : h('p', { class: 'muted' }, 'No versions.');

  const checkRows = arr(checks).map((k) => h('tr', { 'data-test': 'check-row' },
    h('td', {}, checkLink(k.id)),
    h('td', {}, badge(k.result)),
    h('td', {}, num(k.severity)),
    h('td', {}, num(k.contract_version)),
    h('td', {}, time(k.created_at))));

  // Try a schema: a dry run of the update, or the compatibility question.
  const tryArea = h('textarea', {
    id: 'try-schema', 'data-test': 'try-schema', rows: 12, spellcheck: 'false', class: 'mono',
    'aria-describedby': 'try-schema-hint', value: JSON.stringify({ columns: plainColumns(columns) }, null, 2),
  });
  const tryResult = h('div', { id: 'try-result', 'data-test': 'try-result', class: 'result' });

  async function runTry(kind, btn) {
    ctx.clearAlert();
    ctx.status('');
    let cols;
    try {
      cols = parseColumns(tryArea.value);
    } catch (e) {
      tryResult.replaceChildren(h('p', { class: 'error-text' }, e.message));
      ctx.alert(e.message);
      return;
    }
    btn.disabled = true;
    tryResult.setAttribute('aria-busy', 'true');
    tryResult.replaceChildren(h('p', { class: 'muted' }, kind === 'dry' ? 'Running the dry run…' : 'Asking…'));
    try {
      if (kind === 'dry') {
        const r = await ctx.send('PUT', `${path}?dry_run=true`, { schema: { columns: cols } });
        const changed = r.version !== c.version;
        tryResult.replaceChildren(
          h('h3', {}, 'Dry run (nothing was stored)'),
          h('p', { 'data-test': 'try-version' }, changed
            ? `The contract would become version ${num(r.version)}.`
            : `No change: the contract would stay at version ${num(r.version)}.`),
          changed || r.changes ? changesView(r.changes) : null);
        ctx.status(changed ? `Dry run: the contract would become version ${num(r.version)}.` : 'Dry run: no change.');
      } else {
        const r = await ctx.send('POST', `${path}/compatibility`, { schema: { columns: cols } });
        const n = arr(r.violations).length;
        tryResult.replaceChildren(
          h('h3', {}, 'Compatibility'),
          h('p', { 'data-test': 'try-compatible' }, stateBadge(r.compatible ? 'compatible' : 'incompatible'),
            ` under the ${r.compatibility} mode.`),
          violationsView(r.violations));
        ctx.status(r.compatible
          ? `Compatible under ${r.compatibility}.`
          : `Not compatible under ${r.compatibility}: ${n} violation${n === 1 ? '' : 's'}.`);
      }
    } catch (err) {
      if (isAbort(err) || err.handled) return;
      if (err instanceof ApiError && err.code === 'incompatible') {
        const n = err.violations.length;
        tryResult.replaceChildren(
          h('h3', {}, 'Refused by the compatibility mode (nothing was stored)'),
          h('p', { class: 'error-text' }, err.message),
          violationsView(err.violations));
        ctx.status(`Dry run refused: ${n} violation${n === 1 ? '' : 's'}.`);
      } else {
        tryResult.replaceChildren(h('p', { class: 'error-text' }, err.message));
        ctx.fail(err);
      }
    } finally {
      btn.disabled = false;
      tryResult.removeAttribute('aria-busy');
    }
  }

  // Convert a foreign schema into the try box.
  const format = h('select', {
    id: 'convert-format', 'data-test': 'convert-format',
    onChange: () => { kept.convertFormat = format.value; },
    value: kept.convertFormat,
  },
  h('option', { value: 'avro' }, 'Avro schema (.avsc)'),
  h('option', { value: 'json_schema' }, 'JSON Schema'),
  h('option', { value: 'sql' }, 'SQL (CREATE TABLE)'));
  const source = h('textarea', { id: 'convert-source', 'data-test': 'convert-source', rows: 8, spellcheck: 'false', class: 'mono' });
  const tableName = h('input', { id: 'convert-table', type: 'text', 'data-test': 'convert-table', autocomplete: 'off', spellcheck: 'false' });
  const convertResult = h('div', { id: 'convert-result', 'data-test': 'convert-result', class: 'result' });

  async function runConvert(btn) {
    ctx.clearAlert();
    ctx.status('');
    const body = { format: format.value, source: source.value };
    if (format.value === 'sql' && tableName.value.trim()) body.table = tableName.value.trim();
    btn.disabled = true;
    convertResult.replaceChildren(h('p', { class: 'muted' }, 'Converting…'));
    try {
      const r = await ctx.send('POST', '/schemas/convert', body);
      const cols = arr(r.columns);
      tryArea.value = JSON.stringify({ columns: cols }, null, 2);
      const warnings = arr(r.warnings);
      convertResult.replaceChildren(
        h('p', {}, `Converted ${cols.length} column${cols.length === 1 ? '' : 's'} into the try box.`),
        warnings.length
          ? h('div', {}, h('p', {}, 'Warnings:'), h('ul', { class: 'warnings', 'data-test': 'convert-warnings' },
            warnings.map((w) => h('li', {}, String(w)))))
          : h('p', { class: 'muted' }, 'No warnings.'));
      ctx.status(`Converted ${cols.length} columns into the try box${warnings.length ? ` with ${warnings.length} warnings` : ''}.`);
    } catch (err) {
      if (isAbort(err) || err.handled) return;
      convertResult.replaceChildren(h('p', { class: 'error-text' }, err.message));
      ctx.fail(err);
    } finally {
      btn.disabled = false;
    }
  }

  return root('contract', label(c.name),
    facts([
      ['Id', code(c.id)],
      ['Version', num(c.version)],
      ['Compatibility', String(c.compatibility || 'none')],
      ['Created', time(c.created_at)],
      ['Updated', time(c.updated_at)],
    ]),
    section('columns-h', 'Columns', table({
      caption: `${columns.length} columns`,
      columns: ['Name', 'Type', 'Required', 'Severity override'],
      rows: columnRows,
      empty: 'No columns.',
    })),
    section('rules-h', 'Rules', rulesView(schema.rules)),
    section('compat-h', 'Compatibility mode',
      h('p', {}, h('strong', {}, String(c.compatibility || 'none')), ' — ', modeText(c.compatibility))),
    section('versions-h', 'Versions', timeline),
    section('checks-h', 'Recent checks', table({
      caption: 'The 20 latest checks of this contract',
      columns: ['Check', 'Result', 'Severity', 'Version', 'Created'],
      rows: checkRows,
      empty: 'No checks yet.',
    })),
    section('try-h', 'Try a schema',
      field('try-schema', 'Schema to try ({"columns": [...]})', tryArea,
        'Dry run: what the contract would become with these columns (nothing is stored). Compatibility: whether its mode allows them.'),
      h('div', { class: 'buttons' },
        button('dry-run', 'Dry run', (e) => runTry('dry', e.currentTarget)),
        button('compat', 'Compatibility', (e) => runTry('compat', e.currentTarget))),
      tryResult),
    section('convert-h', 'Convert a schema into the try box',
      field('convert-format', 'Format', format),
      field('convert-source', 'Source document', source),
      field('convert-table', 'Table (SQL with several tables; optional)', tableName),
      h('div', { class: 'buttons' }, button('convert', 'Convert', (e) => runConvert(e.currentTarget))),
      convertResult));
}

// ---------------------------------------------------------------------------------------
// One check

export async function check(ctx) {
  const id = ctx.params.id;
  ctx.setTitle('Check');
  const k = await ctx.get(`/checks/${enc(id)}`);
  ctx.setTitle(`Check ${k.id}`);
  const diff = k.diff || {};
  const typeRows = arr(diff.type_changes).map((t) => h('tr', {},
    h('td', {}, code(t.column)), h('td', {}, `${t.from} → ${t.to}`), h('td', {}, t.kind ? String(t.kind) : '—')));
  const renameRows = arr(diff.renames).map((r) => h('tr', {},
    h('td', {}, code(r.from)), h('td', {}, code(r.to)), h('td', {}, String(r.type))));
  return root('check', `Check ${k.id}`,
    facts([
      ['Result', h('span', { 'data-test': 'check-result' }, badge(k.result))],
      ['Severity', h('span', { 'data-test': 'check-severity' }, `${num(k.severity)} / 100`)],
      ['Contract', contractLink(k.contract_id)],
      ['Contract version', num(k.contract_version)],
      ['Created', time(k.created_at)],
      ['Credits used', num(k.credits_used)],
    ]),
    section('removed-h', 'Removed columns', h('div', { 'data-test': 'diff-removed' }, list(diff.removed))),
    section('types-h', 'Type changes', h('div', { 'data-test': 'diff-type-changes' }, table({
      columns: ['Column', 'From → to', 'Kind'], rows: typeRows, empty: 'None.',
    }))),
    section('added-h', 'Added columns', h('div', { 'data-test': 'diff-added' }, list(diff.added))),
    section('renames-h', 'Probable renames', h('div', { 'data-test': 'diff-renames' }, table({
      columns: ['From', 'To', 'Type'], rows: renameRows, empty: 'None.',
    }))),
    section('ignored-h', 'Ignored by a rule or override', h('div', { 'data-test': 'diff-ignored' }, list(diff.ignored))));
}

// ---------------------------------------------------------------------------------------
// Webhooks

function webhookState(w) {
  if (w.active) return stateBadge('active');
  return stateBadge(w.disabled_reason || 'inactive');
}

export async function webhooks(ctx) {
  ctx.setTitle('Webhooks');
  const [data, o] = await Promise.all([
    ctx.get('/webhooks?limit=1000&include=deliveries_24h'), ctx.get('/overview')]);
  const all = arr(data);
  const wh = (o && o.webhooks) || {};
  const rows = all.map((w) => {
    const d24 = w.deliveries_24h || {};
    return h('tr', { 'data-test': 'webhook-row', 'data-id': w.id },
      h('td', { class: 'url' }, h('a', { href: `#/webhooks/${enc(w.id)}` }, label(w.url))),
      h('td', {}, String(w.format || 'json')),
      h('td', {}, arr(w.events).join(', ')),
      h('td', {}, contractLink(w.contract_id)),
      h('td', {}, webhookState(w)),
      h('td', {}, num(w.consecutive_failures)),
      h('td', { 'data-test': 'webhook-delivered-24h' }, num(d24.delivered)),
      h('td', { 'data-test': 'webhook-abandoned-24h' }, num(d24.abandoned)));
  });
  return root('webhooks', 'Webhooks',
    section('wh-24h', 'Deliveries in the last 24 h (all webhooks)',
      deliveryTotals((o && o.deliveries_24h) || {}),
      h('p', { class: 'hint' }, `${num(wh.failing)} failing, ${num(wh.paused)} paused, ${num(wh.gone)} gone, ${num(wh.active)} active.`)),
    table({
      caption: 'Webhooks, oldest first',
      columns: ['URL', 'Format', 'Events', 'Contract', 'Status', 'Consecutive failures',
        'Delivered (24 h)', 'Abandoned (24 h)'],
      rows,
      empty: 'No webhooks yet. Create one with POST /api/v1/webhooks.',
    }));
}

function filterText(f) {
  if (!f) return muted('none: every check that matches the events and contract');
  const parts = [];
  if (f.min_severity !== null && f.min_severity !== undefined) parts.push(`severity at least ${f.min_severity}`);
  if (Array.isArray(f.contract_names)) {
    parts.push(f.contract_names.length
      ? h('span', {}, 'contract name matching ', names(f.contract_names))
      : 'no contract name (matches nothing)');
  }
  if (!parts.length) return muted('none');
  const out = [];
  parts.forEach((p, i) => out.push(i ? '; ' : '', p));
  return h('span', {}, out);
}

function attemptResult(a) {
  const bits = [];
  if (a.status_code !== null && a.status_code !== undefined) bits.push(`HTTP ${a.status_code}`);
  if (a.error) bits.push(String(a.error));
  return bits.length ? bits.join(' — ') : '—';
}

function lastAttempt(d) {
  const attempts = arr(d.attempts);
  if (!attempts.length) return '';
  const a = attempts[attempts.length - 1];
  return ` (${attemptResult(a)}, ${num(a.duration_ms)} ms)`;
}

/** A box for a value the API shows only once (a key or a webhook secret). */
function onceBox(test, title, value, note) {
  return h('div', { class: 'once', tabindex: '-1', 'data-test': `${test}-box` },
    h('p', { class: 'once-title' }, h('strong', {}, title), ' — shown only once'),
    h('p', {}, 'Copy it now: it cannot be shown again.'),
    h('p', {}, h('code', { class: 'once-value', 'data-test': test }, String(value))),
    note ? h('p', { class: 'hint' }, note) : null);
}

export async function webhook(ctx) {
  const id = ctx.params.id;
  ctx.setTitle('Webhook');
  const path = `/webhooks/${enc(id)}`;
  const [w, deliveries] = await Promise.all([
    ctx.get(`${path}?include=deliveries_24h`), ctx.get(`${path}/deliveries`)]);
  const d24 = w.deliveries_24h || {};
  ctx.setTitle(`Webhook ${w.id}`);

  const pause = w.active
    ? button('pause', 'Pause', (e) => ctx.action(e.currentTarget, async () => {
      const r = await ctx.send('PATCH', path, { active: false });
      return `Webhook paused${r && r.disabled_reason ? ` (${r.disabled_reason})` : ''}.`;
    }))
    : button('resume', 'Resume', (e) => ctx.action(e.currentTarget, async () => {
      await ctx.send('PATCH', path, { active: true });
      return 'Webhook resumed.';
    }));
  const sendTest = button('send-test', 'Send test', (e) => ctx.action(e.currentTarget, async () => {
    const d = await ctx.send('POST', `${path}/test`);
    return `Test delivery ${d.id}: ${d.status}${lastAttempt(d)}.`;
  }));
  const rotate = button('rotate', 'Rotate secret', (e) => ctx.action(e.currentTarget, async () => {
    const r = await ctx.send('POST', `${path}/rotate-secret`, {});
    ctx.flash(onceBox('secret-once', 'New signing secret', r.secret, r.previous_secret_expires_at
      ? `The previous secret is still accepted until ${r.previous_secret_expires_at}.`
      : 'The previous secret is no longer accepted.'));
    return 'Secret rotated. The new secret is shown only once, above.';
  }));

  if (!kept.recoverSince) {
    kept.recoverSince = new Date(Date.now() - 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  const since = h('input', {
    id: 'recover-since', type: 'text', 'data-test': 'recover-since', autocomplete: 'off', spellcheck: 'false',
    value: kept.recoverSince, 'aria-describedby': 'recover-since-hint',
  });
  const recover = button('recover', 'Recover', (e) => ctx.action(e.currentTarget, async () => {
    const value = since.value.trim();
    if (!value) throw new Error('Give a time in RFC 3339, e.g. 2026-03-01T00:00:00Z.');
    const r = await ctx.send('POST', `${path}/recover`, { since: value });
    kept.recoverSince = value;
    return `${num(r.requeued)} requeued.`;
  }));

  const items = arr(deliveries).map((d) => {
    const attemptRows = arr(d.attempts).map((a) => h('tr', {},
      h('td', {}, num(a.number)), h('td', {}, time(a.at)), h('td', {}, attemptResult(a)), h('td', {}, `${num(a.duration_ms)} ms`)));
    const canRetry = (d.status === 'delivered' || d.status === 'abandoned') && !!d.check_id;
    return h('li', { class: 'delivery', 'data-test': 'delivery-row', 'data-id': d.id },
      h('h3', {}, code(d.id), ' ', stateBadge(d.status)),
      facts([
        ['Check', d.check_id ? checkLink(d.check_id) : muted('test delivery')],
        ['Created', time(d.created_at)],
        ['Next attempt', time(d.next_attempt_at, 'none')],
      ], 'facts inline'),
      table({
        caption: `Attempts of ${d.id}`,
        columns: ['Attempt', 'At', 'Status code or error', 'Duration'],
        rows: attemptRows,
        empty: 'No attempt yet.',
      }),
      canRetry
        ? h('div', { class: 'buttons' }, button('retry', ['Retry', h('span', { class: 'visually-hidden' }, ` delivery ${d.id}`)],
          (e) => ctx.action(e.currentTarget, async () => {
            const r = await ctx.send('POST', `${path}/deliveries/${enc(d.id)}/retry`);
            return `Delivery ${d.id} queued again (${r && r.status ? r.status : 'pending'}).`;
          })))
        : null);
  });

  return root('webhook', `Webhook ${w.id}`,
    facts([
      ['URL', h('span', { class: 'url' }, String(w.url))],
      ['Format', String(w.format || 'json')],
      ['Events', arr(w.events).join(', ')],
      ['Contract', contractLink(w.contract_id)],
      ['Filter', filterText(w.filter)],
      ['Status', webhookState(w)],
      ['Consecutive failures', num(w.consecutive_failures)],
      ['Last 24 h', h('span', { 'data-test': 'webhook-24h' },
        `${num(d24.delivered)} delivered, ${num(d24.abandoned)} abandoned, ${num(d24.pending)} pending`)],
      ['Created', time(w.created_at)],
    ]),
    section('wh-actions', 'Actions',
      h('div', { class: 'buttons' }, pause, sendTest, rotate),
      h('div', { class: 'inline-form' },
        field('recover-since', 'Recover abandoned deliveries created since', since,
          'An RFC 3339 time in UTC, e.g. 2026-03-01T00:00:00Z. Every abandoned delivery of this webhook created then or later is queued again.'),
        h('div', { class: 'buttons' }, recover))),
    section('wh-deliveries', 'Deliveries, newest first',
      items.length ? h('ol', { class: 'deliveries' }, items) : h('p', { class: 'muted' }, 'No deliveries yet.')));
}

// ---------------------------------------------------------------------------------------
// API keys

export async function keys(ctx) {
  ctx.setTitle('API keys');
  const data = await ctx.get('/keys?limit=1000');
  const mine = getKey().slice(0, 16);
  const rows = arr(data).map((k) => {
    const hidden = () => h('span', { class: 'visually-hidden' }, ` key ${k.key_preview}`);
    const act = (test, text, method, suffix, done) => button(test, [text, hidden()],
      (e) => ctx.action(e.currentTarget, async () => {
        await ctx.send(method, `/keys/${enc(k.id)}${suffix}`);
        return `Key ${k.key_preview}… ${done}.`;
      }));
    return h('tr', { 'data-test': 'key-row', 'data-id': k.id },
      h('td', {}, code(`${k.key_preview}…`), k.key_preview === mine ? muted(' (this session)') : null),
      h('td', {}, String(k.environment)),
      h('td', {}, stateBadge(k.is_active ? 'active' : 'revoked')),
      h('td', {}, time(k.created_at)),
      h('td', {}, time(k.last_used_at, 'never')),
      h('td', { class: 'actions' },
        k.is_active
          ? act('revoke', 'Revoke', 'POST', '/revoke', 'revoked')
          : [act('activate', 'Activate', 'POST', '/activate', 'activated'), ' ',
            act('delete', 'Delete', 'DELETE', '', 'deleted')]));
  });

  const env = h('select', {
    id: 'key-env', 'data-test': 'key-env', value: kept.keyEnv,
    onChange: () => { kept.keyEnv = env.value; },
  }, h('option', { value: 'test' }, 'test'), h('option', { value: 'live' }, 'live'));
  const create = button('create-key', 'Create key', (e) => ctx.action(e.currentTarget, async () => {
    kept.keyEnv = env.value;
    const r = await ctx.send('POST', '/keys', { environment: env.value });
    ctx.flash(onceBox('key-once', `New ${r.environment} API key`, r.key,
      'DriftGuard keeps only a hash of it. Revoke it here if it leaks.'));
    return `Created ${r.environment} key ${r.key_preview}…; it is shown only once, above.`;
  }), { class: 'primary' });

  return root('keys', 'API keys',
    section('keys-create', 'Create a key',
      h('div', { class: 'inline-form' }, field('key-env', 'Environment', env), h('div', { class: 'buttons' }, create))),
    table({
      caption: 'Keys of this account, oldest first (only a preview of each; revoke a key before deleting it)',
      columns: ['Key', 'Environment', 'Status', 'Created', 'Last used', 'Actions'],
      rows,
      empty: 'No keys.',
    }));
}
