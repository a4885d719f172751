// Tiny DOM helpers. Text always goes in as textContent, so nothing user-typed becomes markup.
import { t } from './i18n.js';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let pendingBeforeMount = null;
let mounted = false;

/** Run fn in the same task as the next mount(), just before it (boot writes the nav labels and
 * the badge there, so the first screen is drawn once). null clears it. */
export function beforeNextMount(fn) { pendingBeforeMount = fn; }

/** True until the first view has mounted (data read at boot is only good for that one). */
export const isFirstMount = () => !mounted;

export function mount(...nodes) {
  const app = document.getElementById('app');
  const before = pendingBeforeMount;
  pendingBeforeMount = null;
  if (before) before();
  // replaceChildren() would turn a skipped (null) section into the text "null".
  app.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
  // On a screen change, move focus to the new content (screen readers announce it) and go to
  // the top. Not on the first screen after page load: the page is already at the top with
  // nothing focused, and focus() would force a style/layout pass before the first paint.
  if (mounted) {
    app.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  mounted = true;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.className = `toast show ${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = 'toast'; }, 3500);
}

/** A button whose action runs once at a time: a tap while it runs is ignored (on a slow phone
 * the first tap shows nothing for a moment, and a second one would save twice), and the
 * button says it is busy (aria-busy, dimmed by the stylesheet). */
export function button(label, onclick, cls = '') {
  const el = h('button', { type: 'button', class: `btn ${cls}` }, label);
  el.addEventListener('click', async (event) => {
    if (el.getAttribute('aria-busy') === 'true') return;
    el.setAttribute('aria-busy', 'true');
    try {
      await onclick(event);
    } finally {
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}
export const link = (href, label, cls = '') => h('a', { href, class: cls, 'data-link': '' }, label);

export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

export function select(name, options, value) {
  return h('select', { name },
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value) }, label)));
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(document.documentElement.lang);
}

export const typeLabel = (type) => t(`venue_type.${type}`);
export const section = (title, ...children) => h('section', { class: 'card' }, h('h2', {}, title), ...children);
export const empty = (text) => h('p', { class: 'muted' }, text);

export function photoThumb(url, alt) {
  return h('img', { class: 'thumb', src: url, alt, loading: 'lazy', width: 72, height: 72 });
}
