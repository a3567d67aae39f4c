import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { register } from 'prom-client';
import {
  CADENCE_FLOOR_MS,
  SOURCE_LAST_SEEN_METRIC,
  SOURCE_QUIET_METRIC,
  SourceHealth,
  learnedCadenceMs,
  type SourceHealthEntry,
} from '../../services/search/source-health';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import type { Account } from '../../shared/accounts';
import { accountSchema } from '../../shared/config/config.schema';
import { processedEvent, source } from '../helpers/events';
import { testAccount } from '../helpers/ftp-server';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2025-03-10T12:00:00.000Z');

describe('quiet cameras', () => {
  let dir: string;
  let index: SqliteImageIndex;
  let accounts: Account[];
  let now: number;
  let health: SourceHealth;
  let n = 0;

  /** One image the account received at `at` (ms) from the camera with `serial`, taken at `capturedAt` (by default 2 s before). */
  async function receive(account: string, at: number, serial: string | null = 'SN1', capturedAt: string | null = new Date(at - 2000).toISOString()): Promise<void> {
    const event = processedEvent({
      source: source({ account, path: `/DCIM/IMG_${n++}.JPG`, receivedAt: new Date(at).toISOString() }),
      camera: { make: 'Axis', model: 'P1468', serial },
      capturedAt,
    });
    await index.upsert(event);
  }

  /** `count` images, every `everyMs`, the last at `last`. */
  async function steady(account: string, count: number, everyMs: number, last: number, serial: string | null = 'SN1'): Promise<void> {
    for (let i = count - 1; i >= 0; i--) await receive(account, last - i * everyMs, serial);
  }

  const row = (items: SourceHealthEntry[], account: string, serial: string | null = null) => {
    const found = items.find((item) => item.account === account && item.serial === serial);
    if (!found) throw new Error(`no row for ${account}/${serial}`);
    return found;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'source-health-'));
    index = new SqliteImageIndex(path.join(dir, 'index.sqlite'));
    accounts = [];
    now = NOW;
    health = new SourceHealth({ accounts: { list: () => accounts }, index }, { now: () => now });
  });

  afterEach(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const account = (name: string, extra: Partial<Account> = {}) => accounts.push(testAccount(dir, name, extra));

  it('keeps a camera that sends steadily within its cadence not quiet, and learns twice its usual gap', async () => {
    account('steady');
    await steady('steady', 30, 10 * MINUTE, NOW - 5 * MINUTE);
    const item = row((await health.report()).items, 'steady');
    expect(item).toMatchObject({ cadence: 'learned', expectedEveryMs: 20 * MINUTE, quiet: false, silentForMs: 5 * MINUTE, lastSeenAt: new Date(NOW - 5 * MINUTE).toISOString() });
  });

  it('shows a camera silent for longer than its learned cadence as quiet', async () => {
    account('steady');
    await steady('steady', 30, 10 * MINUTE, NOW - 25 * MINUTE);
    expect(row((await health.report()).items, 'steady')).toMatchObject({ cadence: 'learned', expectedEveryMs: 20 * MINUTE, quiet: true, silentForMs: 25 * MINUTE });
    expect(row((await health.report()).items, 'steady', 'SN1').quiet).toBe(true);
  });

  it('keeps a camera that sends in bursts not quiet between its bursts, and quiet after a silence well past its pauses', async () => {
    account('bursty');
    // Eight bursts an hour apart, each of 12 images 5 s apart; the last burst ended 50 minutes ago.
    const lastBurst = NOW - 50 * MINUTE;
    for (let burst = 7; burst >= 0; burst--) {
      for (let i = 11; i >= 0; i--) await receive('bursty', lastBurst - burst * HOUR - i * 5000);
    }
    const within = row((await health.report()).items, 'bursty');
    expect(within).toMatchObject({ cadence: 'learned', quiet: false, silentForMs: 50 * MINUTE });
    // Twice the p90 pause between bursts (an hour less the burst's 55 s).
    expect(within.expectedEveryMs).toBe(2 * (HOUR - 55_000));

    now = lastBurst + 2 * HOUR + MINUTE;
    expect(row((await health.report()).items, 'bursty')).toMatchObject({ quiet: true, silentForMs: 2 * HOUR + MINUTE });
  });

  it('learns the rhythm of a steady camera from all its gaps when it had only an outage or two, so an outage does not teach it silence', () => {
    const receipts = Array.from({ length: 60 }, (_, i) => NOW - i * MINUTE - (i >= 30 ? 6 * HOUR : 0));
    expect(learnedCadenceMs(receipts)).toBe(CADENCE_FLOOR_MS);
    expect(learnedCadenceMs(receipts.slice(0, 9))).toBeNull();
  });

  it('takes a configured expectEvery over what the history would teach, for the account and its serials', async () => {
    account('configured', { expectEvery: '15m' });
    await steady('configured', 20, HOUR, NOW - 20 * MINUTE);
    const { items } = await health.report();
    expect(row(items, 'configured')).toMatchObject({ cadence: 'configured', expectedEveryMs: 15 * MINUTE, quiet: true });
    expect(row(items, 'configured', 'SN1')).toMatchObject({ cadence: 'configured', expectedEveryMs: 15 * MINUTE, quiet: true });
  });

  it('gives every camera serial of an account its own row, so one camera gone quiet shows beside a busy one', async () => {
    account('site');
    await steady('site', 40, 10 * MINUTE, NOW - 2 * MINUTE, 'GATE');
    await steady('site', 20, 10 * MINUTE, NOW - 3 * HOUR, 'YARD');
    await receive('site', NOW - 4 * HOUR, null);
    const { items } = await health.report();
    expect(items.filter((item) => item.account === 'site').map((item) => [item.serial, item.quiet])).toEqual([
      [null, false],
      ['GATE', false],
      ['YARD', true],
    ]);
    expect(row(items, 'site', 'YARD')).toMatchObject({ cadence: 'learned', expectedEveryMs: 20 * MINUTE, silentForMs: 3 * HOUR });
  });

  it('keeps the row of a camera that fell out of the account’s newest images behind a busy one', async () => {
    account('site');
    await steady('site', 20, 10 * MINUTE, NOW - 2 * HOUR, 'YARD');
    expect(row((await health.report()).items, 'site', 'YARD').quiet).toBe(true);
    await steady('site', 250, 20_000, NOW, 'GATE');
    now += MINUTE;
    const { items } = await health.report();
    expect(row(items, 'site', 'YARD')).toMatchObject({ quiet: true, lastSeenAt: new Date(NOW - 2 * HOUR).toISOString() });
    expect(row(items, 'site', 'GATE')).toMatchObject({ quiet: false, imagesToday: 200, imagesTodayRelation: 'gte' });
    expect(row(items, 'site')).toMatchObject({ imagesToday: 270, imagesTodayRelation: 'eq' });
  });

  it('counts the images received since 00:00 UTC, for the account and for each serial', async () => {
    account('daily');
    const midnight = Date.parse('2025-03-10T00:00:00.000Z');
    await steady('daily', 12, HOUR, midnight - 1000, 'A');
    await steady('daily', 5, HOUR, midnight + 4 * HOUR, 'A');
    await steady('daily', 3, HOUR, midnight + 11 * HOUR, 'B');
    const { items } = await health.report();
    expect(row(items, 'daily')).toMatchObject({ imagesToday: 8, imagesTodayRelation: 'eq' });
    expect(row(items, 'daily', 'A')).toMatchObject({ imagesToday: 5, imagesTodayRelation: 'eq' });
    expect(row(items, 'daily', 'B')).toMatchObject({ imagesToday: 3, imagesTodayRelation: 'eq' });
  });

  it('reports the median clock drift, which includes the zone of a camera that writes local time without an offset', async () => {
    account('utc');
    account('cet');
    for (const [i, late] of [1000, 2000, 60_000].entries()) await receive('utc', NOW - i * MINUTE, 'U', new Date(NOW - i * MINUTE - late).toISOString());
    // On CET (UTC+1) and on time: it writes 13:00 for 12:00 UTC, read as 13:00 UTC.
    for (let i = 0; i < 3; i++) await receive('cet', NOW - i * MINUTE - 500, 'C', new Date(NOW - i * MINUTE + HOUR).toISOString().replace('Z', '').slice(0, 19));
    await receive('cet', NOW - 10 * MINUTE, 'C', null);
    const { items } = await health.report();
    expect(row(items, 'utc').clockDriftMs).toBe(2000);
    expect(row(items, 'cet', 'C').clockDriftMs).toBe(-HOUR - 500);
  });

  it('leaves the cadence unknown and the camera never quiet with too little history', async () => {
    account('new');
    await steady('new', 5, 10 * MINUTE, NOW - 30 * 24 * HOUR);
    expect(row((await health.report()).items, 'new')).toMatchObject({ cadence: 'unknown', expectedEveryMs: null, quiet: false, silentForMs: 30 * 24 * HOUR });
  });

  it('lists an account that never sent an image, not quiet even with a configured cadence: there is no time to count from', async () => {
    account('silent', { expectEvery: '1m' });
    expect((await health.report()).items).toEqual([
      {
        account: 'silent',
        serial: null,
        lastSeenAt: null,
        expectedEveryMs: MINUTE,
        cadence: 'configured',
        quiet: false,
        silentForMs: null,
        imagesToday: 0,
        imagesTodayRelation: 'eq',
        clockDriftMs: null,
      },
    ]);
  });

  it('reads the index at most once per 30 s while silence is measured against the clock on every call', async () => {
    account('steady');
    await steady('steady', 30, 10 * MINUTE, NOW - 5 * MINUTE);
    const search = jest.spyOn(index, 'search');
    const first = await health.report();
    const reads = search.mock.calls.length;
    now += 20_000;
    await Promise.all([health.report(), health.report()]);
    expect(search.mock.calls.length).toBe(reads);
    expect(row((await health.report()).items, 'steady').silentForMs).toBe(5 * MINUTE + 20_000);
    expect((await health.report()).observedAt).toBe(first.observedAt);
    now += 11_000;
    await receive('steady', now);
    const fresh = await health.report();
    expect(search.mock.calls.length).toBe(2 * reads);
    expect(row(fresh.items, 'steady').silentForMs).toBe(0);
    expect(fresh.observedAt).toBe(new Date(now).toISOString());
  });

  it('publishes the report as gauges in the default registry, brought up to date on scrape', async () => {
    account('steady');
    account('never');
    await steady('steady', 30, 10 * MINUTE, NOW - 25 * MINUTE);
    const last = (NOW - 25 * MINUTE) / 1000;
    const text = await register.metrics();
    expect(text).toContain(`${SOURCE_QUIET_METRIC}{account="steady",serial=""} 1`);
    expect(text).toContain(`${SOURCE_QUIET_METRIC}{account="steady",serial="SN1"} 1`);
    expect(text).toContain(`${SOURCE_QUIET_METRIC}{account="never",serial=""} 0`);
    expect(text).toContain(`${SOURCE_LAST_SEEN_METRIC}{account="steady",serial=""} ${last}`);
    expect(text).not.toContain(`${SOURCE_LAST_SEEN_METRIC}{account="never"`);

    now += MINUTE;
    await receive('steady', now);
    expect(await register.getSingleMetricAsString(SOURCE_QUIET_METRIC)).toContain(`${SOURCE_QUIET_METRIC}{account="steady",serial=""} 0`);
  });

  it('accepts expectEvery as a whole number and a unit, and refuses anything else', () => {
    const parse = (expectEvery: unknown) => accountSchema.safeParse({ name: 'cam', passwordHash: 'scrypt$x', expectEvery }).success;
    expect(['30s', '15m', '2h', '1d'].map(parse)).toEqual([true, true, true, true]);
    expect(['0m', '15', '1.5h', '15 m', '2w', '', 15].map(parse)).toEqual([false, false, false, false, false, false, false]);
  });
});
