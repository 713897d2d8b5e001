// Building the page. Every value goes in as a text node or an attribute value: this file
// has the only element factories, and neither parses markup. Event handlers are attached
// with addEventListener (the console's CSP allows no inline handler), and nothing here
// sets a style: looks come from classes in style.css.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// Properties rather than attributes, so that a control shows the value at once.
const PROPS = new Set(['value', 'checked', 'selected']);

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'style') throw new TypeError('no style attributes: use a class');
    if (/^on[A-Z]/.test(name)) {
      if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (PROPS.has(name)) {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function isAttrs(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Node);
}

/** An HTML element: h('a', {href: '#/keys', class: 'x'}, 'text', childNode, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (!isAttrs(attrs)) {
    children.unshift(attrs);
    attrs = null;
  }
  append(el, children);
  setAttrs(el, attrs); // after the children, so that a select's value finds its option
  return el;
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (!isAttrs(attrs)) {
    children.unshift(attrs);
    attrs = null;
  }
  append(el, children);
  setAttrs(el, attrs);
  return el;
}

/** A path segment for a URL (hash routes and API paths). */
export const enc = (value) => encodeURIComponent(String(value));

const RESULTS = new Set(['pass', 'warning', 'breaking', 'none']);
const STATES = new Set([
  'active', 'paused', 'failing', 'gone', 'inactive', 'revoked',
  'pending', 'delivered', 'abandoned', 'compatible', 'incompatible',
]);

/** A verdict as text and colour: "● breaking" (the dot is decoration). */
export function badge(result) {
  const r = result === null || result === undefined ? 'none' : String(result);
  const kind = RESULTS.has(r) ? r : 'other';
  return h('span', { class: `badge badge-${kind}` }, h('span', { 'aria-hidden': 'true' }, '● '), r);
}

/** A state (webhook, key, delivery) as text and colour. */
export function stateBadge(state) {
  const st = String(state);
  const kind = STATES.has(st) ? st : 'other';
  return h('span', { class: `badge state-${kind}` }, h('span', { 'aria-hidden': 'true' }, '● '), st);
}

/** A timestamp as the API gives it (RFC 3339, UTC), or a dash. */
export function time(ts, empty = '—') {
  if (ts === null || ts === undefined || ts === '') return h('span', { class: 'muted' }, empty);
  return h('time', { datetime: String(ts) }, String(ts));
}

/** A number (or a dash for a missing one). */
export function num(value) {
  return value === null || value === undefined ? '—' : String(value);
}

/** Names as a comma-separated run of <code>, or a muted "none". */
export function names(list, empty = 'none') {
  if (!Array.isArray(list) || list.length === 0) return h('span', { class: 'muted' }, empty);
  const out = [];
  list.forEach((n, i) => {
    if (i) out.push(', ');
    out.push(h('code', {}, String(n)));
  });
  return h('span', {}, out);
}

/** A description list of [label, value] pairs, each pair grouped in a div. */
export function facts(pairs, cls = 'facts') {
  return h('dl', { class: cls },
    pairs.filter(Boolean).map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', {}, value))));
}

/**
 * A table with column headers. `rows` are <tr> elements; with none, one row says `empty`.
 */
export function table({ caption, columns, rows, empty, cls }) {
  return h('table', { class: cls || 'data' },
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {},
      rows.length ? rows : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty || 'Nothing yet.'))));
}

/** A section with an h2 (ids are unique within a view). */
export function section(id, title, ...children) {
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A visible label for a name that might be blank, so that a link always has text. */
export function label(name) {
  const text = name === null || name === undefined ? '' : String(name);
  return text.trim() ? text : `(blank name ${JSON.stringify(text)})`;
}
