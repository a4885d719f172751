// Pure domain helpers: no DOM, no storage, no network. Tested alone (tests/e2e/test_domain_helpers.py).

export const ENTITY_STORES = {
  venue: 'venues', task: 'tasks', campaign: 'campaigns', campaign_door: 'campaign_doors',
  inspection: 'inspections', item_result: 'item_results', hazard: 'hazards',
  document: 'documents', service_record: 'service_records', followup: 'followups',
};

export const NOTICE_KINDS = ['immediate_rectification', 'deadline_rectification'];
export const LEASE_LOW_WATER = 3;
export const LEASE_BLOCK = 10;

// ---- dates and the working-day rule --------------------------------------------------

export function isoDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function parseDate(s) {
  const [y, m, d] = s.slice(0, 10).split('-').map(Number);
  return new Date(y, m - 1, d, 12); // noon: immune to DST edges
}

/** Normalise the /reference/calendar answers into {holidays:Set, workdays:Set, known:Map}:
 * `known` maps each year the phone asked about to whether its days off are known (the State
 * Council schedule or an admin's days) rather than guessed as weekends only. */
export function normaliseCalendar(...payloads) {
  const holidays = new Set();
  const workdays = new Set();
  const known = new Map();
  for (const p of payloads) {
    if (!p) continue;
    if (p.year != null) known.set(Number(p.year), p.source ? p.source !== 'weekends_only' : p.official !== false);
    for (const d of p.holidays || []) holidays.add(typeof d === 'string' ? d : d.date || d.day);
    for (const d of p.workdays || p.makeup_workdays || []) workdays.add(typeof d === 'string' ? d : d.date || d.day);
    for (const d of p.days || []) {
      const key = d.date || d.day;
      if (d.is_workday) workdays.add(key); else holidays.add(key);
    }
  }
  return { holidays, workdays, known };
}

/** The years from ISO day `from` to ISO day `to` whose days off the phone does not know: the
 * server counts weekends only there, or the phone never fetched the year. A deadline across
 * them may fall on a public holiday or miss a make-up workday. */
export function guessedYears(from, to, cal) {
  const out = [];
  for (let y = Number(from.slice(0, 4)); y <= Number(to.slice(0, 4)); y += 1) {
    if (!(cal && cal.known && cal.known.get(y))) out.push(y);
  }
  return out;
}

export function isWorkingDay(date, cal) {
  const key = typeof date === 'string' ? date : isoDate(date);
  if (cal && cal.workdays.has(key)) return true;
  if (cal && cal.holidays.has(key)) return false;
  const dow = (typeof date === 'string' ? parseDate(date) : date).getDay();
  return dow !== 0 && dow !== 6;
}

/** Deadline = the Nth working day after `from` (the day itself not counted). */
export function addWorkingDays(from, n, cal) {
  const d = parseDate(from);
  let left = n;
  while (left > 0) {
    d.setDate(d.getDate() + 1);
    if (isWorkingDay(d, cal)) left -= 1;
  }
  return isoDate(d);
}

// ---- outbox ---------------------------------------------------------------------------

/** Mutations this user may send now, in device order. Another user's stay queued. */
export function pushable(outbox, userId) {
  return outbox.filter((m) => m.user_id === userId).sort((a, b) => a.device_seq - b.device_seq);
}

export function toWire(m) {
  return {
    mutation_id: m.mutation_id, device_seq: m.device_seq, entity: m.entity,
    entity_id: m.entity_id, op: m.op, base_version: m.base_version ?? null,
    fields: m.fields, blob_hashes: m.blob_hashes || [], client_observed_at: m.client_observed_at,
  };
}

