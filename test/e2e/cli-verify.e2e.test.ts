import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AccountDirectory } from '../../shared/accounts';
import { createAdapters, type Adapters } from '../../shared/adapters/adapters.factory';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import type { ImageProcessedEvent, ImageReplicatedEvent } from '../../shared/contracts/events';
import { originalKey, renditionKey } from '../../shared/image/object-keys';
import type { BusMessage } from '../../shared/ports/event-bus.port';
import { UsageError, type CommandContext } from '../../services/cli/cli.io';
import { statusCommand } from '../../services/cli/status.command';
import { verifyCommand } from '../../services/cli/verify.command';
import { processedEvent } from '../helpers/events';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('cli verify on the embedded adapters with a replica folder', () => {
  let dir: string;
  let config: Readonly<Config>;
  let adapters: Adapters;
  let out: string[];
  let ctx: CommandContext;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-verify-'));
    config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        log: { level: 'silent' },
        stores: [
          { name: 'a', region: 'eu-west', role: 'primary', local: { dir: 'objects' } },
          { name: 'b', region: 'eu-north', role: 'replica', local: { dir: 'replica' } },
        ],
      },
    });
    adapters = createAdapters(config, pino({ level: 'silent' }));
    out = [];
    ctx = { config, adapters, accounts: new AccountDirectory(config, adapters.store), logger: pino({ level: 'silent' }), io: { out: (l) => out.push(l), err: () => undefined, tty: null } };
  });
  afterEach(async () => {
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const [primary, replica] = [() => adapters.stores[0].store, () => adapters.stores[1].store];

  /** An indexed image whose original and thumbnail are in the primary, and in the replica when `replicated`. */
  async function image(replicated: boolean): Promise<{ event: ImageProcessedEvent; original: Buffer; thumb: Buffer }> {
    const [original, thumb] = [randomBytes(50_000), randomBytes(5_000)];
    const id = sha256(original);
    const [okey, tkey] = [originalKey(id, 'jpg'), renditionKey(id, 'thumb', 'webp')];
    for (const store of replicated ? [primary(), replica()] : [primary()]) {
      await store.put(okey, original, 'image/jpeg');
      await store.put(tkey, thumb, 'image/webp');
    }
    const base = processedEvent({ id });
    const event: ImageProcessedEvent = {
      ...base,
      original: { key: okey, bytes: original.length, contentType: 'image/jpeg', location: primary().locate(okey) },
      renditions: [{ ...base.renditions[0], key: tkey, bytes: thumb.length, location: primary().locate(tkey) }],
      locations: [
        { role: 'original', name: 'original', ...primary().locate(okey) },
        { role: 'rendition', name: 'thumb', ...primary().locate(tkey) },
      ],
    };
    await adapters.index.upsert(event);
    return { event, original, thumb };
  }

  it('finds every copy intact and exits 0', async () => {
    await image(true);
    await image(true);
    expect(await verifyCommand(ctx, ['--all'])).toBe(0);
    expect(out.at(-1)).toMatch(/^2 image\(s\) checked in a, b: 8 copies intact, 0 repaired, 0 could not be repaired/);
  });

  it('shows the lag of the replicator and of indexing the copies in cli status', async () => {
    expect(await statusCommand(ctx, [])).toBe(0);
    expect(out).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}replicator\timages\.processed\t0 behind/), expect.stringMatching(/^ {2}indexer-replicas\timages\.replicated\t0 behind/)]));
  });

  it('copies again what is missing or wrong from a good copy, in either direction, and the result verifies', async () => {
    const one = await image(true);
    const two = await image(true);
    await replica().delete(one.event.renditions[0].key);
    const rotten = Buffer.from(two.original);
    rotten[10] ^= 0xff;
    await primary().put(two.event.original.key, rotten, 'image/jpeg');

    expect(await verifyCommand(ctx, [])).toBe(0);
    expect(out.at(-1)).toMatch(/6 copies intact, 2 repaired, 0 could not be repaired/);
    expect(await replica().getBuffer(one.event.renditions[0].key)).toEqual(one.thumb);
    expect(await primary().getBuffer(two.event.original.key)).toEqual(two.original);
    out = [];
    expect(await verifyCommand(ctx, ['--sample', '1'])).toBe(0);
    expect(out.at(-1)).toMatch(/^1 image\(s\) checked in a, b: 4 copies intact/);
  });

  it('reports without repairing in a dry run, and checks only the store it is given', async () => {
    const { event } = await image(true);
    await replica().delete(event.original.key);
    expect(await verifyCommand(ctx, ['--store', 'a'])).toBe(0);
    expect(await verifyCommand(ctx, ['--store', 'b', '--dry-run'])).toBe(1);
    expect(out).toContain(`wrong ${event.id} original in b (missing)`);
    expect(out.at(-1)).toMatch(/in b: 1 copies intact, 1 missing or wrong \(dry run: nothing repaired\)/);
    expect(await replica().head(event.original.key)).toBeNull();
    await expect(verifyCommand(ctx, ['--store', 'c'])).rejects.toThrow(UsageError);
  });

  it('exits 1 naming what no store holds intact', async () => {
    const { event } = await image(true);
    await primary().delete(event.original.key);
    await replica().put(event.original.key, randomBytes(10), 'image/jpeg');
    expect(await verifyCommand(ctx, ['--all'])).toBe(1);
    expect(out).toContain(`unrepaired ${event.id} original in a (missing): no good copy in any store`);
    expect(out.at(-1)).toMatch(/2 copies intact, 0 repaired, 2 could not be repaired/);
  });

  it('fills a replica added after an image was stored, and announces its copies to the indexer', async () => {
    const { event, original } = await image(false);
    const seen: BusMessage<unknown>[] = [];
    const subscription = await adapters.bus.subscribe({ group: `verify-check-${Date.now()}`, topics: [config.bus.topics.replicated], handle: async (m) => void seen.push(m) });
    try {
      expect(await verifyCommand(ctx, ['--all'])).toBe(0);
      expect(await replica().getBuffer(event.original.key)).toEqual(original);
      const [message] = await waitFor(() => seen.length > 0 && seen, 10_000, 'the replicated event');
      assertEvent('replicated', message.value);
      const replicated = message.value as ImageReplicatedEvent;
      expect(replicated).toMatchObject({ id: event.id, store: 'b', region: 'eu-north' });
      expect(replicated.locations.map((l) => [l.role, l.key, l.sha256 === event.id])).toEqual([
        ['original', event.original.key, true],
        ['rendition', event.renditions[0].key, false],
      ]);
    } finally {
      await subscription.stop();
    }
  });
});
