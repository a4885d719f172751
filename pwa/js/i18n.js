// Every visible string comes from locales/<lang>.json. Chinese is the default.
const SUPPORTED = ['zh-CN', 'en'];
let current = 'zh-CN';
let messages = {};

export function lang() { return current; }

export async function loadLocale(wanted) {
  current = SUPPORTED.includes(wanted) ? wanted : 'zh-CN';
  const early = globalThis.__fsLocale; // started by index.html's head script
  globalThis.__fsLocale = null;
  messages = (early && early.lang === current && await early.messages.catch(() => null)) ||
    await (await fetch(`/locales/${current}.json`)).json(); // plain fetch: api.js is not in the boot graph
  document.documentElement.lang = current;
  return current;
}

/** t('home.title', {n: 3}) → the string with {n} filled in; the key itself if missing. */
export function t(key, params) {
  let s = messages[key];
  if (s === undefined) return key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export const has = (key) => key in messages;
export const languages = SUPPORTED;
