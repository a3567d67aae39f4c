import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SqliteEventBus } from '../../shared/adapters/sqlite-event-bus.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import { IngestError } from '../../shared/errors';
import { OpsEndpoints } from '../../services/ops.http';
import { waitFor } from '../helpers/wait';

const logger = pino({ level: 'silent' });

describe('readiness', () => {
  it('names a part that does not answer within the timeout, and one that fails, by code', async () => {
    const ops = new OpsEndpoints({
      timeoutMs: 50,
      logger,
      checks: {
        bus: async () => undefined,
        // A ping that never settles: a broker that accepts the connection and says nothing.
        store: () => new Promise<void>(() => undefined),
        index: async () => {
          throw new IngestError('INDEX_UNAVAILABLE', 'Elasticsearch at http://10.0.0.5:9200 does not answer', { retriable: true });
        },
      },
    });
    expect(await ops.readiness()).toEqual({
      status: 'not ready',
      failing: ['store', 'index'],
      checks: { bus: 'ok', store: 'TIMEOUT', index: 'INDEX_UNAVAILABLE' },
    });
  });

  it('is ready when every part answers', async () => {
    const ops = new OpsEndpoints({ timeoutMs: 1_000, logger, checks: { bus: async () => undefined, store: async () => undefined } });
    expect(await ops.readiness()).toEqual({ status: 'ready', failing: [], checks: { bus: 'ok', store: 'ok' } });
  });
});

describe('ops configuration', () => {
  it('has no ops port unless asked, on loopback, with a 2 s readiness timeout', () => {
    expect(loadConfig({ env: {} }).ops).toEqual({ host: '127.0.0.1', port: null, readyTimeoutMs: 2_000 });
  });

  it('stops start with the key named when a value is bad', () => {
    expect(() => loadConfig({ env: {}, overrides: { ops: { port: 'nine' } } })).toThrow(/ops\.port/);
    expect(() => loadConfig({ env: {}, overrides: { ops: { readyTimeoutMs: 0 } } })).toThrow(/ops\.readyTimeoutMs/);
    expect(() => loadConfig({ env: {}, overrides: { ops: { port: 2121 }, ftp: { port: 2121 } } })).toThrow(/ops\.port: must differ from ftp\.port/);
  });
});

describe('the embedded log written before messages had headers', () => {
  it('opens it, delivers its messages without headers, and stores headers of new ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bus-legacy-'));
    const file = path.join(dir, 'bus.sqlite');
    try {
      const db = new Database(file);
      db.exec(`
        CREATE TABLE messages ("offset" INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, published_at INTEGER NOT NULL);
        CREATE TABLE consumer_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic));
      `);
      db.prepare('INSERT INTO messages (topic, key, value, published_at) VALUES (?, ?, ?, ?)').run('t', 'old', '{"n":1}', Date.now());
      db.close();

      const bus = new SqliteEventBus({ file, logger, pollIntervalMs: 20 });
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await bus.publish('t', 'new', { n: 2 }, { traceparent });
      const seen: { key: string; headers: Record<string, string> }[] = [];
      const subscription = await bus.subscribe({ group: 'g', topics: ['t'], handle: async (m) => void seen.push({ key: m.key, headers: m.headers }) });
      await waitFor(() => seen.length === 2, 10_000, 'both messages');
      await subscription.stop();
      await bus.close();
      expect(seen).toEqual([
        { key: 'old', headers: {} },
        { key: 'new', headers: { traceparent } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
