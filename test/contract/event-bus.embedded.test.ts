import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SqliteEventBus } from '../../shared/adapters/sqlite-event-bus.adapter';
import { consumerRunnerContract } from './consumer-runner.contract';
import { eventBusContract, type EventBusHarness } from './event-bus.contract';

/** Clients share one file, as processes on one machine share the log. */
async function harness(prefix: string): Promise<EventBusHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const file = path.join(dir, 'bus.sqlite');
  return {
    open: async () => new SqliteEventBus({ file, logger: pino({ level: 'silent' }), pollIntervalMs: 50 }),
    // A log whose database is closed: what a process sees after its file handle is gone.
    unreachable: async () => {
      const bus = new SqliteEventBus({ file: path.join(dir, 'closed.sqlite'), logger: pino({ level: 'silent' }) });
      await bus.close();
      return Object.assign(bus, { close: async () => undefined });
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

eventBusContract('SQLite log (embedded)', () => harness('bus-'));
consumerRunnerContract('SQLite log (embedded)', () => harness('runner-'), { sessionTimeoutMs: 0 });
