import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Account } from '../../shared/accounts';
import { createAdapters, type Adapters } from '../../shared/adapters/adapters.factory';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import { IngestError } from '../../shared/errors';
import { readErasureRecord } from '../../shared/erasure-record';
import { mergeProcessed } from '../../shared/index-document';
import type { ImageIndex } from '../../shared/ports/image-index.port';
import { Eraser } from '../../services/privacy/eraser';
import { RetentionSweep, retentionVerdict } from '../../services/privacy/retention.sweep';
import { processedEvent, source } from '../helpers/events';

const DAY_MS = 86_400_000;
const NOW = new Date('2026-06-01T00:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY_MS).toISOString();
const account = (name: string, retentionDays?: number) => ({ name, retentionDays }) as Account;

describe('retention verdict', () => {
  const accounts = new Map([
    ['cam1', account('cam1', 30)],
    ['partner', account('partner', 90)],
    ['archive', account('archive')],
  ]);
  const lookup = (name: string) => accounts.get(name) ?? null;
  const delivered = (...deliveries: [string, number][]) => {
    const [first, ...rest] = deliveries.map(([name, days]) => processedEvent({ source: source({ account: name, path: `/${name}.jpg`, receivedAt: daysAgo(days) }) }));
    return rest.reduce((doc, event) => mergeProcessed(doc, { ...event, id: first.id }), mergeProcessed(null, first));
  };

  it('erases an image once its account’s retention has passed since the delivery', () => {
    expect(retentionVerdict(delivered(['cam1', 31]), lookup, NOW)).toEqual({ due: true, reason: 'retention passed for every delivering account (cam1 30 d)' });
    expect(retentionVerdict(delivered(['cam1', 29]), lookup, NOW)).toEqual({ due: false, keptBy: 'cam1' });
  });

  it('keeps an image delivered by several accounts until every one of their retentions has passed', () => {
    expect(retentionVerdict(delivered(['cam1', 40], ['partner', 60]), lookup, NOW)).toEqual({ due: false, keptBy: 'partner' });
    expect(retentionVerdict(delivered(['cam1', 40], ['partner', 100]), lookup, NOW)).toMatchObject({ due: true, reason: expect.stringContaining('partner 90 d, cam1 30 d') });
  });

  it('keeps an image an account without retention (or no longer configured) delivered, and counts from an account’s last re-send', () => {
    expect(retentionVerdict(delivered(['cam1', 400], ['archive', 400]), lookup, NOW)).toEqual({ due: false, keptBy: 'archive' });
    expect(retentionVerdict(delivered(['cam1', 400], ['gone', 400]), lookup, NOW)).toEqual({ due: false, keptBy: 'gone' });
    // The same file sent again 10 days ago: cam1's clock starts again.
    const resent = delivered(['cam1', 400]);
    const again = mergeProcessed(resent, processedEvent({ id: resent.id, source: { ...resent.sources[0], receivedAt: daysAgo(10) } }));
    expect(retentionVerdict(again, lookup, NOW)).toEqual({ due: false, keptBy: 'cam1' });
  });
});

describe('retention sweep schedule', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('sweeps first after a random share of the interval, then every interval, and not after stop', async () => {
    jest.useFakeTimers();
    jest.spyOn(Math, 'random').mockReturnValue(0.25);
    const searched: unknown[] = [];
    const index = { search: async (q: unknown) => (searched.push(q), { total: 0, totalRelation: 'eq', items: [], next: null }) } as unknown as ImageIndex;
    const sweep = new RetentionSweep({ index, accounts: () => [account('cam1', 30)], eraser: {} as Eraser, logger: pino({ level: 'silent' }) });
    const stop = sweep.start(60_000);
    await jest.advanceTimersByTimeAsync(14_999);
    expect(searched).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(searched).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(searched).toHaveLength(3);
    await stop();
    await jest.advanceTimersByTimeAsync(600_000);
    expect(searched).toHaveLength(3);
  });
});