export function chunk(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export const FINAL = new Set(['applied', 'duplicate', 'conflict', 'rejected']);

/** Whether a later save may fold its fields into this queued mutation instead of a new one. */
export function canCoalesce(m, entity, entityId, op) {
  return m && !m.attempts && m.entity === entity && m.entity_id === entityId &&
    (m.op === 'create' || m.op === 'update') && (op === 'update' || op === m.op);
}

export function coalesce(m, fields, blobHashes) {
  return {
    ...m,
    fields: { ...m.fields, ...fields },
    blob_hashes: [...new Set([...(m.blob_hashes || []), ...(blobHashes || [])])],
  };
}

export function countByEntity(outbox) {
  const out = {};
  for (const m of outbox) out[m.entity] = (out[m.entity] || 0) + 1;
  return out;
}

/** Exponential backoff with full jitter, capped at a minute. */
export function backoffDelay(attempt, rand = Math.random()) {
  const cap = Math.min(60000, 1000 * 2 ** Math.min(attempt, 6));
  return Math.round(cap / 2 + (cap / 2) * rand);
}

// ---- pulled rows and conflicts --------------------------------------------------------

/** Fields the phone changed and has not yet had accepted. */
export function pendingFields(mutations) {
  const out = new Set();
  for (const m of mutations) for (const k of Object.keys(m.fields || {})) out.add(k);
  return out;
}

/** Apply a server row to the local copy, keeping values the phone has not synced yet. */
export function mergeServerRow(local, server, pending) {
  const merged = { ...(local || {}), ...server };
  if (local) for (const k of pending) if (k in local) merged[k] = local[k];
  return merged;
}

/** The conflict list paired for side-by-side display. */
export function conflictRows(conflicts) {
  return (conflicts || []).map((c) => ({ field: c.field, server: c.server_value, phone: c.your_value }));
}

/** The update a user's choices produce: only fields whose chosen value differs from the server. */
export function resolutionFields(conflicts, choices) {
  const fields = {};
  for (const c of conflicts || []) {
    if (choices[c.field] === 'phone') fields[c.field] = c.your_value;
  }
  return fields;
}

// ---- leased numbers -------------------------------------------------------------------

/** The date (YYYY-MM-DD) of `moment` in China, where the server dates documents: a phone set
 * to another zone still numbers as the server will. */
export function chinaDay(moment = new Date()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(moment);
}

/** The year a document issued at `moment` is numbered in. */
export const issueYear = (moment = new Date()) => Number(chinaDay(moment).slice(0, 4));

/** The years whose numbers the phone keeps a block of: this one, and in December the next
 * (the server leases next year's numbers from December 1), so New Year offline still finds one. */
export function leaseYears(moment = new Date()) {
  const day = chinaDay(moment);
  const year = Number(day.slice(0, 4));
  return day.slice(5, 7) === '12' ? [year, year + 1] : [year];
}

/** Unused numbers of this kind and year on the phone (last year's block does not count). */
export function remainingNumbers(leases, kind, year) {
  let n = 0;
  for (const l of leases || []) if (l.kind === kind && l.year === year) n += l.numbers.length - (l.used || []).length;
  return n;
}

/** Next unused number of the phone's leased block for this kind and year, or null: a block
 * leased in December is not used after New Year (its number would carry last year). */
export function nextLeasedNumber(leases, kind, year) {
  for (const l of (leases || []).filter((x) => x.kind === kind && x.year === year)) {
    const used = new Set(l.used || []);
    for (let i = 0; i < l.numbers.length; i++) {
      const serial = l.first_serial + i;
      if (!used.has(serial)) return { lease_id: l.id, serial, number: l.numbers[i], year: l.year };
    }
  }
  return null;
}

/** The number chosen is no longer free: another tab issued with it, or its block is gone. */
export class NumberTaken extends Error {
  constructor() { super('number_taken'); this.name = 'NumberTaken'; }
}

/** `leases` with `serial` of block `leaseId` marked used; NumberTaken if it already is (run
 * inside the issuing transaction, so a number is never given to two notices). */
export function markNumberUsed(leases, leaseId, serial) {
  const lease = (leases || []).find((l) => l.id === leaseId);
  if (!lease || (lease.used || []).includes(serial)) throw new NumberTaken();
  return leases.map((l) => (l.id === leaseId ? { ...l, used: [...(l.used || []), serial] } : l));
}

// ---- venue search ---------------------------------------------------------------------

export function venueSearchKey(v) {
  return `${v.name || ''}\u0001${v.address || ''}\u0001${v.type || ''}\u0001${v.code || ''}`.toLowerCase();
}

/** Every whitespace-separated term must appear in name, address, type or code. */
export function searchVenues(index, query, limit = 50, typeFilter = '') {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const out = [];
  for (const entry of index) {
    if (typeFilter && entry.v.type !== typeFilter) continue;
    let ok = true;
    for (const t of terms) if (!entry.key.includes(t)) { ok = false; break; }
    if (ok) { out.push(entry.v); if (out.length >= limit) break; }
  }
  return out;
}

export function isInAppBrowser(ua, hasServiceWorker) {
  return /MicroMessenger|QQ\/|AlipayClient|DingTalk|Weibo/i.test(ua) || !hasServiceWorker;
}
