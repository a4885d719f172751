import { t } from '../i18n.js';
import * as store from '../store.js';
import { searchVenues } from '../domain.js';
import { venueIndexLoad } from '../data.js';
import { pdfUrl } from '../api.js';
import { h, mount, link, section, empty, typeLabel, select, when } from '../ui.js';

const TYPES = ['', 'high_rise', 'group_rental', 'storefront', 'entertainment', 'flammable', 'hazardous_chemical', 'other'];
const OPEN_HAZARD = new Set(['open', 'notified', 'rectification_claimed', 'overdue', 'escalated', 'major_pending']);

export async function search(params) {
  const index = await venueIndexLoad();
  const pick = params && params.get && params.get('pick');
  const input = h('input', { type: 'search', id: 'venue-q', placeholder: t('search.placeholder'), autocomplete: 'off' });
  const type = select('type', TYPES.map((x) => [x, x ? typeLabel(x) : t('search.all_types')]), '');
  const list = h('ul', { class: 'list', id: 'venue-results' });
  const count = h('p', { class: 'muted' });
  const run = () => {
    const found = searchVenues(index, input.value, 50, type.value);
    count.textContent = t('search.count', { n: found.length, total: index.length });
    list.replaceChildren(...found.map((v) => h('li', {}, link(pick ? `/inspections/new?venue=${v.id}` : `/venues/${v.id}`,
      h('span', {}, v.name, h('small', {}, ` ${typeLabel(v.type)} · ${v.address}`)), 'row'))));
  };
  input.addEventListener('input', run);
  type.addEventListener('change', run);
  mount(h('h1', {}, t('search.title')), h('div', { class: 'searchbar' }, input, type), count, list);
  run();
  input.focus();
}

export async function venue(id) {
  const v = await store.get('venues', id);
  if (!v) { mount(h('h1', {}, t('venue.unknown')), empty(t('venue.not_synced'))); return; }
  const [inspections, hazards, documents] = await Promise.all([
    store.byIndex('inspections', 'venue_id', id), store.byIndex('hazards', 'venue_id', id),
    store.byIndex('documents', 'venue_id', id)]);
  inspections.sort((a, b) => String(b.started_at_device || b.started_at).localeCompare(String(a.started_at_device || a.started_at)));
  const open = hazards.filter((x) => OPEN_HAZARD.has(x.state || 'open'));
  mount(
    h('h1', {}, v.name),
    h('p', {}, typeLabel(v.type), ' · ', v.address),
    v.responsible_person ? h('p', { class: 'muted' }, t('venue.responsible'), ': ', v.responsible_person) : null,
    h('div', { class: 'actions' }, link(`/inspections/new?venue=${v.id}`, t('venue.inspect'), 'btn primary')),
    section(t('venue.open_hazards', { n: open.length }), open.length ? h('ul', { class: 'list' }, open.map((x) =>
      h('li', { class: 'item' }, x.description, h('small', {}, ` ${t(`hazard.state.${x.state || 'open'}`)}${x.deadline ? ' · ' + t('hazard.deadline_on', { date: x.deadline }) : ''}`)))) : empty(t('venue.no_hazards'))),
    section(t('venue.history'), inspections.length ? h('ul', { class: 'list' }, inspections.map((i) =>
      h('li', {}, link(`/inspections/${i.id}`, h('span', {}, when(i.started_at_device || i.started_at), h('small', {}, ` ${t(`inspection.status.${i.status || 'in_progress'}`)}`)), 'row')))) : empty(t('venue.no_history'))),
    section(t('venue.documents'), documents.length ? h('ul', { class: 'list' }, documents.map((d) =>
      h('li', { class: 'item' }, `${t(`doc.kind.${d.kind}`)} ${d.number || ''}`,
        !d._dirty && d.state && d.state !== 'draft' ? h('a', { href: pdfUrl(d.id), target: '_blank', rel: 'noopener', class: 'btn small' }, t('doc.pdf')) : h('small', {}, ` ${t('doc.pdf_after_sync')}`)))) : empty(t('venue.no_documents'))),
  );
}
