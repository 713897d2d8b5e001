// Checks per day as a stacked bar chart, drawn as SVG elements (no library, no markup
// strings). Colours come from classes in style.css; the same numbers are in a table that
// is visually hidden but read by screen readers, and in a one-line summary, so the chart
// is readable without colour.

import { h, s } from './dom.js';

const RESULTS = ['pass', 'warning', 'breaking']; // bottom to top

const W = 720;
const H = 240;
const LEFT = 44;
const RIGHT = 8;
const TOP = 14;
const BOTTOM = 34;

function count(day, result) {
  const n = Number(day && day[result]);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The smallest of 1, 2, 5 × 10^k at least `max` (1 when there is nothing). */
function niceMax(max) {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const f of [1, 2, 5, 10]) if (f * power >= max) return f * power;
  return max;
}

function shortDate(date) {
  const m = /^\d{4}-(\d{2})-(\d{2})$/.exec(String(date));
  return m ? `${m[1]}-${m[2]}` : String(date);
}

/**
 * A figure with the chart, its legend and summary, and the data as a table.
 * `days`: [{date, pass, warning, breaking}], oldest first.
 */
export function checksChart(days) {
  const list = Array.isArray(days) ? days : [];
  const sums = { pass: 0, warning: 0, breaking: 0 };
  let max = 0;
  for (const day of list) {
    let total = 0;
    for (const r of RESULTS) {
      sums[r] += count(day, r);
      total += count(day, r);
    }
    max = Math.max(max, total);
  }
  const all = sums.pass + sums.warning + sums.breaking;
  const span = list.length ? `${list.length} days` : 'no days';
  const summary = `${all} checks in the last ${span}: ${sums.pass} pass, ${sums.warning} warning, ${sums.breaking} breaking.`
    + (list.length ? ` From ${list[0].date} to ${list[list.length - 1].date}; the busiest day had ${max}.` : '');

  const top = niceMax(max);
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const slot = list.length ? plotW / list.length : plotW;
  const barW = Math.max(2, slot * 0.7);
  const y = (v) => TOP + plotH - (v / top) * plotH;

  const grid = [0, top / 2, top].map((v) => s('g', { class: 'tick' },
    s('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: v === 0 ? 'axis-line' : 'grid-line' }),
    Number.isInteger(v)
      ? s('text', { x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis-label' }, String(v))
      : null));

  const bars = list.map((day, i) => {
    const x = LEFT + i * slot + (slot - barW) / 2;
    let base = 0;
    const segments = [];
    for (const r of RESULTS) {
      const n = count(day, r);
      if (!n) continue;
      const y0 = y(base);
      const y1 = y(base + n);
      segments.push(s('rect', {
        x: x.toFixed(2), y: y1.toFixed(2), width: barW.toFixed(2),
        height: Math.max(0.5, y0 - y1).toFixed(2), class: `seg seg-${r}`,
      }, s('title', {}, `${day.date}: ${n} ${r}`)));
      base += n;
    }
    return s('g', { class: 'day' }, segments);
  });

  const labelAt = list.length > 2 ? [0, Math.floor((list.length - 1) / 2), list.length - 1] : list.map((_, i) => i);
  const xLabels = labelAt.map((i) => s('text', {
    x: (LEFT + i * slot + slot / 2).toFixed(2), y: H - BOTTOM + 18, 'text-anchor': 'middle', class: 'axis-label',
  }, shortDate(list[i].date)));

  const chart = s('svg', {
    viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc',
    'aria-label': `Checks per day by result. ${summary}`, class: 'chart-svg', 'data-test': 'chart',
    preserveAspectRatio: 'xMidYMid meet', focusable: 'false',
  },
  s('title', { id: 'chart-title' }, 'Checks per day for the last 30 days, stacked by result'),
  s('desc', { id: 'chart-desc' }, summary),
  grid, bars, xLabels,
  all === 0 ? s('text', { x: LEFT + plotW / 2, y: TOP + plotH / 2, 'text-anchor': 'middle', class: 'empty-label' },
    'No checks in these days') : null);

  const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' },
    RESULTS.map((r) => h('li', {}, h('span', { class: `swatch swatch-${r}`, 'aria-hidden': 'true' }), r)));

  const data = h('table', { class: 'visually-hidden' },
    h('caption', {}, 'Checks per day by result'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Date'),
      RESULTS.map((r) => h('th', { scope: 'col' }, r)),
      h('th', { scope: 'col' }, 'total'))),
    h('tbody', {}, list.map((day) => h('tr', {},
      h('td', {}, String(day.date)),
      RESULTS.map((r) => h('td', {}, String(count(day, r)))),
      h('td', {}, String(RESULTS.reduce((t, r) => t + count(day, r), 0)))))));

  return h('figure', { class: 'chart' },
    chart,
    h('figcaption', {}, legend, h('p', { class: 'chart-summary' }, summary)),
    data);
}
