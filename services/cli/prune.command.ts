import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectImageFile } from '../../shared/image/image-type';
import type { ListedObject } from '../../shared/ports/object-store.port';
import { tempNameMatcher } from '../ingest/temp-names';
import { UsageError, parseCommandArgs, parseSince, startProgress, type CommandContext, type Progress } from './cli.io';

export const PRUNE_USAGE = `  npm run cli -- prune --older-than 30d [--dry-run]
                 (dead letters, quarantined rejects, broken-off FTP uploads, spool debris, superseded manifests)`;

/** Dead letters counted for a dry run at most (the index lists the newest first). */
const DRY_RUN_SCAN = 10_000;

interface Tally {
  count: number;
  bytes: number;
}

/** What one kind of leftover came to. */
type Report = Record<'deadLetters' | 'quarantine' | 'uploads' | 'spool' | 'manifests', Tally>;

const LABELS: Record<keyof Report, string> = {
  deadLetters: 'dead letters (index)',
  quarantine: 'quarantined rejects (this node)',
  uploads: 'broken-off FTP uploads (this node)',
  spool: 'spool debris (this node)',
  manifests: 'superseded manifests (store)',
};

/** Files directly or deeply in `dir` last written before `cutoff`; none when it does not exist. Links are never followed. */
async function* oldFiles(dir: string, cutoff: Date, recursive: boolean): AsyncGenerator<{ file: string; name: string; bytes: number }> {
  const entries = await fs.readdir(dir, { recursive, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const stat = await fs.lstat(file).catch(() => null);
    if (stat?.isFile() && stat.mtime < cutoff) yield { file, name: entry.name, bytes: stat.size };
  }
}

/**
 * `cli prune`: drops what nobody will come back for once it is older than the cutoff. Never an
 * original, a rendition, an indexed image or a spool entry that ingest can still re-drive.
 */
export async function pruneCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${PRUNE_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  if (positionals.length > 0 || typeof values['older-than'] !== 'string') throw new UsageError(`--older-than is required\n${usage}`);
  if (/^\d{4}-/.test(values['older-than'])) throw new UsageError(`--older-than takes an age such as 30d or 12h, not a time`);
  const cutoff = parseSince('--older-than', values['older-than']);
  const dryRun = values['dry-run'] === true;
  const { adapters, config, accounts, io } = ctx;
  const report: Report = { deadLetters: zero(), quarantine: zero(), uploads: zero(), spool: zero(), manifests: zero() };
  const progress = startProgress(io, 'prune', 0);
  const drop = async (kind: keyof Report, bytes: number, remove: () => Promise<unknown>) => {
    if (!dryRun) await remove();
    report[kind].count++;
    report[kind].bytes += bytes;
    progress.setTotal(progress.done() + 1);
    progress.tick(1, kind);
  };

  if (dryRun) {
    const old = (await adapters.index.failures(DRY_RUN_SCAN)).filter((f) => new Date(f.failedAt) < cutoff);
    report.deadLetters.count = old.length;
  } else {
    report.deadLetters.count = await adapters.index.deleteFailures(cutoff);
  }

  for await (const { file, bytes } of oldFiles(path.join(config.dataDir, 'quarantine'), cutoff, false)) {
    await drop('quarantine', bytes, () => fs.rm(file, { force: true }));
  }

  // A temp name or an image without its end marker, untouched for the whole age: its client is not coming back.
  // A complete image is left for orphan recovery to ingest at the next start.
  const isTempName = tempNameMatcher(config.ftp.tempNamePatterns);
  await accounts.refresh();
  for (const account of accounts.list()) {
    for await (const { file, name, bytes } of oldFiles(account.home, cutoff, true)) {
      if (!isTempName(name) && (await inspectImageFile(file, bytes))?.complete) continue;
      await drop('uploads', bytes, () => fs.rm(file, { force: true }));
    }
  }

  // Journaled entries (<id>.json) are uploads ingest re-drives; everything else old is a dead worker's debris.
  const spool = path.join(config.dataDir, 'spool');
  const journals = new Set((await fs.readdir(spool).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
  let stuck = 0;
  for await (const { file, name, bytes } of oldFiles(spool, cutoff, false)) {
    if (journals.has(name.split('.')[0])) {
      if (name.endsWith('.json')) stuck++;
      continue;
    }
    await drop('spool', bytes, () => fs.rm(file, { force: true }));
  }

  await pruneManifests(ctx, cutoff, (bytes, key) => drop('manifests', bytes, () => adapters.store.delete(key)), progress);
  progress.stop();

  const verb = dryRun ? 'would prune' : 'pruned';
  for (const kind of Object.keys(LABELS) as (keyof Report)[]) {
    const { count, bytes } = report[kind];
    io.out(`${verb}\t${count}\t${LABELS[kind]}${bytes ? `\t${size(bytes)}` : ''}`);
  }
  if (stuck > 0) io.out(`kept\t${stuck}\tspool uploads older than the cutoff: ingest re-drives them at start; see its log for why they are not stored`);
  io.out(`${verb} everything older than ${cutoff.toISOString()}`);
  return 0;
}

function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}

function zero(): Tally {
  return { count: 0, bytes: 0 };
}

/**
 * A manifest names what processing under one policy made; renditions are keyed by name, not by
 * policy, so once a newer manifest of the image exists an older one describes files that were
 * overwritten. Old ones past the cutoff go; the newest of each image always stays.
 */
async function pruneManifests(ctx: CommandContext, cutoff: Date, drop: (bytes: number, key: string) => Promise<void>, progress: Progress): Promise<void> {
  let folder = '';
  let manifests: ListedObject[] = [];
  const flush = async () => {
    const newest = manifests.reduce<ListedObject | null>((a, m) => (!a || m.modifiedAt > a.modifiedAt ? m : a), null);
    for (const m of manifests) if (m !== newest && new Date(m.modifiedAt) < cutoff) await drop(m.bytes, m.key);
    manifests = [];
  };
  let seen = 0;
  for await (const object of ctx.adapters.store.list('renditions/')) {
    const slash = object.key.lastIndexOf('/');
    const dir = object.key.slice(0, slash);
    if (dir !== folder) {
      await flush();
      folder = dir;
    }
    if (/^manifest-[0-9a-f]+\.json$/.test(object.key.slice(slash + 1))) manifests.push(object);
    if (++seen % 1000 === 0) progress.tick(0, `${seen} objects listed`);
  }
  await flush();
}
