// The only module that touches IndexedDB: memoised open, versioned upgrades, a transaction helper.
import { ENTITY_STORES, canCoalesce, coalesce } from './domain.js';

const DB_NAME = 'firesweep';
const DB_VERSION = 1;

// One function per schema version; an upgrade runs every step above the old version.
const UPGRADES = [
  null,
  (db) => {
    db.createObjectStore('meta', { keyPath: 'key' });
    const outbox = db.createObjectStore('outbox', { keyPath: 'mutation_id' });
    outbox.createIndex('device_seq', 'device_seq', { unique: true });
    outbox.createIndex('entity_id', 'entity_id');
    outbox.createIndex('user_id', 'user_id');
    db.createObjectStore('blobs', { keyPath: 'hash' });
    db.createObjectStore('attention', { keyPath: 'mutation_id' });
    db.createObjectStore('conflicts', { keyPath: 'mutation_id' });
    db.createObjectStore('users', { keyPath: 'id' });
    const indexes = {
      tasks: ['venue_id'], inspections: ['venue_id'], hazards: ['venue_id', 'inspection_id'],
      documents: ['venue_id', 'inspection_id'], followups: ['venue_id'],
      campaign_doors: ['campaign_id'], item_results: ['inspection_id'], service_records: ['document_id'],
    };
    for (const name of Object.values(ENTITY_STORES)) {
      const s = db.createObjectStore(name, { keyPath: 'id' });
      for (const field of indexes[name] || []) s.createIndex(field, field);
    }
  },
];

let opening = null;

export function open() {
  if (!opening) {
    const early = globalThis.__fsDb; // opened by index.html's head script, if the schema already exists
    globalThis.__fsDb = null;
    opening = (early || Promise.resolve(null)).then((db) => {
      if (db && db.version === DB_VERSION) {
        db.onversionchange = () => { db.close(); opening = null; };
        return db;
      }
      if (db) db.close();
      return openFresh();
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

function openFresh() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, DB_VERSION);
    r.onupgradeneeded = (e) => {
      for (let v = e.oldVersion + 1; v <= DB_VERSION; v++) UPGRADES[v](r.result);
    };
    r.onsuccess = () => {
      const db = r.result;
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    r.onerror = () => { opening = null; reject(r.error); };
    r.onblocked = () => console.warn('IndexedDB upgrade blocked by another tab');
  });
}

export const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

/** Run fn(tx) in one transaction; resolves with fn's result once the transaction commits. */
export async function tx(stores, mode, fn, options) {
  const db = await open();
  const t = db.transaction(stores, mode, options);
  const done = new Promise((resolve, reject) => {
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new DOMException('aborted', 'AbortError'));
  });
  let result;
  try {
    result = await fn(t);
  } catch (err) {
    try { t.abort(); } catch { /* already finished */ }
    throw err;
  }
  await done;
  return result;
}

export const get = (store, key) => tx([store], 'readonly', (t) => req(t.objectStore(store).get(key)));
export const all = (store) => tx([store], 'readonly', (t) => req(t.objectStore(store).getAll()));
export const byIndex = (store, index, value) =>
  tx([store], 'readonly', (t) => req(t.objectStore(store).index(index).getAll(value)));
/** Several rows by key in one transaction, in the order asked (undefined where absent). */
export const getMany = (store, keys) =>
  tx([store], 'readonly', (t) => Promise.all(keys.map((k) => req(t.objectStore(store).get(k)))));
export const count = (store) => tx([store], 'readonly', (t) => req(t.objectStore(store).count()));
export const put = (store, value) => tx([store], 'readwrite', (t) => req(t.objectStore(store).put(value)));
export const del = (store, key) => tx([store], 'readwrite', (t) => req(t.objectStore(store).delete(key)));

export async function getMeta(key, fallback = null) {
  const row = await get('meta', key);
  return row ? row.value : fallback;
}
export const setMeta = (key, value) => put('meta', { key, value });
/** Read-modify-write of one meta key in one readwrite transaction: fn(current ?? fallback) → new. */
export const updateMeta = (key, fallback, fn) => tx(['meta'], 'readwrite', async (t) => {
  const meta = t.objectStore('meta');
  const row = await req(meta.get(key));
  const value = fn(row ? row.value : fallback);
  meta.put({ key, value });
  return value;
});

export async function deviceId() {
  let id = await getMeta('device_id');
  if (!id) {
    id = crypto.randomUUID();
    await setMeta('device_id', id);
  }
  return id;
}

/**
 * The local commit (DESIGN §6): records, their outbox mutations and photo blobs in ONE
 * readwrite transaction with strict durability. What this resolves is what the user sees as saved.
 * changes: [{entity, id, op, record, fields, base_version, blob_hashes}]; blobs: [{hash, blob, type}]
 * extraMeta: {key: value} written in the same transaction; a function value is an updater, called
 * with the key's current value inside the transaction (e.g. marking a leased number used), so a
 * concurrent read-modify-write of the same key (a sync pass adding number blocks) is never lost.
 */
export function commit({ userId, changes, blobs = [], extraMeta = {} }) {
  const stores = ['meta', 'outbox', 'blobs', ...new Set(changes.map((c) => ENTITY_STORES[c.entity]))];
  return tx(stores, 'readwrite', async (t) => {
    const meta = t.objectStore('meta');
    const outbox = t.objectStore('outbox');
    let seq = ((await req(meta.get('device_seq'))) || { value: 0 }).value;
    const now = new Date().toISOString();
    const mutations = [];
    for (const blob of blobs) {
      const have = await req(t.objectStore('blobs').get(blob.hash));
      if (!have) t.objectStore('blobs').put({ ...blob, uploaded: false, created_at: now });
    }
    for (const c of changes) {
      if (c.record) t.objectStore(ENTITY_STORES[c.entity]).put({ ...c.record, _dirty: true });
      const queued = await req(outbox.index('entity_id').getAll(c.id));
      const last = queued.filter((m) => m.user_id === userId).sort((a, b) => b.device_seq - a.device_seq)[0];
      if (canCoalesce(last, c.entity, c.id, c.op)) {
        const m = coalesce(last, c.fields, c.blob_hashes);
        outbox.put(m);
        mutations.push(m);
        continue;
      }
      seq += 1;
      const m = {
        mutation_id: crypto.randomUUID(), device_seq: seq, user_id: userId,
        entity: c.entity, entity_id: c.id, op: c.op, base_version: c.base_version ?? null,
        fields: c.fields, blob_hashes: c.blob_hashes || [], client_observed_at: now,
        queued_at: now, attempts: 0,
      };
      outbox.put(m);
      mutations.push(m);
    }
    meta.put({ key: 'device_seq', value: seq });
    for (const [key, value] of Object.entries(extraMeta)) {
      const next = typeof value === 'function' ? value(((await req(meta.get(key))) || {}).value) : value;
      meta.put({ key, value: next });
    }
    return mutations;
  }, { durability: 'strict' });
}

/** Flag photos the server now holds, in one transaction (they are kept for offline viewing). */
export function markUploaded(hashes) {
  return tx(['blobs'], 'readwrite', async (t) => {
    const os = t.objectStore('blobs');
    const rows = await Promise.all(hashes.map((h) => req(os.get(h))));
    for (const row of rows) if (row && !row.uploaded) os.put({ ...row, uploaded: true });
  });
}

export { ENTITY_STORES };
