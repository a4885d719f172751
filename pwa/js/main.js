// Boot: language, service worker, session, router, the unsynced badge.
// The boot graph is only what the first screen needs (main → i18n, store → domain, ui, and the
// route's view; index.html preloads them all at once). api.js and sync.js load right after the
// first screen is up: nothing on it needs them, and they are the largest modules.
import { loadLocale, t } from './i18n.js';
import * as store from './store.js';
import { isInAppBrowser } from './domain.js';
import { h, toast, beforeNextMount } from './ui.js';

let sync = null; // the sync module once loaded (loadSync)
let syncLoading = null;
function loadSync() {
  if (!syncLoading) syncLoading = import('./sync.js').then((m) => { sync = m; return m; });
  return syncLoading;
}

const routes = [
  [/^\/login$/, () => import('./views/login.js'), 'login', true],
  [/^\/$/, () => import('./views/home.js'), 'home'],
  [/^\/venues$/, () => import('./views/venues.js'), 'search'],
  [/^\/venues\/([^/]+)$/, () => import('./views/venues.js'), 'venue'],
  [/^\/inspections\/new$/, () => import('./views/inspection.js'), 'start'],
  [/^\/inspections\/([^/]+)$/, () => import('./views/inspection.js'), 'inspection'],
  [/^\/inspections\/([^/]+)\/notice$/, () => import('./views/notice.js'), 'notice'],
  [/^\/campaigns\/([^/]+)$/, () => import('./views/campaign.js'), 'campaign'],
  [/^\/sync$/, () => import('./views/sync-screen.js'), 'sync'],
];

export const session = { user: null, expired: false };

// The language choice is a display preference (not a secret), kept where boot can read it
// without waiting for IndexedDB.
export function preferredLanguage() {
  try { return localStorage.getItem('firesweep-lang') || 'zh-CN'; } catch { return 'zh-CN'; }
}
export function setPreferredLanguage(code) {
  try { localStorage.setItem('firesweep-lang', code); } catch { /* private mode: default stays */ }
}

export function navigate(path, replace = false) {
  if (replace) history.replaceState({}, '', path); else history.pushState({}, '', path);
  return render();
}

export async function render() {
  const path = location.pathname;
  for (const [re, load, name, open] of routes) {
    const m = path.match(re);
    if (!m) continue;
    if (!open && !session.user) return navigate('/login', true);
    const view = await load();
    await view[name](...m.slice(1), new URLSearchParams(location.search));
    document.body.dataset.view = name;
    return;
  }
  return navigate('/', true);
}

export async function setUser(user) {
  session.user = user;
  session.expired = false;
  await store.setMeta('user', user);
  (await loadSync()).setUser(user);
  showSessionBanner();
}

function showSessionBanner() {
  const el = document.getElementById('session-banner');
  el.hidden = !(session.user && session.expired);
  el.replaceChildren(t('session.expired'), ' ', h('a', { href: '/login', 'data-link': '' }, t('session.login_again')));
}

async function updateBadge() {
  paintBadge(await store.count('outbox'));
}

function paintBadge(n) {
  const badge = document.getElementById('badge');
  badge.textContent = n ? t('badge.unsynced', { n }) : t('badge.synced');
  badge.classList.toggle('pending', n > 0);
  badge.dataset.count = n;
  if (!sync) return; // not loaded yet: nothing is running; it repaints the badge once loaded
  const s = sync.status();
  badge.classList.toggle('running', s.running);
  if (s.needsLogin && session.user && !session.expired) { session.expired = true; showSessionBanner(); }
}

function paintChrome(outboxCount) {
  document.title = t('app.name');
  document.getElementById('nav-home').textContent = t('nav.home');
  document.getElementById('nav-venues').textContent = t('nav.venues');
  document.getElementById('nav-sync').textContent = t('nav.sync');
  paintBadge(outboxCount);
  inAppPrompt();
}

function wireLinks() {
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-link]');
    if (!a || e.metaKey || e.ctrlKey || a.target) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  window.addEventListener('popstate', render);
}

function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading || !window.__fsConsented) return;
    reloading = true;
    location.reload();
  });
  navigator.serviceWorker.register('/service-worker.js').then((reg) => {
    const offer = (worker) => {
      const bar = document.getElementById('update-banner');
      bar.replaceChildren(h('span', {}, t('update.available')), h('button', {
        type: 'button', class: 'btn small', id: 'update-reload',
        onclick: () => { window.__fsConsented = true; worker.postMessage({ type: 'skipWaiting' }); },
      }, t('update.reload')));
      bar.hidden = false;
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      w.addEventListener('statechange', () => {
        if (w.state === 'installed' && navigator.serviceWorker.controller) offer(w);
      });
    });
    window.__fsRegistration = reg;
  }).catch((err) => console.warn('service worker', err));
}

