// The only module that calls fetch. Errors come back as ApiError in the server's one shape.
import { lang } from './i18n.js';

let csrf = null; // in memory only; never in localStorage

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.reason = (body && body.reason) || (status === 0 ? 'offline' : 'http_error');
    this.body = body || {};
  }
}

export function setCsrf(token) { if (token) csrf = token; }

async function call(method, path, { json, body, type, signal } = {}) {
  const headers = { 'Accept-Language': lang(), Accept: 'application/json' };
  if (!['GET', 'HEAD'].includes(method)) {
    if (!csrf && path !== '/api/v1/auth/csrf') await fetchCsrf();
    headers['X-CSRF-Token'] = csrf || '';
  }
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  if (type) headers['Content-Type'] = type;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store', signal });
  } catch (err) {
    throw new ApiError(0, { reason: 'offline', message: String(err && err.message) });
  }
  if (resp.status === 204 || method === 'HEAD') {
    if (!resp.ok) throw new ApiError(resp.status, null);
    return null;
  }
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) throw new ApiError(resp.status, data);
  if (data && data.csrf_token) setCsrf(data.csrf_token);
  return data;
}

async function fetchCsrf() {
  const data = await call('GET', '/api/v1/auth/csrf');
  setCsrf(data.csrf_token);
}

export const api = {
  me: () => call('GET', '/api/v1/auth/me'),
  login: (username, password) => call('POST', '/api/v1/auth/login', { json: { username, password } }),
  logout: () => call('POST', '/api/v1/auth/logout'),
  colleagues: () => call('GET', '/api/v1/users?role=inspector&page_size=500'),
  checklists: () => call('GET', '/api/v1/reference/checklists'),
  calendar: (year) => call('GET', `/api/v1/reference/calendar?year=${year}`),
  push: (payload) => call('POST', '/api/v1/sync/push', { json: payload }),
  /** Pages of the server's maximum (2000 rows): a street's initial pull is 13 round trips, not 50. */
  pull: (cursor, limit = 2000) => call('GET', `/api/v1/sync/pull?cursor=${cursor}&limit=${limit}`),
  lease: (kind, count, deviceId, year) =>
    call('POST', '/api/v1/numbers/leases', { json: { kind, count, device_id: deviceId, year } }),
  /** Give a block back: the server voids its unused numbers with the reason. */
  returnLease: (leaseId, reason) => call('POST', `/api/v1/numbers/leases/${leaseId}/return`, { json: { reason } }),
  putBlob: (hash, blob, type) => call('PUT', `/api/v1/blobs/${hash}`, { body: blob, type }),
  /** Which of these hashes (≤ 500) the server lacks, in the order asked. */
  missingBlobs: (hashes) => call('POST', '/api/v1/blobs/missing', { json: { hashes } }).then((d) => d.missing),
};

export const blobUrl = (hash) => `/api/v1/blobs/${hash}`;
export const pdfUrl = (id) => `/api/v1/documents/${id}/pdf`;
