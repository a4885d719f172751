import { api } from '../api.js';
import { t, lang, loadLocale, languages } from '../i18n.js';
import * as store from '../store.js';
import * as sync from '../sync.js';
import { navigate, session, setUser, setPreferredLanguage } from '../main.js';
import { h, mount, field } from '../ui.js';

export function langSwitch() {
  return h('div', { class: 'lang-switch' }, languages.map((code) => h('button', {
    type: 'button', class: `btn small ${code === lang() ? 'on' : ''}`, lang: code,
    onclick: async () => { setPreferredLanguage(code); await loadLocale(code); location.reload(); },
  }, t(`lang.${code}`))));
}

export async function login() {
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'off', value: session.user ? session.user.username : '' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'card', id: 'login-form', onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (!navigator.onLine) { error.textContent = t('login.offline'); return; }
    form.querySelector('button').disabled = true;
    try {
      const res = await api.login(user.value.trim(), pass.value);
      await setUser(res.user);
      await sync.refreshReference().catch(() => {});
      sync.syncNow('login');
      navigate('/', true);
    } catch (err) {
      error.textContent = err.status === 0 ? t('login.offline') : (err.message || t('login.failed'));
    } finally {
      form.querySelector('button').disabled = false;
    }
  } },
  h('h1', {}, t('app.name')),
  field(t('login.username'), user),
  field(t('login.password'), pass),
  error,
  h('button', { type: 'submit', class: 'btn primary block' }, t('login.submit')));
  const others = (await store.all('outbox')).length;
  mount(form, others ? h('p', { class: 'notice' }, t('login.queued_note', { n: others })) : null, langSwitch());
}
