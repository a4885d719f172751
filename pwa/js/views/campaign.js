import { t } from '../i18n.js';
import * as store from '../store.js';
import { session } from '../main.js';
import { save, change } from '../data.js';
import { h, mount, link, select, empty, toast, button } from '../ui.js';

const OUTCOMES = ['no_problem', 'problem_found', 'nobody_home', 'refused'];

export async function campaign(id, params) {
  const c = await store.get('campaigns', id);
  const doors = await store.byIndex('campaign_doors', 'campaign_id', id);
  const areaNames = new Map((session.user.areas || []).map((a) => [a.id, a.name]));
  const grids = [...new Set(doors.map((d) => d.area_id))];
  const grid = params.get('grid') || (grids.length === 1 ? String(grids[0]) : '');
  const pick = select('grid', [['', t('campaign.all_grids')], ...grids.map((g) => [g, areaNames.get(g) || `#${g}`])], grid);
  pick.addEventListener('change', () => { history.replaceState({}, '', `/campaigns/${id}?grid=${pick.value}`); campaign(id, new URLSearchParams(`grid=${pick.value}`)); });
  const shown = doors.filter((d) => !grid || String(d.area_id) === grid).sort((a, b) => String(a.label).localeCompare(String(b.label), 'zh'));
  const done = shown.filter((d) => d.outcome && d.outcome !== 'pending').length;
  const row = (d) => h('li', { class: 'card door', dataset: { door: d.id } },
    h('p', {}, h('strong', {}, d.label), h('small', {}, ` ${d.address || ''}`)),
    h('p', { class: 'muted' }, t(`door.${d.outcome || 'pending'}`)),
    h('div', { class: 'quad' }, OUTCOMES.map((o) => {
      const tap = button(t(`door.${o}`), async () => {
        // The door as stored now (a sync may have pulled a colleague's note or inspection since
        // this list was drawn), and only what the tap decides: the outcome, with the inspection
        // the visit is linked to (the server records the two together). The note is not sent.
        const door = (await store.get('campaign_doors', d.id)) || d;
        const fields = { outcome: o, inspection_id: door.inspection_id || null };
        await save({ changes: [change('campaign_door', { ...door, ...fields, visited_at: new Date().toISOString() }, fields, 'update')] });
        toast(t('saved'));
        campaign(id, new URLSearchParams(`grid=${grid}`));
      }, `small ${d.outcome === o ? 'on' : ''}`);
      tap.dataset.outcome = o;
      return tap;
    })),
    d.outcome === 'problem_found' && !d.inspection_id ? link(`/inspections/new?venue=${d.venue_id || ''}&campaign=${id}&door=${d.id}`, t('campaign.inspect'), 'btn small primary') : null);
  mount(h('h1', {}, c ? c.name : t('campaign.title')), h('div', { class: 'searchbar' }, pick),
    h('p', {}, t('campaign.progress', { done, total: shown.length })),
    shown.length ? h('ul', { class: 'list', id: 'door-list' }, shown.map(row)) : empty(t('campaign.no_doors')));
}
