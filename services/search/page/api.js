// The server answers 401 when it needs an API key: ask once, keep it for this tab's session, send it
// with every API call. Images load through the signed URLs in the answers, which need no key.
const KEY_ITEM = 'image-search.apiKey';

/** GET a JSON API; `{ ok, status, body }`, asking for a key on 401. */
export async function api(url) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_ITEM);
    const response = await fetch(url, key ? { headers: { authorization: 'Bearer ' + key } } : {});
    if (response.status !== 401) return { ok: response.ok, status: response.status, body: await response.json() };
    sessionStorage.removeItem(KEY_ITEM);
    const typed = prompt((key ? 'That API key was refused. ' : '') + 'API key:');
    if (!typed) return { ok: false, status: 401, body: { error: 'an API key is needed' } };
    sessionStorage.setItem(KEY_ITEM, typed.trim());
  }
}

/** Forgets the session's key: the next call asks again (to switch to an operator key). */
export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}