describe('eraser', () => {
  let dir: string;
  let config: Readonly<Config>;
  let adapters: Adapters;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'eraser-'));
    config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        stores: [
          { name: 'a', region: 'eu-west', role: 'primary', local: { dir: 'a' } },
          { name: 'b', region: 'eu-north', role: 'replica', local: { dir: 'b' } },
        ],
      },
    });
    adapters = createAdapters(config, pino({ level: 'silent' }));
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An image indexed, stored in both stores and in cam1's FTP view. */
  async function stored() {
    const event = processedEvent();
    await adapters.index.upsert(event);
    for (const { store } of adapters.stores) for (const { key } of [event.original, ...event.renditions]) await store.put(key, Buffer.from('x'), 'image/jpeg');
    await adapters.deliveries.put('cam1', event.source.path, { imageId: event.id, size: 1, modifiedAt: event.receivedAt, originalKey: event.original.key, contentType: 'image/jpeg' });
    return event;
  }

  it('finishes an erasure that failed half-way when repeated, publishing its event once, under its first time', async () => {
    const event = await stored();
    const published: unknown[] = [];
    const publish = adapters.bus.publish.bind(adapters.bus);
    let busDown = true;
    adapters.bus.publish = async (topic, key, value) => {
      if (busDown) throw new IngestError('BUS_UNAVAILABLE', 'broker down', { retriable: true });
      published.push(value);
      return publish(topic, key, value);
    };
    const eraser = new Eraser({ ...adapters, config, logger: pino({ level: 'silent' }) });
    const request = { trigger: 'operator', by: 'alice', reason: 'asked' } as const;

    await expect(eraser.erase(event.id, request)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    // Everything removed, the record written first and not complete.
    const half = await readErasureRecord(adapters.store, event.id);
    expect(half?.erasures).toEqual([expect.objectContaining({ by: 'alice', completedAt: null, indexed: true })]);
    expect(await adapters.index.get(event.id)).toBeNull();

    busDown = false;
    const finished = await eraser.erase(event.id, { trigger: 'operator', by: 'bob', reason: 'again' });
    expect(finished).toMatchObject({ status: 'erased', erasure: { by: 'alice', erasedAt: half!.erasures[0].erasedAt, deliveries: [{ account: 'cam1', files: 1 }] } });
    expect(published).toEqual([{ schema: 'images.erased/v1', id: event.id, erasedAt: half!.erasures[0].erasedAt, trigger: 'operator', by: 'alice', reason: 'asked' }]);
    const record = await readErasureRecord(adapters.store, event.id);
    expect(record?.erasures).toHaveLength(1);
    expect(record?.erasures[0].completedAt).toEqual(expect.any(String));

    expect(await eraser.erase(event.id, request)).toMatchObject({ status: 'already-erased' });
    expect(published).toHaveLength(1);
  });

  it('says an image it never held is not found, and writes nothing', async () => {
    const eraser = new Eraser({ ...adapters, config, logger: pino({ level: 'silent' }) });
    const id = processedEvent().id;
    expect(await eraser.erase(id, { trigger: 'operator', by: 'alice', reason: 'asked' })).toEqual({ status: 'not-found' });
    expect(await readErasureRecord(adapters.store, id)).toBeNull();
  });
});

describe('configuration of retention', () => {
  it('refuses a sweep interval under a second and an account retention of 0 days, naming the key', () => {
    expect(() => loadConfig({ env: {}, overrides: { retention: { sweepIntervalMs: 10 } } })).toThrow(/retention\.sweepIntervalMs/);
    expect(() => loadConfig({ env: {}, overrides: { accounts: [{ name: 'cam1', passwordHash: 'scrypt$x', retentionDays: 0 }] } })).toThrow(/accounts\.0\.retentionDays/);
    expect(loadConfig({ env: {} }).retention.sweepIntervalMs).toBe(3_600_000);
  });
});
