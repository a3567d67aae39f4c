import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AccountDirectory } from '../../shared/accounts';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import type { Config } from '../../shared/config/config.schema';
import { SCHEMAS, type ImageFailedEvent } from '../../shared/contracts/events';
import { originalKey } from '../../shared/image/object-keys';
import type { ImageIndex, ImageQuery } from '../../shared/ports/image-index.port';
import { UsageError, type CommandContext } from '../../services/cli/cli.io';
import { failuresCommand } from '../../services/cli/failures.command';
import { reindexCommand } from '../../services/cli/reindex.command';
import { reprocessCommand } from '../../services/cli/reprocess.command';
import { statusCommand } from '../../services/cli/status.command';
import { startTestApp, type TestApp } from '../helpers/app';
import { cameraJpeg } from '../helpers/fixtures';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** What a command printed: results on out, progress and notes on err. */
interface Captured {
  out: string[];
  err: string[];
}

describe('the operations CLI against the running embedded product', () => {
  let t: TestApp;
  let canon: string;
  let nikon: string;

  /** The commands' context over the product's own adapters; `config` may change a rendition profile, as an operator would. */
  function context(config: Readonly<Config> = t.config, index: ImageIndex = t.app.adapters.index): { ctx: CommandContext; captured: Captured } {
    const captured: Captured = { out: [], err: [] };
    const adapters = { ...t.app.adapters, index, close: async () => undefined };
    const ctx: CommandContext = {
      config,
      adapters,
      accounts: new AccountDirectory(config, adapters.store),
      logger: pino({ level: 'silent' }),
      io: { out: (l) => captured.out.push(l), err: (l) => captured.err.push(l), tty: null, plainEveryMs: 0 },
    };
    return { ctx, captured };
  }

  /** A profile whose thumbnail differs from the default one: a new policy, so a new manifest. */
  function withThumbWidth(width: number): Readonly<Config> {
    const renditions = t.config.renditionProfiles.default.map((r, i) => (i === 0 ? { ...r, width } : r));
    return { ...t.config, renditionProfiles: { ...t.config.renditionProfiles, default: renditions } };
  }

  function manifests(id: string): string[] {
    const dir = path.join(t.dataDir, 'objects', 'renditions', id.slice(0, 2), id.slice(2, 4), id);
    return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('manifest-') && n.endsWith('.json')) : [];
  }

  async function upload(name: string, data: Buffer): Promise<string> {
    await t.upload(name, data);
    const id = sha256(data);
    await waitFor(async () => (await t.app.adapters.index.get(id))?.status === 'processed', 20_000, `${name} indexed`);
    return id;
  }

  beforeAll(async () => {
    t = await startTestApp();
    canon = await upload('canon.jpg', await cameraJpeg({ make: 'Canon', model: 'EOS R5', seed: 1 }));
    nikon = await upload('nikon.jpg', await cameraJpeg({ make: 'NIKON', model: 'Z 6', seed: 2 }));
  });
  afterAll(async () => {
    await t.stop();
  });

  it('reprocesses one image by id under the changed profile: the processor renders a new manifest', async () => {
    expect(manifests(canon)).toHaveLength(1);
    const before = (await t.app.adapters.index.get(canon))!.processedAt!;
    const { ctx, captured } = context(withThumbWidth(111));
    expect(await reprocessCommand(ctx, [canon])).toBe(0);
    expect(captured.out.at(-1)).toMatch(/^1 image\(s\) re-published to images\.ingested, 0 skipped/);
    await waitFor(() => manifests(canon).length === 2, 20_000, 'a second manifest');
    await waitFor(async () => (await t.app.adapters.index.get(canon))!.processedAt! > before, 20_000, 'the image indexed again');
    const doc = (await t.app.adapters.index.get(canon))!;
    expect(doc.renditions.find((r) => r.name === t.config.renditionProfiles.default[0].name)!.width).toBeLessThanOrEqual(111);
    // A replay of the first receipt: the source is not counted twice.
    expect(doc.sources).toHaveLength(1);
    expect(doc.sources[0].count).toBe(1);
  });

  it('reprocesses what a search query matches, walking the cursor, and only that', async () => {
    const { ctx, captured } = context(withThumbWidth(97));
    expect(await reprocessCommand(ctx, ['--query', 'make=canon&account=cam1'])).toBe(0);
    expect(captured.out.at(-1)).toMatch(/^1 image\(s\) re-published/);
    expect(captured.err.some((l) => /^reprocess: 1\/1/.test(l))).toBe(true);
    await waitFor(() => manifests(canon).length === 3, 20_000, 'a third manifest');
    expect(manifests(nikon)).toHaveLength(1);
  });

  it('reprocess --all with an unchanged profile re-publishes everything and renders nothing new', async () => {
    const { ctx, captured } = context();
    expect(await reprocessCommand(ctx, ['--all'])).toBe(0);
    expect(captured.out.at(-1)).toMatch(/^2 image\(s\) re-published/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(manifests(nikon)).toHaveLength(1);
  });

  it('refuses bad input with a message that says what is wrong', async () => {
    const { ctx } = context();
    await expect(reprocessCommand(ctx, ['--all', '--query', 'make=canon'])).rejects.toThrow(/one image id, --query or --all/);
    await expect(reprocessCommand(ctx, ['--query', 'sort=sideways'])).rejects.toThrow(UsageError);
    await expect(reprocessCommand(ctx, ['f'.repeat(64)])).rejects.toThrow(/no image f+ in the index/);
    await expect(failuresCommand(ctx, ['list', '--since', 'yesterday'])).rejects.toThrow(/--since must be a duration/);
    await expect(failuresCommand(ctx, ['purge'])).rejects.toThrow(/failures list/);
    await expect(reindexCommand(ctx, ['--from', 'store'])).rejects.toThrow(/senders/);
    await expect(statusCommand(ctx, ['--nope'])).rejects.toThrow(/Unknown option/);
  });

  it('lists dead letters and re-drives a processor failure whose original now decodes; an ingest refusal is explained', async () => {
    // A good original that a processor once failed (an older decoder, say): stored, dead-lettered, indexed as failed.
    const bytes = await cameraJpeg({ make: 'Canon', model: 'EOS 5D', seed: 3 });
    const id = sha256(bytes);
    const key = originalKey(id, 'jpg');
    const { store, bus } = t.app.adapters;
    await store.put(key, bytes, 'image/jpeg');
    const receivedAt = new Date(Date.now() - 60_000).toISOString();
    const source = { protocol: 'ftp' as const, account: 'cam1', path: '/old.jpg', remoteAddress: null, receivedAt };
    const failed: ImageFailedEvent = {
      schema: SCHEMAS.failed,
      id,
      stage: 'processor',
      error: { code: 'CORRUPT_IMAGE', message: 'the decoder of the day could not read it' },
      attempts: 1,
      source,
      failedAt: receivedAt,
      image: { receivedAt, original: { key, bytes: bytes.length, contentType: 'image/jpeg', location: store.locate(key) } },
    };
    const refused: ImageFailedEvent = {
      schema: SCHEMAS.failed,
      id: null,
      stage: 'ingest',
      error: { code: 'NOT_AN_IMAGE', message: 'not an image' },
      attempts: 1,
      source: { ...source, path: '/notes.txt' },
      failedAt: receivedAt,
    };
    // An indexer failure that names no original and left no document: the original is found in the store.
    const unindexedBytes = await cameraJpeg({ make: 'Canon', model: 'EOS 6D', seed: 4 });
    const unindexed = sha256(unindexedBytes);
    await store.put(originalKey(unindexed, 'jpg'), unindexedBytes, 'image/jpeg');
    const { image: _described, ...bare } = failed;
    const indexerFailure: ImageFailedEvent = {
      ...bare,
      id: unindexed,
      stage: 'indexer',
      error: { code: 'INDEX_REJECTED', message: 'mapping conflict' },
      source: { ...source, path: '/lost.jpg' },
    };
    await bus.publish(t.config.bus.topics.failed, id, failed);
    await bus.publish(t.config.bus.topics.failed, 'x', refused);
    await bus.publish(t.config.bus.topics.failed, unindexed, indexerFailure);
    await waitFor(async () => (await t.app.adapters.index.get(id))?.status === 'failed', 20_000, 'the failed image indexed');
    await waitFor(async () => (await t.app.adapters.index.failures(10)).length >= 3, 20_000, 'three dead letters');

    const list = context();
    expect(await failuresCommand(list.ctx, ['list', '--code', 'CORRUPT_IMAGE', '--since', '1d'])).toBe(0);
    expect(list.captured.out).toHaveLength(1);
    expect(list.captured.out[0]).toContain(`processor\tCORRUPT_IMAGE\t${id}\tcam1:/old.jpg`);

    const dry = context();
    expect(await failuresCommand(dry.ctx, ['redrive', '--dry-run'])).toBe(0);
    expect(dry.captured.out.at(-1)).toMatch(/^2 would re-drive to images\.ingested, 1 not re-driven/);
    expect((await t.app.adapters.index.get(id))!.status).toBe('failed');

    const redrive = context();
    expect(await failuresCommand(redrive.ctx, ['redrive'])).toBe(0);
    expect(redrive.captured.out).toContainEqual(expect.stringMatching(new RegExp(`^re-driven\tprocessor\tCORRUPT_IMAGE\t${id}`)));
    expect(redrive.captured.out).toContainEqual(expect.stringMatching(/^not re-driven\tingest\tNOT_AN_IMAGE.*the sender must send the file again$/));
    await waitFor(async () => (await t.app.adapters.index.get(id))?.status === 'processed', 20_000, 'the re-driven image processed');
    await waitFor(async () => (await t.app.adapters.index.get(unindexed))?.status === 'processed', 20_000, 'the lost image processed');
    expect((await t.app.adapters.index.get(unindexed))!.sources[0].path).toBe('/lost.jpg');

    // Processed since: a second redrive leaves it alone.
    const again = context();
    await failuresCommand(again.ctx, ['redrive', '--code', 'CORRUPT_IMAGE']);
    expect(again.captured.out).toContainEqual(expect.stringMatching(/processed since it failed$/));
  });

  it('reindex from the topic rebuilds an empty index that answers searches as the live one does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-reindex-'));
    const fresh = new SqliteImageIndex(path.join(dir, 'index.sqlite'));
    try {
      const { ctx, captured } = context(t.config, fresh);
      expect(await reindexCommand(ctx, [])).toBe(0);
      expect(captured.out.at(-1)).toMatch(/^reindexed \d+ processed and \d+ failed event\(s\)/);
      const queries: ImageQuery[] = [
        { sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 50 },
        { make: 'canon', sort: { field: 'capturedAt', order: 'asc' }, page: 1, size: 50 },
        { status: 'processed', account: 'cam1', sort: { field: 'receivedAt', order: 'asc' }, page: 1, size: 50, facets: ['make', 'status'] },
      ];
      for (const query of queries) {
        const [live, rebuilt] = await Promise.all([t.app.adapters.index.search(query), fresh.search(query)]);
        expect(rebuilt.total).toBe(live.total);
        expect(rebuilt.items.map((d) => [d.id, d.status, d.sources.map((s) => [s.account, s.path, s.count])])).toEqual(
          live.items.map((d) => [d.id, d.status, d.sources.map((s) => [s.account, s.path, s.count])]),
        );
        expect(rebuilt.facets).toEqual(live.facets);
      }
      expect((await fresh.failures(10)).map((f) => f.error.code).sort()).toEqual((await t.app.adapters.index.failures(10)).map((f) => f.error.code).sort());
    } finally {
      await fresh.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('status prints lag, spool, counts, last errors and the last upload per account', async () => {
    const { ctx, captured } = context();
    expect(await statusCommand(ctx, [])).toBe(0);
    const text = captured.out.join('\n');
    for (const section of ['consumer lag', 'spool (this node', 'index', 'last errors', 'last upload per account']) expect(text).toContain(section);
    expect(text).toMatch(/processor\timages\.ingested\t\d+ behind/);
    expect(text).toContain('4 image(s): processed 4, failed 0');
    expect(text).toContain('CORRUPT_IMAGE');
    expect(text).toMatch(/ {2}cam1\t\d{4}-\d{2}-\d{2}T/);
    expect(text).toMatch(/ {2}office\tnever/);
  });
});
