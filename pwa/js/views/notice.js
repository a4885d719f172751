// On-site notice: 责令立即改正通知书 / 责令限期改正通知书 from the inspection's hazards,
// previewed on the phone, numbered from the phone's leased block, receipt signed by the owner.
import { t } from '../i18n.js';
import * as store from '../store.js';
import { navigate, session } from '../main.js';
import { save, change, userName, today } from '../data.js';
import { issueYear, nextLeasedNumber, markNumberUsed, NumberTaken, remainingNumbers } from '../domain.js';
import { pdfUrl } from '../api.js';
import { h, mount, section, field, select, button, empty, toast } from '../ui.js';

/** Why no number: none at all, or only last year's block (after New Year, until the phone syncs). */
function noNumbers(leases, kind, year) {
  return leases.some((l) => l.kind === kind && l.year < year) ? t('doc.no_numbers_this_year', { year }) : t('doc.no_numbers');
}

function preview({ kind, number, venue, hazards, deadline, inspectors, partyName }) {
  return h('article', { class: 'paper', id: 'notice-preview' },
    h('h2', {}, t(`doc.kind.${kind}`)),
    h('p', { class: 'number' }, number || t('doc.number_on_issue')),
    h('p', {}, `${partyName}：`),
    h('p', {}, t(`doc.body_intro`, { date: today(), venue: venue.name })),
    h('ol', {}, hazards.map((x) => h('li', {}, x.description, x.location ? `（${x.location}）` : ''))),
    h('p', {}, kind === 'deadline_rectification' ? t('doc.body_deadline', { date: deadline || '—' }) : t('doc.body_immediate')),
    h('p', { class: 'muted' }, t('doc.inspectors', { names: inspectors.join('、') })));
}

async function receipt(doc, venue, rerender) {
  const records = await store.byIndex('service_records', 'document_id', doc.id);
  if (records.length) return section(t('receipt.title'), h('p', { class: 'ok', id: 'receipt-done' }, t('receipt.done', { name: records[0].recipient_name })));
  const { signaturePad } = await import('../signature.js');
  const canvas = h('canvas', { class: 'sig', dataset: { sig: 'recipient' } });
  const name = h('input', { name: 'recipient_name', value: venue.responsible_person || '' });
  const relation = h('input', { name: 'recipient_relation', value: t('receipt.relation_default') });
  const error = h('p', { class: 'error', role: 'alert' });
  let pad = null;
  setTimeout(() => { pad = signaturePad(canvas); });
  return section(t('receipt.title'), field(t('receipt.name'), name), field(t('receipt.relation'), relation),
    h('p', {}, t('receipt.sign')), canvas, error,
    button(t('receipt.submit'), async () => {
      if (!name.value.trim() || !pad || pad.isEmpty()) { error.textContent = t('receipt.need'); return; }
      const sig = await pad.export();
      const fields = { document_id: doc.id, method: 'in_person', served_at: new Date().toISOString(), place: venue.address || '',
        recipient_name: name.value.trim(), recipient_relation: relation.value.trim(), recipient_signature_hash: sig.hash };
      await save({ changes: [change('service_record', { id: crypto.randomUUID(), ...fields, version: null }, fields, 'create', [sig.hash])], blobs: [sig] });
      toast(t('saved'));
      await rerender();
    }, 'primary block'));
}

