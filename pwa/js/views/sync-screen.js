import { t } from '../i18n.js';
import { api } from '../api.js';
import * as store from '../store.js';
import * as sync from '../sync.js';
import { countByEntity, conflictRows, resolutionFields, ENTITY_STORES } from '../domain.js';
import { navigate, session } from '../main.js';
import { save, change } from '../data.js';
import { h, mount, section, button, empty, when, toast } from '../ui.js';
import { langSwitch } from './login.js';

const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

async function exportUnsynced() {
  const outbox = await store.all('outbox');
  const hashes = [...new Set(outbox.flatMap((m) => m.blob_hashes || []))];
  const blobs = {};
  for (const hash of hashes) {
    const row = await store.get('blobs', hash);
    if (!row) continue;
    blobs[hash] = await new Promise((res) => { const r = new FileReader(); r.onload = () => res(r.result); r.readAsDataURL(row.blob); });
  }
  const payload = { exported_at: new Date().toISOString(), device_id: await store.deviceId(), user: session.user && session.user.username, outbox, blobs };
  const url = URL.createObjectURL(new Blob([JSON.stringify(payload, null, 1)], { type: 'application/json' }));
  const a = h('a', { href: url, download: `firesweep-unsynced-${payload.exported_at.slice(0, 19).replace(/:/g, '')}.json` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function conflictCard(c) {
  const rows = conflictRows(c.conflicts);
  const choices = {};
  const table = h('table', { class: 'conflict' }, h('thead', {}, h('tr', {}, h('th', {}, t('conflict.field')), h('th', {}, t('conflict.server')), h('th', {}, t('conflict.phone')))),
    h('tbody', {}, rows.map((r) => {
      choices[r.field] = 'phone';
      const radio = (side, value) => h('label', { class: 'pick' }, h('input', { type: 'radio', name: `${c.mutation_id}:${r.field}`, value: side, checked: side === 'phone',
        onchange: () => { choices[r.field] = side; } }), ' ', show(value));
      return h('tr', { dataset: { field: r.field } }, h('td', {}, t(`field.${r.field}`) === `field.${r.field}` ? r.field : t(`field.${r.field}`)), h('td', {}, radio('server', r.server)), h('td', {}, radio('phone', r.phone)));
    })));
  return h('li', { class: 'card', dataset: { conflict: c.entity_id } }, h('p', {}, t(`entity.${c.entity}`), ' · ', when(c.at)), table,
    button(t('conflict.resolve'), async () => {
      const fields = resolutionFields(c.conflicts, choices);
      const name = ENTITY_STORES[c.entity];
      const local = (await store.get(name, c.entity_id)) || { id: c.entity_id };
      const version = c.version ?? (c.server && c.server.version) ?? local.version;
      if (Object.keys(fields).length) {
        await save({ changes: [{ ...change(c.entity, { ...local, ...fields, version }, fields, 'update'), base_version: version }] });
      }
      await store.del('conflicts', c.mutation_id);
      toast(t('conflict.resolved'));
      screen();
    }, 'primary resolve'));
}

export async function screen() {
  const s = await sync.summary();
  const st = sync.status();
  const counts = countByEntity(s.mine);
  let storage = t('storage.unknown');
  if (navigator.storage && navigator.storage.estimate) {
    const [persisted, est] = await Promise.all([navigator.storage.persisted ? navigator.storage.persisted() : false, navigator.storage.estimate()]);
    storage = t('storage.line', { persisted: persisted ? t('storage.persisted') : t('storage.not_persisted'),
      used: (est.usage / 1048576).toFixed(1), quota: (est.quota / 1048576).toFixed(0) });
  }
  const total = s.outbox.length;
  mount(
    h('h1', {}, t('sync.title')),
    section(t('sync.state'),
      h('p', { id: 'unsynced-total' }, total ? t('sync.unsynced', { n: total }) : t('sync.all_synced')),
      Object.keys(counts).length ? h('ul', { class: 'list', id: 'unsynced-kinds' }, Object.entries(counts).map(([k, n]) => h('li', { class: 'item' }, `${t(`entity.${k}`)}: ${n}`))) : null,
      s.others ? h('p', { class: 'notice', id: 'others-queued' }, t('sync.others', { n: s.others })) : null,
      h('p', {}, t('sync.last', { when: when(st.lastSync) })),
      st.needsLogin ? h('p', { class: 'error' }, t('session.expired')) : null,
      st.lastError ? h('p', { class: 'muted' }, t('sync.last_error', { reason: st.lastError })) : null,
      button(st.running ? t('sync.running') : t('sync.now'), async () => { await sync.syncNow('manual'); screen(); }, 'primary block sync-now')),
    section(t('sync.attention', { n: s.attention.length }), s.attention.length ? h('ul', { class: 'list', id: 'attention' }, s.attention.map((a) =>
      h('li', { class: 'item' }, `${t(`entity.${a.entity}`)} · ${a.op}: ${a.message || a.reason}`,
        button(t('sync.dismiss'), async () => { await store.del('attention', a.mutation_id); screen(); }, 'small')))) : empty(t('sync.none'))),
    section(t('sync.conflicts', { n: s.conflicts.length }), s.conflicts.length ? h('ul', { class: 'list', id: 'conflicts' }, s.conflicts.map(conflictCard)) : empty(t('sync.none'))),
    section(t('storage.title'), h('p', { id: 'storage' }, storage),
      button(t('storage.persist'), async () => { const ok = navigator.storage && navigator.storage.persist ? await navigator.storage.persist() : false; toast(ok ? t('storage.persisted') : t('storage.not_persisted')); screen(); }, 'small')),
    section(t('sync.export_title'), h('p', { class: 'muted' }, t('sync.export_hint')), button(t('sync.export'), exportUnsynced, 'export')),
    section(t('account.title'), h('p', {}, session.user.display_name, ' (', t(`role.${session.user.role}`), ')'), langSwitch(),
      button(t('account.logout'), () => logout(s.mine.length), 'danger block logout')),
  );
}

async function logout(pending) {
  if (pending) {
    if (session.user.role !== 'supervisor') { toast(t('account.logout_blocked', { n: pending }), 'error'); return; }
    if (!window.confirm(t('account.logout_override', { n: pending }))) return;
  }
  try { await api.logout(); } catch { /* offline: the session ends on the server by timeout */ }
  session.user = null;
  await store.setMeta('user', null);
  sync.setUser(null);
  navigate('/login', true);
}

export { screen as sync };
