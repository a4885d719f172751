import { t, lang } from '../i18n.js';
import * as store from '../store.js';
import { navigate, session } from '../main.js';
import { save, change, checklistFor, colleagues, deadlineFrom, guessedCalendarYears, today, userName, blobUrlLocal } from '../data.js';
import { h, mount, link, section, empty, field, select, button, toast, typeLabel, photoThumb, when } from '../ui.js';

const KINDS = ['routine', 'campaign_sweep', 'complaint', 'pre_opening', 'look_back', 'joint'];

function locate() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude, acc: p.coords.accuracy }),
      () => resolve(null), { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
}

export async function start(params) {
  const venueId = params.get('venue');
  const v = venueId ? await store.get('venues', venueId) : null;
  if (!v) {
    mount(h('h1', {}, t('inspection.new')), empty(t('inspection.pick_venue_first')),
      link('/venues?pick=1', t('home.search_venue'), 'btn primary'));
    return;
  }
  const template = await checklistFor(v.type);
  const mates = await colleagues();
  const second = select('second', [['', t('inspection.choose_second')], ...mates.map((u) => [u.id, u.display_name])], '');
  second.id = 'second-inspector';
  const kind = select('kind', KINDS.map((k) => [k, t(`inspection.kind.${k}`)]), params.get('campaign') ? 'campaign_sweep' : 'routine');
  const gpsText = h('p', { id: 'gps', class: 'muted' }, t('gps.locating'));
  let fix = null;
  const getFix = async () => {
    gpsText.textContent = t('gps.locating');
    fix = await locate();
    gpsText.textContent = fix ? t('gps.fix', { acc: Math.round(fix.acc) }) : t('gps.none');
  };
  getFix();
  const error = h('p', { class: 'error', role: 'alert' });
  mount(
    h('h1', {}, t('inspection.new')),
    section(t('inspection.venue'), h('p', {}, h('strong', {}, v.name)), h('p', {}, typeLabel(v.type), ' · ', v.address),
      link('/venues?pick=1', t('inspection.change_venue'), 'btn small')),
    section(t('inspection.team'), h('p', {}, session.user.display_name), field(t('inspection.second'), second), field(t('inspection.kind_label'), kind)),
    section(t('gps.title'), gpsText, button(t('gps.retry'), getFix, 'small')),
    template ? null : h('p', { class: 'notice' }, t('inspection.no_template')),
    error,
    button(t('inspection.start'), async () => {
      if (!second.value) { error.textContent = t('inspection.need_two'); return; }
      const id = crypto.randomUUID();
      const fields = {
        venue_id: v.id, kind: kind.value, campaign_id: params.get('campaign') || null, task_id: params.get('task') || null,
        inspector_ids: [session.user.id, Number(second.value)], lat: fix ? fix.lat : null, lng: fix ? fix.lng : null,
        gps_accuracy_m: fix ? fix.acc : null, started_at_device: new Date().toISOString(),
      };
      const record = { id, ...fields, template_id: template ? template.id : null, status: 'in_progress', version: null, door_id: params.get('door') || null };
      await save({ changes: [change('inspection', record, fields, 'create')] });
      navigate(`/inspections/${id}`, true);
    }, 'primary block'),
  );
}

async function photoStrip(hashes) {
  return h('div', { class: 'photos' }, await Promise.all((hashes || []).map(async (hs) => photoThumb(await blobUrlLocal(hs), t('photo.alt')))));
}

