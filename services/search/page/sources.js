import { api, forgetKey } from './api.js';
import { count, el, table } from './dom.js';

function duration(ms) {
  if (ms == null) return '';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

/** A refusal said plainly: 403 is the wrong role, 404 a server without that report. */
function refusal(status, what, error) {
  const message = status === 403
    ? `${what} needs an operator key: ${error}`
    : status === 404 ? `${what} is not available on this server.` : `${what} failed: ${error}`;
  return el('div', { className: 'notice error' }, [
    el('p', { textContent: message }),
    status === 403 ? el('button', { type: 'button', textContent: 'Use another key', onclick: () => { forgetKey(); renderSources(); } }) : null,
  ]);
}


/** The operators' view: every source's health (quiet ones first and marked) and the dead letters. */
export async function renderSources() {
  const healthBox = document.getElementById('sources-health');
  const lettersBox = document.getElementById('dead-letters');
  healthBox.replaceChildren(el('p', { textContent: 'Loading…' }));
  lettersBox.replaceChildren();
  const health = await api('/api/sources/health');
  if (!health.ok) healthBox.replaceChildren(refusal(health.status, 'Source health', health.body.error));
  else {
    const items = [...health.body.items].sort((a, b) => Number(b.quiet) - Number(a.quiet));
    healthBox.replaceChildren(
      el('p', { className: 'muted', textContent: `${items.filter((i) => i.quiet).length} quiet of ${items.length} · checked ${health.body.checkedAt}` }),
      table('health', ['account', 'serial', 'last seen', 'silent for', 'expected every', 'cadence', 'today', 'clock drift'], items.map((i) => ({
        className: i.quiet ? 'quiet' : '',
        cells: [
          i.account, i.serial ?? '(all)', i.lastSeenAt ?? 'never', duration(i.silentForMs), duration(i.expectedEveryMs), i.cadence,
          (i.imagesTodayRelation === 'gte' ? '≥ ' : '') + count(i.imagesToday), duration(i.clockDriftMs),
        ],
      })))
    );
  }
  const letters = await api('/api/failures?limit=100');
  if (!letters.ok) {
    lettersBox.replaceChildren(refusal(letters.status, 'The dead letters', letters.body.error));
    return;
  }
  lettersBox.replaceChildren(letters.body.items.length === 0 ? el('p', { textContent: 'No dead letters.' }) :
    table('failures', ['failed at', 'stage', 'code', 'reason', 'account', 'path'], letters.body.items.map((f) =>
      ({ cells: [f.failedAt, f.stage, f.error.code, f.error.message, f.source.account, f.source.path] }))));
}
