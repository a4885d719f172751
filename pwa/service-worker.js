/* Firesweep service worker: the app shell cache only. Data lives in IndexedDB; /api/ is never
   cached here. A new version waits until the user taps "reload" (postMessage skipWaiting). */
const VERSION = '2026.11.29';
const CACHE_PREFIX = 'firesweep-shell-';
const CACHE = CACHE_PREFIX + VERSION;

const PRECACHE = [
  '/',
  '/manifest.webmanifest',
  '/js/main.js',
  '/js/api.js',
  '/js/data.js',
  '/js/domain.js',
  '/js/i18n.js',
  '/js/photos.js',
  '/js/signature.js',
  '/js/store.js',
  '/js/sync.js',
  '/js/ui.js',
  '/js/views/campaign.js',
  '/js/views/home.js',
  '/js/views/inspection.js',
  '/js/views/login.js',
  '/js/views/notice.js',
  '/js/views/sync-screen.js',
  '/js/views/venues.js',
  '/locales/zh-CN.json',
  '/locales/en.json',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon-maskable-512.png',
];

// Paths the single-page app owns; a navigation to one of them gets the cached shell.
const APP_ROUTES = /^\/(?:$|login$|sync$|venues(?:\/[^/]+)?$|inspections\/[^/]+(?:\/notice)?$|campaigns\/[^/]+$)/;

// Static routes (Chromium 123+): the browser answers the shell's files straight from this
// version's cache, without starting the worker or running its fetch handler — the start-up
// cost of an offline cold start. Anything the cache misses goes to the network, exactly as
// the fetch handler below would; other navigations (deep links) still go through it.
const STATIC_ROUTES = [
  { condition: { requestMode: 'navigate', urlPattern: { pathname: '/', search: '' } }, source: { cacheName: CACHE } },
  ...['/js/*', '/locales/*', '/icons/*', '/manifest.webmanifest'].map((pathname) =>
    ({ condition: { requestMethod: 'GET', urlPattern: { pathname, search: '' } }, source: { cacheName: CACHE } })),
];

self.addEventListener('install', (event) => {
  // addAll rejects if any file is missing, so a broken release never installs.
  event.waitUntil(caches.open(CACHE).then((cache) =>
    cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })))));
  if (event.addRoutes) {
    event.waitUntil(event.addRoutes(STATIC_ROUTES).catch((err) => console.warn('static routes', err)));
  }
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith(CACHE_PREFIX) && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skipWaiting') self.skipWaiting();
  if (event.data && event.data.type === 'version' && event.ports[0]) event.ports[0].postMessage(VERSION);
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return; // network only
  if (req.mode === 'navigate') {
    if (!APP_ROUTES.test(url.pathname)) return;
    event.respondWith(caches.open(CACHE).then((c) => c.match('/')).then((hit) => hit || fetch(req)));
    return;
  }
  event.respondWith(caches.open(CACHE).then((c) => c.match(url.pathname)).then((hit) => hit || fetch(req)));
});
