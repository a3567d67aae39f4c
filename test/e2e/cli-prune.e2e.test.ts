import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AccountDirectory, hashPassword } from '../../shared/accounts';
import { createAdapters, type Adapters } from '../../shared/adapters/adapters.factory';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import { UsageError, type CommandContext } from '../../services/cli/cli.io';
import { pruneCommand } from '../../services/cli/prune.command';
import { failedEvent, fakeId } from '../helpers/events';
import { cameraJpeg, truncate } from '../helpers/fixtures';

const DAY = 86_400_000;

describe('cli prune on the embedded adapters', () => {
  let dir: string;
  let config: Readonly<Config>;
  let adapters: Adapters;
  const out: string[] = [];
  let ctx: CommandContext;
  const files: Record<string, string> = {};
  let manifests: Record<'older' | 'newer' | 'only', string>;

  /** Writes a file (or object) and backdates it by `days`. */
  function aged(file: string, data: Buffer | string, days: number): string {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, data);
    const when = new Date(Date.now() - days * DAY);
    utimesSync(file, when, when);
    return file;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-prune-'));
    config = loadConfig({ env: {}, overrides: { dataDir: dir, log: { level: 'silent' }, accounts: [{ name: 'cam1', passwordHash: await hashPassword('correct horse battery') }] } });
    adapters = createAdapters(config, pino({ level: 'silent' }));
    ctx = {
      config,
      adapters,
      accounts: new AccountDirectory(config, adapters.store),
      logger: pino({ level: 'silent' }),
      io: { out: (l) => out.push(l), err: () => undefined, tty: null },
    };
    await adapters.index.recordFailure(failedEvent({ failedAt: new Date(Date.now() - 60 * DAY).toISOString() }));
    await adapters.index.recordFailure(failedEvent({ failedAt: new Date(Date.now() - DAY).toISOString() }));
    const jpeg = await cameraJpeg();
    const home = path.join(dir, 'ftp', 'cam1');
    files.oldPart = aged(path.join(home, 'DCIM', 'a.jpg.part'), jpeg, 60);
    files.oldBroken = aged(path.join(home, 'DCIM', 'broken.jpg'), truncate(jpeg), 60);
    files.oldComplete = aged(path.join(home, 'DCIM', 'complete.jpg'), jpeg, 60);
    files.newPart = aged(path.join(home, 'b.jpg.part'), jpeg, 1);
    files.oldQuarantine = aged(path.join(dir, 'quarantine', 'x-notes.txt'), 'text', 60);
    files.newQuarantine = aged(path.join(dir, 'quarantine', 'y-notes.txt'), 'text', 1);
    files.oldSpoolTmp = aged(path.join(dir, 'spool', 'abc.tmp'), 'x', 60);
    files.stuckJournal = aged(path.join(dir, 'spool', 'def.json'), '{}', 60);
    files.stuckData = aged(path.join(dir, 'spool', 'def.data'), jpeg, 60);
    files.newSpoolTmp = aged(path.join(dir, 'spool', 'ghi.tmp'), 'x', 1);
    const id = fakeId();
    const other = fakeId();
    const folder = (i: string) => `renditions/${i.slice(0, 2)}/${i.slice(2, 4)}/${i}`;
    manifests = { older: `${folder(id)}/manifest-aaaa.json`, newer: `${folder(id)}/manifest-bbbb.json`, only: `${folder(other)}/manifest-cccc.json` };
    for (const [name, key] of Object.entries(manifests)) {
      await adapters.store.put(key, Buffer.from('{}'), 'application/json');
      const when = new Date(Date.now() - (name === 'older' ? 60 : 50) * DAY);
      utimesSync(path.join(dir, 'objects', key), when, when);
    }
  });
  afterAll(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const present = () => Object.fromEntries(Object.entries(files).map(([name, file]) => [name, existsSync(file)]));

  it('reports on a dry run and removes nothing', async () => {
    out.length = 0;
    expect(await pruneCommand(ctx, ['--older-than', '30d', '--dry-run'])).toBe(0);
    expect(out).toContainEqual('would prune\t1\tdead letters (index)');
    expect(out).toContainEqual(expect.stringMatching(/^would prune\t2\tbroken-off FTP uploads/));
    expect(Object.values(present()).every(Boolean)).toBe(true);
    expect(await adapters.index.failures(10)).toHaveLength(2);
  });

  it('removes only what is older than the cutoff, and never a re-drivable spool entry or the newest manifest', async () => {
    out.length = 0;
    expect(await pruneCommand(ctx, ['--older-than', '30d'])).toBe(0);
    expect(present()).toEqual({
      oldPart: false,
      oldBroken: false,
      oldComplete: true,
      newPart: true,
      oldQuarantine: false,
      newQuarantine: true,
      oldSpoolTmp: false,
      stuckJournal: true,
      stuckData: true,
      newSpoolTmp: true,
    });
    expect(await adapters.index.failures(10)).toHaveLength(1);
    expect(await adapters.store.head(manifests.older)).toBeNull();
    expect(await adapters.store.head(manifests.newer)).not.toBeNull();
    expect(await adapters.store.head(manifests.only)).not.toBeNull();
    expect(out).toContainEqual(expect.stringMatching(/^pruned\t1\tsuperseded manifests \(store\)\t1 kB$/));
    expect(out).toContainEqual(expect.stringMatching(/^kept\t1\tspool uploads/));
  });

  it('asks for an age and refuses anything else', async () => {
    await expect(pruneCommand(ctx, [])).rejects.toThrow(/--older-than is required/);
    await expect(pruneCommand(ctx, ['--older-than', 'a month'])).rejects.toThrow(UsageError);
    await expect(pruneCommand(ctx, ['--older-than', '2024-01-01'])).rejects.toThrow(/an age such as 30d/);
  });
});