export async function notice(inspectionId, params) {
  const rerender = () => notice(inspectionId, params);
  const insp = await store.get('inspections', inspectionId);
  if (!insp) { mount(empty(t('inspection.missing'))); return; }
  const venue = (await store.get('venues', insp.venue_id)) || { name: t('venue.unknown'), address: '' };
  const hazards = await store.byIndex('hazards', 'inspection_id', inspectionId);
  const inspectors = await Promise.all((insp.inspector_ids || []).map(userName));
  const docId = params.get('doc');
  const doc = docId ? await store.get('documents', docId) : null;
  if (doc) {
    const chosen = hazards.filter((x) => (doc.hazard_ids || []).includes(x.id));
    const synced = !doc._dirty && doc.version != null;
    mount(h('h1', {}, t('doc.issued_title')),
      h('p', { id: 'doc-number', class: 'number big' }, doc.number),
      preview({ kind: doc.kind, number: doc.number, venue, hazards: chosen, deadline: doc.fields && doc.fields.deadline, inspectors, partyName: ((doc.fields || {}).party || {}).name || venue.name }),
      synced ? h('a', { href: pdfUrl(doc.id), target: '_blank', rel: 'noopener', class: 'btn block', id: 'pdf-link' }, t('doc.pdf'))
        : h('p', { class: 'notice', id: 'pdf-pending' }, t('doc.pdf_after_sync')),
      await receipt(doc, venue, rerender));
    return;
  }
  const leases = await store.getMeta('leases', []);
  const hasDeadline = hazards.some((x) => x.correction_mode === 'deadline');
  const kind = select('kind', [['immediate_rectification', t('doc.kind.immediate_rectification')], ['deadline_rectification', t('doc.kind.deadline_rectification')]],
    hasDeadline ? 'deadline_rectification' : 'immediate_rectification');
  const partyName = h('input', { name: 'party_name', value: venue.name });
  const boxes = hazards.map((x) => h('input', { type: 'checkbox', value: x.id, checked: true }));
  const info = h('p', { class: 'muted', id: 'lease-info' });
  const pv = h('div');
  const selected = () => hazards.filter((x, i) => boxes[i].checked);
  const deadlineOf = (list) => list.map((x) => x.deadline).filter(Boolean).sort().pop() || null;
  const refresh = () => {
    const year = issueYear();
    const next = nextLeasedNumber(leases, kind.value, year);
    info.textContent = next ? t('doc.next_number', { number: next.number, left: remainingNumbers(leases, kind.value, year) })
      : noNumbers(leases, kind.value, year);
    pv.replaceChildren(preview({ kind: kind.value, number: next && next.number, venue, hazards: selected(), deadline: deadlineOf(selected()), inspectors, partyName: partyName.value }));
  };
  kind.addEventListener('change', refresh);
  partyName.addEventListener('input', refresh);
  boxes.forEach((b) => b.addEventListener('change', refresh));
  const error = h('p', { class: 'error', role: 'alert' });
  mount(h('h1', {}, t('doc.issue')),
    section(t('doc.settings'), field(t('doc.kind_label'), kind), field(t('doc.party'), partyName),
      h('div', {}, hazards.map((x, i) => h('label', { class: 'check' }, boxes[i], x.description)))),
    info, pv, error,
    button(t('doc.issue_now'), async () => {
      const chosen = selected();
      if (!chosen.length) { error.textContent = t('doc.need_hazards'); return; }
      const deadline = kind.value === 'deadline_rectification' ? deadlineOf(chosen) : null;
      const id = crypto.randomUUID();
      // The record, its mutation and the used number are one commit, and the number is checked
      // free inside it: if another tab took it meanwhile, the commit is undone and the next
      // free number is taken instead. A number is never given to two notices.
      for (let attempt = 1; ; attempt++) {
        const held = await store.getMeta('leases', []);
        const year = issueYear();
        const next = nextLeasedNumber(held, kind.value, year);
        if (!next) { error.textContent = noNumbers(held, kind.value, year); return; }
        const fields = {
          kind: kind.value, venue_id: insp.venue_id, inspection_id: insp.id, hazard_ids: chosen.map((x) => x.id),
          // Server field names (document_kinds.json); the printed text is always Chinese.
          fields: { party: { name: partyName.value.trim() || venue.name, address: venue.address || '' },
            inspection_date: today(), ...(deadline ? { deadline } : {}), reinspection: t('doc.reinspection_default') },
          serial: next.serial, lease_id: next.lease_id, issued_at_device: new Date().toISOString(),
        };
        const record = { id, ...fields, number: next.number, state: 'issued', version: null };
        try {
          await save({ changes: [change('document', record, fields, 'issue')],
            extraMeta: { leases: (latest) => markNumberUsed(latest, next.lease_id, next.serial) } });
          break;
        } catch (err) {
          if (!(err instanceof NumberTaken) || attempt >= 5) throw err;
        }
      }
      toast(t('saved'));
      navigate(`/inspections/${inspectionId}/notice?doc=${id}`, true);
    }, 'primary block issue'));
  refresh();
}
