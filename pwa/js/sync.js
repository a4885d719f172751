// The outbox: push queued mutations (photos first), then pull the user's scope.
// Queue logic only — no DOM. Views listen with onChange().
import { api, ApiError } from './api.js';
import * as store from './store.js';
import {
  ENTITY_STORES, FINAL, LEASE_BLOCK, LEASE_LOW_WATER, NOTICE_KINDS, backoffDelay, issueYear, leaseYears,
  mergeServerRow, pendingFields, pushable, remainingNumbers, toWire,
} from './domain.js';

const BATCH = 50;
// Photos in flight at once: enough to overlap the phone's and the server's work and the round
// trips, few enough not to starve a 2-worker server or a weak mobile link.
const UPLOADS_AT_ONCE = 4;
const MISSING_MAX = 500; // hashes per POST /blobs/missing
const SOON_MS = 2000;
const EVERY_MS = 60000;

const state = { user: null, running: false, needsLogin: false, attempt: 0, lastError: null, lastSync: null };
const listeners = new Set();
let retryTimer = null;
let soonTimer = null;
let started = false;
let localRunning = null; // fallback single-flight when Web Locks are missing
let followUp = null; // the one pass queued behind a running one (syncNow)

export const status = () => ({ ...state });
export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function emit() { for (const fn of listeners) { try { fn(status()); } catch (e) { console.error(e); } } }

export function setUser(user) {
  state.user = user;
  state.needsLogin = !user;
  emit();
}

/** Ask for a sync shortly after a local save. */
export function soon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(() => syncNow('save'), SOON_MS);
  emit();
}

export function start() {
  if (started) return;
  started = true;
  window.addEventListener('online', () => syncNow('online'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncNow('visible');
  });
  setInterval(() => syncNow('timer'), EVERY_MS);
  store.getMeta('last_sync').then((v) => { state.lastSync = v; emit(); });
  syncNow('start');
}

/** One sync pass; only one tab at a time (Web Locks). Resolves when this pass ends. A call made
 *  while a pass runs (this tab's or another's) is not dropped: that pass may have pulled before
 *  what the call is for (a "sync now" after a change on the server), so one more pass follows it,
 *  shared by every call made meanwhile. */
export async function syncNow(reason = 'manual') {
  if (!state.user || !navigator.onLine) { emit(); return false; }
  if (navigator.locks) {
    const ran = await navigator.locks.request('firesweep-sync', { ifAvailable: true },
      async (lock) => (lock ? run(reason) : null));
    if (ran !== null) return ran;
    if (!followUp) {
      followUp = navigator.locks.request('firesweep-sync', () => {
        followUp = null; // a call from now on may need a pass after this one
        return state.user && navigator.onLine ? run(reason) : false;
      });
    }
    return followUp;
  }
  if (!localRunning) {
    localRunning = run(reason).finally(() => { localRunning = null; });
    return localRunning;
  }
  if (!followUp) {
    followUp = localRunning.then(() => { followUp = null; return syncNow(reason); });
  }
  return followUp;
}

async function run(reason) {
  state.running = true;
  emit();
  clearTimeout(retryTimer);
  try {
    const retries = await push();
    await pull();
    await topUpLeases();
    state.lastSync = new Date().toISOString();
    await store.setMeta('last_sync', state.lastSync);
    state.lastError = null;
    if (retries) scheduleRetry(); else state.attempt = 0;
    return true;
  } catch (err) {
    state.lastError = err instanceof ApiError ? err.reason : String(err);
    if (err instanceof ApiError && err.reason === 'user_changed') {
      syncNow('user_changed').catch(() => {}); // start over for the user now logged in
    } else if (err instanceof ApiError && err.status === 401) {
      // The queue is paused, never cleared: the same user logs in again and it flushes.
      state.needsLogin = true;
    } else {
      scheduleRetry();
    }
    if (!(err instanceof ApiError)) console.error('sync', reason, err);
    return false;
  } finally {
    state.running = false;
    emit();
  }
}

function scheduleRetry() {
  state.attempt += 1;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => syncNow('retry'), backoffDelay(state.attempt));
}

/**
 * Upload the photos a batch names that the server lacks: one question (POST /blobs/missing),
 * then up to UPLOADS_AT_ONCE PUTs in flight. Any failure fails the pass (backoff, retry), and
 * the batch is not pushed; photos that did get through are flagged so they are not re-sent.
 */