async function itemCard(insp, item, result, hazards, readonly, rerender) {
  const current = result || null;
  // One save at a time per item, each on the item's result as stored now: two quick taps (a
  // double tap, or "fail" then "pass") must not both create a result for the item.
  let saving = Promise.resolve();
  const enqueue = (fn) => {
    saving = saving.catch(() => {}).then(fn);
    return saving;
  };
  const saveItem = (fields, blobs = []) => enqueue(() => saveItemNow(fields, blobs));
  const storedResult = async () => (await store.byIndex('item_results', 'inspection_id', insp.id))
    .find((r) => r.item_code === item.code && !r.deleted_at);
  // The item's result once every save under way (a photo still being prepared included) is done.
  const settledResult = () => enqueue(storedResult);
  const saveItemNow = async (fields, blobs) => {
    const current = (await storedResult()) || result || null;
    if (typeof fields === 'function') fields = fields(current); // fields that build on the stored ones
    const base = current || { id: crypto.randomUUID(), inspection_id: insp.id, item_id: item.id ?? null, item_code: item.code, result: null, note: '', photo_hashes: [], version: null };
    const record = { ...base, ...fields };
    const op = current ? 'update' : 'create';
    const f = op === 'create'
      ? { inspection_id: insp.id, item_id: item.id ?? null, item_code: item.code, result: record.result || 'na', note: record.note || '', photo_hashes: record.photo_hashes }
      : fields;
    if (op === 'create' && !record.result) record.result = f.result;
    await save({ changes: [change('item_result', record, f, op, blobs.map((b) => b.hash))], blobs });
    await rerender();
  };
  const res = current ? current.result : null;
  const resultButtons = h('div', { class: 'tri', role: 'group' }, ['pass', 'fail', 'na'].map((r) =>
    h('button', { type: 'button', class: `btn ${r} ${res === r ? 'on' : ''}`, 'aria-pressed': String(res === r), disabled: readonly,
      dataset: { result: r }, onclick: () => saveItem({ result: r }) }, t(`result.${r}`))));
  const note = h('textarea', { rows: 2, class: 'note', placeholder: t('item.note'), disabled: readonly || !current }, current ? current.note || '' : '');
  note.addEventListener('change', () => saveItem({ note: note.value }));
  const photoInput = h('input', { type: 'file', accept: 'image/*', capture: 'environment', class: 'photo-input', disabled: readonly || !current });
  photoInput.addEventListener('change', () => {
    const files = [...photoInput.files];
    if (!files.length) return null;
    // Queued from the moment the photo is chosen, preparing included, so a hazard saved
    // meanwhile waits for it and carries it.
    return enqueue(async () => {
      const { preparePhoto } = await import('../photos.js');
      const blobs = [];
      for (const f of files) blobs.push(await preparePhoto(f));
      await saveItemNow((stored) => ({ photo_hashes: [...(stored ? stored.photo_hashes || [] : []), ...blobs.map((b) => b.hash)] }), blobs);
    });
  });
  const hazard = hazards.find((x) => x.item_code === item.code);
  const card = h('li', { class: `card item-card ${res || ''}`, dataset: { code: item.code } },
    h('p', { class: 'item-text' }, h('strong', {}, item.code), ' ', item.text),
    item.check_method ? h('p', { class: 'muted small' }, item.check_method) : null,
    resultButtons, note,
    h('label', { class: 'btn small photo-btn' }, t('photo.add'), photoInput),
    await photoStrip(current && current.photo_hashes));
  if (res === 'fail' && !readonly) {
    card.append(hazard ? h('p', { class: 'ok' }, t('hazard.recorded', { date: hazard.deadline || t('hazard.immediate') }))
      : hazardForm(insp, item, settledResult, rerender));
  }
  return card;
}

/** `itemResult()`: the failed item's result as stored once its saves under way are done (its
 * photos become the hazard's), or null for a hazard without an item. */
function hazardForm(insp, item, itemResult, rerender, free = false) {
  const desc = h('textarea', { rows: 2, name: 'description' }, item ? item.text : '');
  const loc = h('input', { name: 'location', placeholder: t('hazard.location_hint') });
  const sev = select('severity', [['general', t('hazard.severity.general')], ['major', t('hazard.severity.major')]], item ? item.default_severity : 'general');
  const mode = select('correction_mode', [['immediate', t('hazard.mode.immediate')], ['deadline', t('hazard.mode.deadline')]], item ? item.correction_mode : 'deadline');
  const days = h('input', { name: 'deadline_days', type: 'number', min: 1, max: 90, inputmode: 'numeric', value: (item && item.default_days) || 15 });
  const shown = h('p', { class: 'deadline' });
  const guess = h('p', { class: 'notice small deadline-guessed', hidden: true });
  const refresh = async () => {
    days.closest('label').hidden = mode.value === 'immediate';
    const d = mode.value === 'deadline' ? await deadlineFrom(today(), Number(days.value)) : null;
    shown.textContent = d ? t('hazard.deadline_on', { date: d }) : t('hazard.immediate');
    // Said where the inspector sets the days: a year without its holiday schedule counts weekends only.
    const guessed = d ? await guessedCalendarYears(today(), d) : [];
    guess.hidden = !guessed.length;
    guess.textContent = guessed.length ? t('hazard.deadline_guessed', { years: guessed.join(lang() === 'en' ? ', ' : '、') }) : '';
  };
  mode.addEventListener('change', refresh);
  days.addEventListener('input', refresh);
  const box = h('div', { class: 'hazard-form' },
    h('h3', {}, t('hazard.new')), field(t('hazard.description'), desc), field(t('hazard.location'), loc),
    field(t('hazard.severity_label'), sev), field(t('hazard.mode_label'), mode), field(t('hazard.days'), days), shown, guess,
    button(t('hazard.save'), async () => {
      const result = itemResult ? await itemResult() : null;
      const found = today();
      const deadlineDays = mode.value === 'deadline' ? Number(days.value) : null;
      const fields = {
        venue_id: insp.venue_id, inspection_id: insp.id, item_id: item ? item.id ?? null : null, item_code: item ? item.code : null,
        description: desc.value.trim() || (item ? item.text : ''), location: loc.value.trim(), severity: sev.value,
        correction_mode: mode.value, deadline_days: deadlineDays, photo_hashes: result ? result.photo_hashes || [] : [], found_on: found,
      };
      const record = { id: crypto.randomUUID(), ...fields, state: 'open', deadline: await deadlineFrom(found, deadlineDays), version: null,
        legal_basis_codes: item ? item.legal_basis_codes || [] : [], requirement: item ? item.requirement || null : null };
      await save({ changes: [change('hazard', record, fields, 'create')] });
      toast(t('saved'));
      await rerender();
    }, 'primary save-hazard'));
  setTimeout(refresh);
  return box;
}