function inAppPrompt() {
  if (!isInAppBrowser(navigator.userAgent, 'serviceWorker' in navigator)) return;
  const bar = document.getElementById('inapp-banner');
  bar.replaceChildren(h('strong', {}, t('inapp.title')), h('p', {}, t('inapp.body')));
  bar.hidden = false;
}

/** The cached user, at once: boot never waits for the network (lie-fi on site is common). */
async function restoreSession() {
  session.user = await store.getMeta('user');
}

/** Then, in the background, ask the server whether the session still holds. Sync gets a
 * user only after that (or offline, the cached one), so a stale session never pushes. */
async function checkSession() {
  const sync = await loadSync();
  // body[data-session] says the check has settled (offline / ok / expired / no-answer); it runs
  // after the first screen, so a script that wants its outcome waits for this, not for ready.
  const settled = (outcome) => { document.body.dataset.session = outcome; };
  if (!navigator.onLine) { if (session.user) sync.setUser(session.user); settled('offline'); return; }
  const { api, ApiError } = await import('./api.js');
  try {
    const me = await api.me();
    if (me.user) await setUser(me.user);
    settled('ok');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      // Keep working offline with the cached user; sync waits for a fresh login.
      session.expired = !!session.user;
      sync.setUser(null);
      showSessionBanner();
      settled('expired');
    } else {
      if (session.user) sync.setUser(session.user); // no answer (lie-fi): try later; a 401 then pauses the queue
      settled('no-answer');
    }
  }
}

/** Start loading the current route's view module now, so it arrives while the locale and
 * IndexedDB are still opening (render() then finds it already evaluated), and let the view
 * start its own reads (prefetch) alongside the session and badge reads. */
function preloadView() {
  for (const [re, load] of routes) {
    if (re.test(location.pathname)) {
      load().then((view) => { if (view.prefetch) view.prefetch(); }).catch(() => {}); // home: its reads start now too
      return;
    }
  }
}

async function boot() {
  const opening = store.open(); // IndexedDB opens while the locale loads (both started in index.html)
  preloadView();
  const [, , outboxCount] = await Promise.all([
    loadLocale(preferredLanguage()), opening.then(restoreSession), opening.then(() => store.count('outbox'))]);
  wireLinks();
  window.addEventListener('firesweep:saved', () => { updateBadge(); loadSync().then((s) => s.soon()); });
  // Nav labels, badge and the first view go into the DOM in one task (one style/layout pass,
  // no half-drawn frame in between): the view's mount() runs paintChrome first.
  let painted = false;
  beforeNextMount(() => { painted = true; paintChrome(outboxCount); });
  try {
    await render();
  } finally {
    beforeNextMount(null);
    if (!painted) paintChrome(outboxCount); // the view did not mount (it threw)
  }
  document.body.dataset.ready = '1';
  performance.mark('firesweep-ready'); // "interactive": bench/bench_pwa.py reads it (docs/pwa.md)
  // The rest waits until the first screen has been painted: run now, it would delay that frame.
  afterFirstPaint(() => {
    headLinks();
    registerWorker();
    loadSync().then((s) => {
      s.onChange(updateBadge);
      updateBadge();
      return checkSession();
    }).then(() => {
      sync.start();
      if (session.user && !session.expired && navigator.onLine) sync.refreshReference().catch(() => {});
    }).catch((err) => console.error(err));
  });
}

/** The manifest (install, standalone launch), the favicon and the touch icon. Linked only after
 * the first screen: in the shell's <head> they cost a manifest fetch + parse and a favicon
 * fetch + decode on the main thread during boot (index.html has a data: placeholder icon so
 * the browser does not fall back to /favicon.ico). */
const HEAD_LINKS = [
  ['manifest', '/manifest.webmanifest'],
  ['apple-touch-icon', '/icons/icon-192.png'],
];

function headLinks() {
  const icon = document.getElementById('icon');
  if (icon) { icon.type = 'image/png'; icon.href = '/icons/icon-192.png'; }
  for (const [rel, href] of HEAD_LINKS) {
    if (!document.head.querySelector(`link[rel="${rel}"]`)) document.head.append(h('link', { rel, href }));
  }
}

function afterFirstPaint(fn) {
  let done = false;
  const run = () => { if (!done) { done = true; fn(); } };
  requestAnimationFrame(() => setTimeout(run, 0)); // the task after the next frame
  setTimeout(run, 500); // a hidden tab gets no animation frames
}

boot().catch((err) => { console.error(err); toast(String(err), 'error'); });

export { toast };
