import { t } from '../i18n.js';
import * as store from '../store.js';
import { session } from '../main.js';
import { isoDate } from '../domain.js'; // not data.js: home is in the boot graph, data.js is not
import { h, mount, link, section, empty, typeLabel, isFirstMount } from '../ui.js';

const OPEN_TASK = new Set(['open', 'in_progress']);
const CLOSED = ['done', 'closed', 'cancelled'];
const dueOn = (f) => f.due_on || f.due_date || f.deadline;

/** What home shows, in one readonly transaction: today's open tasks, running inspections,
 * campaigns running today with their pending door counts, due follow-ups — and only the venues
 * these name (not the whole register: thousands of rows to copy out of IndexedDB). */
function readHome() {
  const day = isoDate(new Date());
  const names = ['tasks', 'venues', 'inspections', 'campaigns', 'campaign_doors', 'followups'];
  return store.tx(names, 'readonly', async (tx) => {
    const all = (name) => store.req(tx.objectStore(name).getAll());
    const [tasks, inspections, campaigns, followups] = await Promise.all(
      [all('tasks'), all('inspections'), all('campaigns'), all('followups')]);
    const open = tasks.filter((x) => OPEN_TASK.has(x.status) && (!x.due_date || x.due_date <= day));
    const running = inspections.filter((i) => i.status === 'in_progress');
    const active = campaigns.filter((c) => (!c.starts_on || c.starts_on <= day) && (!c.ends_on || c.ends_on >= day));
    const due = followups.filter((f) => dueOn(f) && dueOn(f) <= day && !CLOSED.includes(f.status || f.state));
    const ids = [...new Set([...open, ...running, ...due].map((x) => x.venue_id).filter((id) => id != null))];
    const doors = tx.objectStore('campaign_doors').index('campaign_id');
    const [pending, venues] = await Promise.all([
      Promise.all(active.map((c) => store.req(doors.getAll(c.id)).then((ds) => ds.filter((d) => d.outcome === 'pending').length))),
      Promise.all(ids.map((id) => store.req(tx.objectStore('venues').get(id)))),
    ]);
    return { open, running, active, pending, due, venues: venues.filter(Boolean) };
  });
}

let early = null;

/** Boot calls this as soon as the module is loaded, so the read runs alongside the locale and
 * session reads. Only the first screen uses it; any later visit reads afresh. */
export function prefetch() {
  if (!early) { early = readHome(); early.catch(() => {}); }
}

export async function home() {
  const pre = early;
  early = null;
  const { open, running: runningAll, active, pending, due, venues } = await (pre && isFirstMount() ? pre : readHome());
  const venue = new Map(venues.map((v) => [v.id, v]));
  const mine = open.filter((x) => !x.assignee_ids || x.assignee_ids.includes(session.user.id))
    .sort((a, b) => String(a.due_date).localeCompare(String(b.due_date)));
  const running = runningAll.filter((i) => (i.inspector_ids || []).includes(session.user.id));
  const vname = (id) => (venue.get(id) || {}).name || t('venue.unknown');
  // " 沿街商铺 · 截止 2026-12-01"; a task without a due date or a venue type leaves that part out
  const taskNote = (x) => {
    const type = (venue.get(x.venue_id) || {}).type;
    return ' ' + [type && typeLabel(type), x.due_date && t('home.due', { date: x.due_date })].filter(Boolean).join(' · ');
  };

  mount(
    h('h1', { elementtiming: 'home' }, t('home.hello', { name: session.user.display_name })),  // elementtiming: when it was painted (bench_pwa.py)
    h('div', { class: 'actions' },
      link('/inspections/new', t('home.new_inspection'), 'btn primary'),
      link('/venues', t('home.search_venue'), 'btn')),
    running.length ? section(t('home.in_progress'), h('ul', { class: 'list' }, running.map((i) =>
      h('li', {}, link(`/inspections/${i.id}`, vname(i.venue_id), 'row'))))) : null,
    section(t('home.tasks'), mine.length ? h('ul', { class: 'list', id: 'task-list' }, mine.map((x) => h('li', {},
      link(x.inspection_id ? `/inspections/${x.inspection_id}` : `/inspections/new?venue=${x.venue_id}&task=${x.id}`,
        h('span', {}, vname(x.venue_id), h('small', {}, taskNote(x))), 'row')))) : empty(t('home.no_tasks'))),
    section(t('home.campaigns'), active.length ? h('ul', { class: 'list' }, active.map((c, i) =>
      h('li', {}, link(`/campaigns/${c.id}`, h('span', {}, c.name, h('small', {}, ` ${t('home.doors_pending', { n: pending[i] })}`)), 'row'))))
      : empty(t('home.no_campaigns'))),
    section(t('home.followups'), due.length ? h('ul', { class: 'list' }, due.map((f) => h('li', {},
      link(`/venues/${f.venue_id}`, h('span', {}, vname(f.venue_id), h('small', {}, ` ${t('home.due', { date: dueOn(f) })}`)), 'row')))) : empty(t('home.no_followups'))),
  );
}
