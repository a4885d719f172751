// Reads and saves the views share. Saves go through store.commit (one transaction) and
// then nudge sync; reads are plain store lookups.
import * as store from './store.js';
import { normaliseCalendar, venueSearchKey, addWorkingDays, guessedYears, isoDate } from './domain.js';
import { session } from './main.js';

export async function save({ changes, blobs = [], extraMeta = {} }) {
  const mutations = await store.commit({ userId: session.user.id, changes, blobs, extraMeta });
  window.dispatchEvent(new Event('firesweep:saved'));
  return mutations;
}

/** A change for store.commit: the local record, the mutation's fields and base version. */
export function change(entity, record, fields, op = 'update', blobHashes = []) {
  const fresh = op === 'create' || op === 'issue';
  // A row made on this phone is at version 1 once the server applies its create.
  return { entity, id: record.id, record, fields, op, blob_hashes: blobHashes,
    base_version: fresh ? null : (record.version ?? 1) };
}

let venueIndex = null;
let venueIndexAt = null;
export async function venueIndexLoad() {
  const last = await store.getMeta('cursor', 0);
  if (!venueIndex || venueIndexAt !== last) {
    const venues = await store.all('venues');
    venueIndex = venues.filter((v) => !v.archived_at).map((v) => ({ v, key: venueSearchKey(v) }));
    venueIndexAt = last;
  }
  return venueIndex;
}

export async function checklistFor(venueType) {
  const d = await store.getMeta('checklists');
  const list = d ? (d.items || d.templates || d.data || d) : [];
  const matching = (Array.isArray(list) ? list : []).filter((tp) => tp.venue_type === venueType);
  matching.sort((a, b) => (b.version || 0) - (a.version || 0));
  return matching[0] || null;
}

export async function calendar() {
  const d = await store.getMeta('calendar');
  return normaliseCalendar(...(Array.isArray(d) ? d : [d]));
}

export async function deadlineFrom(foundOn, days) {
  if (!days) return null;
  return addWorkingDays(foundOn, days, await calendar());
}

/** The years between two days whose holidays this phone's calendar only guesses (weekends off). */
export async function guessedCalendarYears(from, to) {
  return guessedYears(from, to, await calendar());
}

export const today = () => isoDate(new Date());

export async function colleagues() {
  const users = await store.all('users');
  return users.filter((u) => u.id !== session.user.id && (!u.role || u.role === 'inspector' || u.role === 'supervisor'));
}

export async function userName(id) {
  if (session.user && id === session.user.id) return session.user.display_name;
  const u = await store.get('users', id);
  return u ? u.display_name : `#${id}`;
}

export async function blobUrlLocal(hash) {
  const row = await store.get('blobs', hash);
  return row ? URL.createObjectURL(row.blob) : `/api/v1/blobs/${hash}/thumb`;
}