async function uploadBlobs(hashes, userId) {
  const rows = (await store.getMany('blobs', hashes)).filter((r) => r && !r.uploaded);
  if (!rows.length) return;
  const missing = new Set();
  for (let i = 0; i < rows.length; i += MISSING_MAX) {
    for (const h of await api.missingBlobs(rows.slice(i, i + MISSING_MAX).map((r) => r.hash))) missing.add(h);
  }
  const done = rows.filter((r) => !missing.has(r.hash)).map((r) => r.hash);
  try {
    await eachLimited(rows.filter((r) => missing.has(r.hash)), UPLOADS_AT_ONCE, async (r) => {
      // Never under another user's session (someone else may log in while photos go up).
      if (!state.user || state.user.id !== userId) throw new ApiError(401, { reason: 'user_changed' });
      await api.putBlob(r.hash, r.blob, r.type);
      done.push(r.hash);
    });
  } finally {
    if (done.length) await store.markUploaded(done);
  }
}

/**
 * fn over items with at most `limit` running at once. After the first failure no new item
 * starts; the ones in flight settle, then that first failure is thrown.
 */
async function eachLimited(items, limit, fn) {
  let next = 0;
  let failure = null;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try { await fn(item); } catch (err) { failure = failure || { err }; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
}

const hashesOf = (mutations) => [...new Set(mutations.flatMap((m) => m.blob_hashes || []))];

/** Push this user's queue in device order. Returns how many came back `retry`. */
async function push() {
  const deviceId = await store.deviceId();
  let retries = 0;
  let batchSize = BATCH;
  const userId = state.user.id;
  const queue = pushable(await store.all('outbox'), userId);
  // The next batch's photos go up while this batch is pushed (it resolves to its error, if any,
  // so a failure waits to be raised at the top of the next round instead of going unhandled).
  let ahead = null;
  try {
    for (let i = 0; i < queue.length;) {
      // Another user logged in meanwhile: never send this user's mutations under their session.
      if (!state.user || state.user.id !== userId) throw new ApiError(401, { reason: 'user_changed' });
      // Mark as attempted first, reading each mutation again in the same transaction: a save
      // made since `queue` was read (while earlier batches or photos went up) may have folded
      // new fields into it, and that is what must be sent. From here on a save makes a new
      // mutation instead: the server may already hold this one (the same mutation_id with a
      // different payload is `id_reuse`).
      const batch = await markAttempted(queue.slice(i, i + batchSize));
      if (ahead) {
        const failed = await ahead;
        ahead = null;
        if (failed) throw failed;
      }
      // Every photo the batch names is on the server before the batch is sent (a no-op for
      // those already sent ahead).
      await uploadBlobs(hashesOf(batch), userId);
      const next = queue.slice(i + batchSize, i + 2 * batchSize);
      if (next.length) ahead = uploadBlobs(hashesOf(next), userId).then(() => null, (err) => err);
      if (!batch.length) { i += batchSize; continue; }
      let answer;
      try {
        answer = await api.push({ device_id: deviceId, schema_version: 1, mutations: batch.map(toWire) });
      } catch (err) {
        if (err.status === 413 && batchSize > 1) { batchSize = Math.max(1, Math.floor(batchSize / 2)); continue; }
        throw err;
      }
      retries += await applyResults(batch, answer.results || []);
      i += batchSize;
    }
  } finally {
    if (ahead) await ahead; // no upload outlives this pass (nor the Web Lock it holds)
  }
  return retries;
}

/** The batch's mutations as stored now, each counted as attempted once more, in one
 * transaction (one gone meanwhile is left out). */
function markAttempted(batch) {
  return store.tx(['outbox'], 'readwrite', async (t) => {
    const outbox = t.objectStore('outbox');
    const marked = [];
    for (const m of batch) {
      const stored = await store.req(outbox.get(m.mutation_id));
      if (!stored) continue;
      const next = { ...stored, attempts: (stored.attempts || 0) + 1 };
      outbox.put(next);
      marked.push(next);
    }
    return marked;
  });
}

async function applyResults(batch, results) {
  const byId = new Map(batch.map((m) => [m.mutation_id, m]));
  let retries = 0;
  const stores = ['outbox', 'attention', 'conflicts', ...new Set(Object.values(ENTITY_STORES))];
  await store.tx(stores, 'readwrite', async (t) => {
    for (const r of results) {
      const m = byId.get(r.mutation_id);
      if (!m) continue;
      if (!FINAL.has(r.status)) { retries += 1; t.objectStore('outbox').put({ ...m, last_reason: r.reason || r.status }); continue; }
      t.objectStore('outbox').delete(m.mutation_id);
      const storeName = ENTITY_STORES[r.entity || m.entity];
      const os = t.objectStore(storeName);
      const local = await store.req(os.get(m.entity_id));
      const stillPending = (await store.req(t.objectStore('outbox').index('entity_id').getAll(m.entity_id)))
        .filter((x) => x.mutation_id !== m.mutation_id);
      if (r.status === 'rejected') {
        t.objectStore('attention').put({ ...m, reason: r.reason, message: r.message, at: new Date().toISOString() });
      }
      if (r.status === 'conflict') {
        t.objectStore('conflicts').put({ ...m, conflicts: r.conflicts || [], server: r.server || null, version: r.version, at: new Date().toISOString() });
      }
      if (local) {
        // On conflict the server's value shows until the user chooses; the phone's is kept in `conflicts`.
        const next = r.server ? mergeServerRow(local, r.server, pendingFields(stillPending)) : { ...local };
        if (r.version != null) next.version = r.version;
        next._dirty = stillPending.length > 0;
        if (r.status === 'rejected') next._rejected = r.reason || 'rejected';
        os.put(next);
      }
    }
  });
  return retries;
}

/** Pull rows of the user's scope changed since the stored cursor; loop while has_more. */
async function pull() {
  let cursor = await store.getMeta('cursor', 0);
  for (let pages = 0; pages < 1000; pages++) {
    const page = await api.pull(cursor);
    await applyPull(page);
    cursor = page.cursor;
    if (!page.has_more) break;
  }
}

/** Store one pull page (exported for tests: tests/e2e/test_left_scope.py). */
export async function applyPull(page) {
  const stores = ['meta', 'outbox', ...new Set(Object.values(ENTITY_STORES))];
  await store.tx(stores, 'readwrite', async (t) => {
    const outbox = t.objectStore('outbox').index('entity_id');
    for (const c of page.changes || []) {
      const name = ENTITY_STORES[c.entity];
      if (!name) continue;
      const os = t.objectStore(name);
      const pending = await store.req(outbox.getAll(c.id));
      if (c.deleted) { if (!pending.length) os.delete(c.id); continue; }
      const local = await store.req(os.get(c.id));
      const row = { ...c.data, id: c.id, version: c.version, server_seq: c.server_seq };
      os.put(pending.length ? { ...mergeServerRow(local, row, pendingFields(pending)), _dirty: true } : row);
    }
    for (const gone of page.left_scope || []) {
      const name = ENTITY_STORES[gone.entity];
      if (!name) continue;
      const pending = await store.req(outbox.getAll(gone.id));
      if (pending.length) continue;
      t.objectStore(name).delete(gone.id);
      if (gone.entity === 'venue') await dropVenueRecords(t, outbox, gone.id);
    }
    t.objectStore('meta').put({ key: 'cursor', value: page.cursor });
  });
}

// A venue's records by store, through the stores' indexes: [store, index, parent store or null].
const VENUE_RECORDS = [
  ['tasks', 'venue_id', null], ['inspections', 'venue_id', null], ['hazards', 'venue_id', null],
  ['documents', 'venue_id', null], ['followups', 'venue_id', null],
  ['item_results', 'inspection_id', 'inspections'], ['service_records', 'document_id', 'documents'],
];

/** A venue left the user's areas: its records go with it, except any with unsynced changes
 * (and the item results and service records of a record that stays). */
async function dropVenueRecords(t, outbox, venueId) {
  const dropped = {};
  for (const [name, index, parent] of VENUE_RECORDS) {
    const keys = parent ? dropped[parent] : [venueId];
    dropped[name] = [];
    for (const key of keys) {
      for (const id of await store.req(t.objectStore(name).index(index).getAllKeys(key))) {
        const pending = await store.req(outbox.getAll(id));
        if (pending.length) continue;
        t.objectStore(name).delete(id);
        dropped[name].push(id);
      }
    }
  }
}

/** Keep a block of this year's official numbers per notice kind (and in December of next
 * year's) so notices can be issued offline; give last year's blocks back once the server has
 * handed out this year's and no queued notice uses them. */
export function topUpLeases() {
  // One top-up at a time across this phone's tabs and passes (a pass and a "sync now", or the
  // `online` event, may overlap): two at once would both lease a block, or return the same one.
  return navigator.locks ? navigator.locks.request('firesweep-leases', topUpLeasesNow) : topUpLeasesNow();
}

async function topUpLeasesNow() {
  const deviceId = await store.deviceId();
  const leases = await store.getMeta('leases', []);
  const fresh = [];
  for (const kind of NOTICE_KINDS) {
    for (const year of leaseYears()) {
      if (remainingNumbers(leases, kind, year) >= LEASE_LOW_WATER) continue;
      try {
        const l = await api.lease(kind, LEASE_BLOCK, deviceId, year);
        const block = { ...l, used: [], user_id: state.user.id };
        leases.push(block);
        fresh.push(block);
      } catch (err) {
        if (err.status === 401) throw err;
        if (err.status === 403 || err.status === 404) break; // this role may not issue / not deployed
        // The phone's clock and the server's disagree about the year (or December): the server
        // leases what it can on a later pass. The device holding the most the server allows is
        // no reason to fail the pass either.
        if (err.reason === 'number_lease_year' || err.reason === 'number_lease_limit') continue;
        throw err;
      }
    }
  }
  if (fresh.length) {
    // Added to what is stored now, in one transaction: a notice issued during the requests has
    // marked its number used in the stored list meanwhile.
    await store.updateMeta('leases', [], (now) => [...now, ...fresh.filter((l) => !now.some((x) => x.id === l.id))]);
  }
  await returnPastLeases(issueYear());
}

// Stored with the voided numbers in the register, which is kept in Chinese like the documents.
const YEAR_END_REASON = '跨年未使用，号段退回作废';

/** After New Year this user's blocks of an earlier year can no longer number a notice: once
 * the phone also holds a block of the same kind for a later year (leased by the server, so the
 * server numbers that year too), return each one that no queued notice still uses, so the
 * server voids its unused numbers (never a silent gap in last year's register), and forget it.
 * A block whose return fails for the network stays for the next pass; one the server no longer
 * has open is forgotten. */
async function returnPastLeases(year) {
  const leases = await store.getMeta('leases', []);
  const past = leases.filter((l) => l.year < year && l.user_id === state.user.id
    && leases.some((x) => x.kind === l.kind && x.year > l.year));
  if (!past.length) return;
  const queued = new Set((await store.all('outbox'))
    .filter((m) => m.entity === 'document' && m.op === 'issue').map((m) => (m.fields || {}).lease_id));
  const gone = new Set();
  for (const l of past.filter((x) => !queued.has(x.id))) {
    try {
      await api.returnLease(l.id, YEAR_END_REASON);
      gone.add(l.id);
    } catch (err) {
      if (err.status === 401) throw err;
      if (err.status === 404 || err.reason === 'number_lease_closed') gone.add(l.id);
      else if (err.status === 0) break;
    }
  }
  if (gone.size) await store.updateMeta('leases', [], (now) => now.filter((l) => !gone.has(l.id)));
}

/** Refresh reference data the phone needs offline: checklists, calendar, colleagues. */
export async function refreshReference() {
  const year = new Date().getFullYear();
  const tasks = [
    api.checklists().then((d) => store.setMeta('checklists', d)),
    Promise.all([api.calendar(year), api.calendar(year + 1).catch(() => null)])
      .then((d) => store.setMeta('calendar', d)),
    api.colleagues().then((d) => store.tx(['users'], 'readwrite', async (t) => {
      for (const u of (d.items || d.data || d || [])) t.objectStore('users').put(u);
    })),
  ];
  const results = await Promise.allSettled(tasks);
  return results.every((r) => r.status === 'fulfilled');
}

/** The whole outbox, for the badge and the sync screen. */
export async function summary() {
  const outbox = await store.all('outbox');
  const mine = state.user ? outbox.filter((m) => m.user_id === state.user.id) : [];
  return {
    outbox, mine, others: outbox.length - mine.length,
    attention: await store.all('attention'), conflicts: await store.all('conflicts'),
  };
}

