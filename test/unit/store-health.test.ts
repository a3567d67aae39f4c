import pino from 'pino';
import { register } from 'prom-client';
import { StoreHealth } from '../../services/search/store-health';
import { loadConfig } from '../../shared/config/config.loader';
import { IngestError } from '../../shared/errors';
import type { NamedStore, ObjectStore } from '../../shared/ports/object-store.port';
import { waitFor } from '../helpers/wait';

type Answer = 'ok' | 'fail' | 'hang';

/** A store whose ping answers as `answer` says at the time of the ping; counts its pings. */
function fakeStore(name: string, region: string, role: NamedStore['role'] = 'replica') {
  const fake = { answer: 'ok' as Answer, pings: 0 };
  const store = {
    ping: () => {
      fake.pings += 1;
      if (fake.answer === 'hang') return new Promise<void>(() => undefined);
      if (fake.answer === 'fail') return Promise.reject(new IngestError('STORE_UNAVAILABLE', `${name}: connect ECONNREFUSED`, { retriable: true }));
      return Promise.resolve();
    },
  } as unknown as ObjectStore;
  return { fake, named: { name, region, role, store } as NamedStore };
}

const gauge = async (store: string) =>
  (await register.getSingleMetric('image_ingest_store_up')!.get()).values.find((v) => v.labels.store === store)?.value;

const logger = pino({ level: 'silent' });

describe('store heartbeat', () => {
  it('marks a store down after downAfter failed heartbeats in a row and up after upAfter answers, in the gauge too', async () => {
    const [a, b] = [fakeStore('hb-a', 'eu-west', 'primary'), fakeStore('hb-b', 'eu-north')];
    const health = new StoreHealth({ stores: [a.named, b.named], intervalMs: 60_000, timeoutMs: 50, downAfter: 2, upAfter: 3, logger });
    expect(health.isUp('hb-a')).toBe(true);
    a.fake.answer = 'fail';
    await health.check();
    // One failed heartbeat is a blip.
    expect(health.isUp('hb-a')).toBe(true);
    a.fake.answer = 'ok';
    await health.check();
    a.fake.answer = 'fail';
    await health.check();
    expect(health.isUp('hb-a')).toBe(true);
    await health.check();
    expect(health.isUp('hb-a')).toBe(false);
    expect(await gauge('hb-a')).toBe(0);
    expect(health.report()[0]).toMatchObject({ name: 'hb-a', region: 'eu-west', role: 'primary', up: false, lastError: 'STORE_UNAVAILABLE' });
    expect(health.isUp('hb-b')).toBe(true);
    expect(await gauge('hb-b')).toBe(1);
    a.fake.answer = 'ok';
    await health.check();
    await health.check();
    expect(health.isUp('hb-a')).toBe(false);
    await health.check();
    expect(health.isUp('hb-a')).toBe(true);
    expect(await gauge('hb-a')).toBe(1);
  });

  it('counts a ping that does not answer within timeoutMs as failed', async () => {
    const a = fakeStore('hb-hang', 'eu-west', 'primary');
    const health = new StoreHealth({ stores: [a.named], intervalMs: 60_000, timeoutMs: 30, downAfter: 1, upAfter: 1, logger });
    a.fake.answer = 'hang';
    await health.check();
    expect(health.report()[0]).toMatchObject({ up: false, lastError: 'TIMEOUT' });
  });

  it('is readable while one store is up, and says which failed when none is', async () => {
    const [a, b] = [fakeStore('hb-r1', 'eu-west', 'primary'), fakeStore('hb-r2', 'eu-north')];
    const health = new StoreHealth({ stores: [a.named, b.named], intervalMs: 60_000, timeoutMs: 50, downAfter: 1, upAfter: 1, logger });
    a.fake.answer = 'fail';
    await health.check();
    await expect(health.anyReadable()).resolves.toBeUndefined();
    b.fake.answer = 'hang';
    await health.check();
    await expect(health.anyReadable()).rejects.toThrow(/hb-r1 STORE_UNAVAILABLE, hb-r2 TIMEOUT/);
  });

  it('beats on its own interval once started', async () => {
    const a = fakeStore('hb-timer', 'eu-west', 'primary');
    const health = new StoreHealth({ stores: [a.named], intervalMs: 100, timeoutMs: 50, downAfter: 2, upAfter: 1, logger });
    health.start();
    try {
      a.fake.answer = 'fail';
      await waitFor(() => !health.isUp('hb-timer'), 5_000, 'the store marked down by the heartbeat');
      expect(a.fake.pings).toBeGreaterThanOrEqual(2);
    } finally {
      await health.stop();
    }
  });

  it('has defaults and refuses a timeout that is not below the interval, naming the key', () => {
    expect(loadConfig({ env: {} }).storeHealth).toEqual({ intervalMs: 2000, timeoutMs: 1000, downAfter: 2, upAfter: 2 });
    expect(() => loadConfig({ env: {}, overrides: { storeHealth: { intervalMs: 1000, timeoutMs: 1000 } } })).toThrow(/storeHealth\.timeoutMs: must be below storeHealth\.intervalMs/);
    expect(() => loadConfig({ env: {}, overrides: { storeHealth: { downAfter: 0 } } })).toThrow(/storeHealth\.downAfter/);
  });
});
