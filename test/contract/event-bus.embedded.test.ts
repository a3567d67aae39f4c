import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SqliteEventBus } from '../../shared/adapters/sqlite-event-bus.adapter';
import { consumerRunnerContract } from './consumer-runner.contract';
import { eventBusContract } from './event-bus.contract';

eventBusContract('SQLite log (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bus-'));
  const file = path.join(dir, 'bus.sqlite');
  return {
    open: async () => new SqliteEventBus({ file, logger: pino({ level: 'silent' }), pollIntervalMs: 50 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

consumerRunnerContract(
  'SQLite log (embedded)',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runner-'));
    const file = path.join(dir, 'bus.sqlite');
    return {
      open: async () => new SqliteEventBus({ file, logger: pino({ level: 'silent' }), pollIntervalMs: 50 }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { sessionTimeoutMs: 0 },
);
