import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { AccountDirectory } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import { SCHEMAS } from '../../shared/contracts/events';
import { UsageError, inParallel, parseSince, startProgress, type CliIo } from '../../services/cli/cli.io';
import { ingestedFromDocument, walkIndex } from '../../services/cli/reprocess.command';
import { processedEvent, source } from '../helpers/events';

const run = promisify(execFile);

describe('the CLI progress display', () => {
  it('prints plain progress lines off a terminal and one at the end', () => {
    const err: string[] = [];
    const io: CliIo = { out: () => undefined, err: (l) => err.push(l), tty: null, plainEveryMs: 0 };
    const progress = startProgress(io, 'reprocess', 3);
    progress.tick(1, '0 skipped');
    progress.tick(2, '1 skipped');
    progress.stop();
    expect(err).toHaveLength(3);
    expect(err[1]).toMatch(/^reprocess: 3\/3, 1 skipped \([\d.]+\/s\)$/);
    expect(progress.done()).toBe(3);
  });

  it('draws a cli-progress bar on a terminal', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let drawn = '';
    tty.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
    const progress = startProgress({ out: () => undefined, err: () => undefined, tty: tty as unknown as NodeJS.WriteStream }, 'reindex', 4);
    progress.tick(4, '4 processed');
    progress.stop();
    expect(drawn).toMatch(/reindex \[[█░=\- #]*\] 4\/4 100%/);
  });

  it('reads --since as an age or an ISO time and refuses anything else', () => {
    const now = Date.parse('2025-03-10T00:00:00Z');
    expect(parseSince('--since', '7d', now).toISOString()).toBe('2025-03-03T00:00:00.000Z');
    expect(parseSince('--since', '2025-03-01T12:00:00Z', now).toISOString()).toBe('2025-03-01T12:00:00.000Z');
    expect(() => parseSince('--since', 'last week', now)).toThrow(UsageError);
  });
});

describe('publishing in parallel', () => {
  it('keeps at most the limit running, finishes every task, and reports the first failure', async () => {
    const pool = inParallel(3);
    let running = 0;
    let most = 0;
    let finished = 0;
    for (let i = 0; i < 20; i++) {
      await pool.run(async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        finished++;
      });
    }
    await pool.drain();
    expect([most, finished]).toEqual([3, 20]);
    const failing = inParallel(2);
    await failing.run(async () => {
      throw new Error('broker down');
    });
    await expect(failing.drain()).rejects.toThrow('broker down');
  });
});

describe('reprocess over the index', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-reprocess-'));
  const index = new SqliteImageIndex(path.join(dir, 'index.sqlite'));
  afterAll(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('walks every match along the cursor, past a page', async () => {
    const events = Array.from({ length: 250 }, (_, i) =>
      processedEvent({ source: source({ path: `/${i}.jpg`, receivedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }) }),
    );
    for (const e of events) await index.upsert({ ...e, receivedAt: e.source.receivedAt });
    const totals: number[] = [];
    const seen: string[] = [];
    for await (const doc of walkIndex(index, { sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20 }, (t) => totals.push(t))) seen.push(doc.id);
    expect(totals).toEqual([250]);
    expect(new Set(seen).size).toBe(250);
    expect(seen[0]).toBe(events[249].id);
  });

  it('rebuilds the ingested event from the first source with the account policy as it is now', async () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: dir, log: { level: 'silent' } } });
    const accounts = new AccountDirectory(config, new LocalObjectStore(path.join(dir, 'objects')));
    const event = processedEvent({ source: source({ account: 'cam9', path: '/x.jpg' }) });
    await index.upsert(event);
    const rebuilt = ingestedFromDocument((await index.get(event.id))!, accounts)!;
    expect(rebuilt).toEqual({
      schema: SCHEMAS.ingested,
      id: event.id,
      receivedAt: event.receivedAt,
      source: { protocol: 'ftp', account: 'cam9', path: '/x.jpg', remoteAddress: '127.0.0.1', receivedAt: event.source.receivedAt },
      original: event.original,
      policy: accounts.policy('cam9'),
    });
  });
});

describe('cli accounts add --expect-every', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-accounts-'));
  const cli = (args: string[], input?: string) => {
    const child = run(path.join('node_modules', '.bin', 'tsx'), ['services/cli/cli.main.ts', ...args], { env: { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'silent' } });
    if (input !== undefined) child.child.stdin!.end(input);
    return child;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores the cadence, lists it, and refuses one that is not a duration', async () => {
    await cli(['accounts', 'add', 'cam7', '--expect-every', '2h'], 'correct horse battery\n');
    const { stdout } = await cli(['accounts', 'list']);
    expect(stdout).toMatch(/^cam7\t.*\texpect=2h$/m);
    const refused = await cli(['accounts', 'add', 'cam8', '--expect-every', 'hourly'], 'correct horse battery\n').catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('--expect-every must be a whole number and a unit') });
  }, 60_000);
});