function hazardEdit(x, rerender) {
  const desc = h('textarea', { rows: 2, name: 'description' }, x.description);
  const loc = h('input', { name: 'location', value: x.location || '' });
  const box = h('div', { class: 'hazard-edit', hidden: true }, field(t('hazard.description'), desc), field(t('hazard.location'), loc),
    button(t('hazard.save'), async () => {
      const fields = {};
      if (desc.value.trim() !== x.description) fields.description = desc.value.trim();
      if (loc.value.trim() !== (x.location || '')) fields.location = loc.value.trim();
      if (Object.keys(fields).length) await save({ changes: [change('hazard', { ...x, ...fields }, fields, 'update')] });
      toast(t('saved'));
      await rerender();
    }, 'primary save-edit'));
  return h('div', {}, button(t('hazard.edit'), () => { box.hidden = !box.hidden; }, 'small edit'), box);
}

async function finishSection(insp, rerender) {
  const { signaturePad } = await import('../signature.js');
  const pads = [];
  const padFor = (label, key) => {
    const canvas = h('canvas', { class: 'sig', dataset: { sig: key } });
    const wrap = h('div', { class: 'sig-wrap' }, h('p', {}, label), canvas);
    setTimeout(() => { const pad = signaturePad(canvas); pads.push([key, pad]); wrap.append(button(t('sig.clear'), pad.clear, 'small')); });
    return wrap;
  };
  const ownerName = h('input', { name: 'owner_signer_name', autocomplete: 'off' });
  const refused = h('input', { type: 'checkbox', name: 'owner_refused' });
  const witness = h('input', { name: 'refusal_witness' });
  const refusalPhoto = h('input', { type: 'file', accept: 'image/*', capture: 'environment', name: 'refusal_photo' });
  const summary = h('textarea', { rows: 3, name: 'summary' }, insp.summary || '');
  const refusalBox = h('div', { hidden: true }, field(t('finish.witness'), witness), h('label', { class: 'btn small photo-btn' }, t('finish.refusal_photo'), refusalPhoto));
  const ownerBox = h('div', {}, field(t('finish.owner_name'), ownerName), padFor(t('finish.owner_sign'), 'owner'));
  refused.addEventListener('change', () => { refusalBox.hidden = !refused.checked; ownerBox.hidden = refused.checked; });
  const inspectorPads = await Promise.all((insp.inspector_ids || []).map(async (uid) => padFor(t('finish.inspector_sign', { name: await userName(uid) }), `inspector:${uid}`)));
  const error = h('p', { class: 'error', role: 'alert' });
  return section(t('finish.title'),
    field(t('finish.summary'), summary),
    h('label', { class: 'check' }, refused, t('finish.refused')), ownerBox, refusalBox, ...inspectorPads, error,
    button(t('finish.submit'), async () => {
      error.textContent = '';
      const pad = (k) => (pads.find(([key]) => key === k) || [])[1];
      const blobs = [];
      const fields = { summary: summary.value, finished_at_device: new Date().toISOString(), inspector_signatures: {} };
      if (refused.checked) {
        if (!witness.value.trim() || !refusalPhoto.files.length) { error.textContent = t('finish.need_witness'); return; }
        const { preparePhoto } = await import('../photos.js');
        const p = await preparePhoto(refusalPhoto.files[0]);
        blobs.push(p);
        Object.assign(fields, { owner_refused: true, refusal_witness: witness.value.trim(), refusal_photo_hash: p.hash, owner_signer_name: null });
      } else {
        if (!ownerName.value.trim() || pad('owner').isEmpty()) { error.textContent = t('finish.need_owner'); return; }
        const s = await pad('owner').export();
        blobs.push(s);
        Object.assign(fields, { owner_signature_hash: s.hash, owner_signer_name: ownerName.value.trim() });
      }
      for (const uid of insp.inspector_ids || []) {
        const p = pad(`inspector:${uid}`);
        if (!p || p.isEmpty()) { error.textContent = t('finish.need_inspectors'); return; }
        const s = await p.export();
        blobs.push(s);
        fields.inspector_signatures[String(uid)] = s.hash;
      }
      const record = { ...insp, ...fields, status: 'finished' };
      const changes = [change('inspection', record, fields, 'finish', blobs.map((b) => b.hash))];
      if (insp.door_id) {
        const door = await store.get('campaign_doors', insp.door_id);
        const hazards = await store.byIndex('hazards', 'inspection_id', insp.id);
        if (door) {
          const df = { outcome: hazards.length ? 'problem_found' : 'no_problem', inspection_id: insp.id, note: door.note || '' };
          changes.push(change('campaign_door', { ...door, ...df }, df, 'update'));
        }
      }
      await save({ changes, blobs });
      toast(t('saved'));
      await rerender();
    }, 'primary block finish'));
}

