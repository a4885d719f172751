import { t } from '../i18n.js';
import * as store from '../store.js';
import { session } from '../main.js';
import { isoDate } from '../domain.js'; // not data.js: home is in the boot graph, data.js is not
import { h, mount, link, section, empty, typeLabel } from '../ui.js';

const OPEN_TASK = new Set(['open', 'in_progress']);

export async function home() {
  const day = isoDate(new Date());
  const names = ['tasks', 'venues', 'inspections', 'campaigns', 'campaign_doors', 'followups'];
  const [tasks, venues, inspections, campaigns, doors, followups] = await store.tx(names, 'readonly', (tx) =>
    Promise.all(names.map((s) => store.req(tx.objectStore(s).getAll())))); // one transaction, not six
  const venue = new Map(venues.map((v) => [v.id, v]));
  const mine = tasks.filter((x) => OPEN_TASK.has(x.status) && (!x.due_date || x.due_date <= day) &&
    (!x.assignee_ids || x.assignee_ids.includes(session.user.id)))
    .sort((a, b) => String(a.due_date).localeCompare(String(b.due_date)));
  const running = inspections.filter((i) => i.status === 'in_progress' &&
    (i.inspector_ids || []).includes(session.user.id));
  const active = campaigns.filter((c) => (!c.starts_on || c.starts_on <= day) && (!c.ends_on || c.ends_on >= day));
  const due = followups.filter((f) => {
    const d = f.due_on || f.due_date || f.deadline;
    return d && d <= day && !['done', 'closed', 'cancelled'].includes(f.status || f.state);
  });
  const vname = (id) => (venue.get(id) || {}).name || t('venue.unknown');

  mount(
    h('h1', {}, t('home.hello', { name: session.user.display_name })),
    h('div', { class: 'actions' },
      link('/inspections/new', t('home.new_inspection'), 'btn primary'),
      link('/venues', t('home.search_venue'), 'btn')),
    running.length ? section(t('home.in_progress'), h('ul', { class: 'list' }, running.map((i) =>
      h('li', {}, link(`/inspections/${i.id}`, vname(i.venue_id), 'row'))))) : null,
    section(t('home.tasks'), mine.length ? h('ul', { class: 'list', id: 'task-list' }, mine.map((x) => h('li', {},
      link(x.inspection_id ? `/inspections/${x.inspection_id}` : `/inspections/new?venue=${x.venue_id}&task=${x.id}`,
        h('span', {}, vname(x.venue_id), h('small', {}, ` ${typeLabel((venue.get(x.venue_id) || {}).type)} · ${t('home.due', { date: x.due_date })}`)), 'row')))) : empty(t('home.no_tasks'))),
    section(t('home.campaigns'), active.length ? h('ul', { class: 'list' }, active.map((c) => {
      const pending = doors.filter((d) => d.campaign_id === c.id && d.outcome === 'pending').length;
      return h('li', {}, link(`/campaigns/${c.id}`, h('span', {}, c.name, h('small', {}, ` ${t('home.doors_pending', { n: pending })}`)), 'row'));
    })) : empty(t('home.no_campaigns'))),
    section(t('home.followups'), due.length ? h('ul', { class: 'list' }, due.map((f) => h('li', {},
      link(`/venues/${f.venue_id}`, h('span', {}, vname(f.venue_id), h('small', {}, ` ${t('home.due', { date: f.due_on || f.due_date || f.deadline })}`)), 'row')))) : empty(t('home.no_followups'))),
  );
}