// Form controls a redraw carries over: what the inspector has typed and not saved yet.
const TYPED = '#app textarea[name], #app input[name]:not([type=file]):not([type=checkbox]), #app select[name]';

const controlKey = (el) => {
  const owner = el.closest('[data-code], [data-hazard]');
  return `${owner ? owner.dataset.code || owner.dataset.hazard : ''}|${el.name}`;
};

/** Values changed since the controls were drawn, by the item or hazard they belong to and name. */
function typedValues() {
  const out = new Map();
  for (const el of document.querySelectorAll(TYPED)) {
    const changed = el.tagName === 'SELECT' ? [...el.options].some((o) => o.selected !== o.defaultSelected)
      : el.value !== el.defaultValue;
    if (changed) out.set(controlKey(el), el.value);
  }
  return out;
}

function restoreTyped(typed) {
  if (!typed.size) return;
  for (const el of document.querySelectorAll(TYPED)) {
    const value = typed.get(controlKey(el));
    if (value !== undefined && el.value !== value) {
      el.value = value;
      // The hazard form's deadline follows its days (input) and its correction mode (change).
      el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input'));
    }
  }
}

export async function inspection(id) {
  // A save redraws the page; what is typed elsewhere on it and not saved yet (a hazard's
  // location, the summary) is carried over, not wiped.
  const rerender = async () => {
    const y = window.scrollY;
    const typed = typedValues();
    await inspection(id);
    restoreTyped(typed);
    window.scrollTo(0, y);
  };
  const insp = await store.get('inspections', id);
  if (!insp) { mount(h('h1', {}, t('inspection.missing')), empty(t('venue.not_synced'))); return; }
  const v = (await store.get('venues', insp.venue_id)) || { name: t('venue.unknown') };
  const template = await checklistFor(v.type);
  const results = await store.byIndex('item_results', 'inspection_id', id);
  const hazards = await store.byIndex('hazards', 'inspection_id', id);
  const documents = await store.byIndex('documents', 'inspection_id', id);
  const finished = insp.status === 'finished';
  const items = template ? template.items || [] : [];
  const byCode = new Map(results.map((r) => [r.item_code, r]));
  const names = await Promise.all((insp.inspector_ids || []).map(userName));
  const done = results.filter((r) => r.result).length;
  mount(
    h('h1', {}, v.name),
    h('p', { class: 'muted' }, names.join('、'), ' · ', insp.lat != null ? t('gps.fix', { acc: Math.round(insp.gps_accuracy_m || 0) }) : t('gps.none')),
    h('p', { id: 'progress' }, t('inspection.progress', { done, total: items.length }), ' · ', t(`inspection.status.${insp.status}`)),
    section(t('inspection.checklist'), items.length ? h('ol', { class: 'items' }, await Promise.all(items.map((it) =>
      itemCard(insp, it, byCode.get(it.code), hazards, finished, rerender)))) : empty(t('inspection.no_template'))),
    section(t('hazard.list', { n: hazards.length }), hazards.length ? h('ul', { class: 'list', id: 'hazard-list' }, hazards.map((x) =>
      h('li', { class: 'item', dataset: { hazard: x.id } }, h('span', { class: 'desc' }, x.description), h('small', {}, ` · ${x.location || ''} · ${t(`hazard.severity.${x.severity}`)} · ${x.deadline ? t('hazard.deadline_on', { date: x.deadline }) : t('hazard.immediate')}`),
        hazardEdit(x, rerender)))) : empty(t('hazard.none'))),
    finished ? section(t('inspection.finished'),
      h('p', {}, when(insp.finished_at_device)),
      insp.owner_refused ? h('p', {}, t('finish.refused_by', { witness: insp.refusal_witness })) : h('p', {}, t('finish.signed_by', { name: insp.owner_signer_name || '' })),
      hazards.length ? link(`/inspections/${id}/notice`, t('doc.issue'), 'btn primary block') : null,
      documents.length ? h('ul', { class: 'list' }, documents.map((d) => h('li', {}, link(`/inspections/${id}/notice?doc=${d.id}`, `${t(`doc.kind.${d.kind}`)} ${d.number}`, 'row')))) : null)
      : await finishSection(insp, rerender),
  );
}
