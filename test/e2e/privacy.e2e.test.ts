import { createHash } from 'node:crypto';
import pino from 'pino';
import { AccountDirectory, hashPassword } from '../../shared/accounts';
import { SCHEMAS, type ImageErasedEvent, type ImageProcessedEvent } from '../../shared/contracts/events';
import { readErasureRecord } from '../../shared/erasure-record';
import { imageKeyPrefixes } from '../../shared/image/object-keys';
import type { BusMessage, Subscription } from '../../shared/ports/event-bus.port';
import type { NamedStore } from '../../shared/ports/object-store.port';
import type { CommandContext } from '../../services/cli/cli.io';
import { eraseCommand } from '../../services/cli/erase.command';
import { keysCommand } from '../../services/cli/keys.command';
import { OPENAPI_DOCUMENT } from '../../services/search/openapi';
import { retentionCommand } from '../../services/cli/retention.command';
import { PASSWORD, startTestApp, type TestApp } from '../helpers/app';
import { processedEvent, source } from '../helpers/events';
import { cameraJpeg } from '../helpers/fixtures';
import { OpenApiChecker, type Exchange } from '../helpers/openapi';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const DAY_MS = 86_400_000;

describe('erasure and retention (embedded, a primary and a replica store)', () => {
  let t: TestApp;
  let operator: string;
  let analyst: string;
  let seen: BusMessage<unknown>[];
  let subscription: Subscription;

  beforeAll(async () => {
    const passwordHash = await hashPassword(PASSWORD);
    t = await startTestApp({
      http: { auth: 'key' },
      accountSync: { refreshMs: 200 },
      // No replicator: the test copies to the replica itself, so what is there before an erasure is known.
      services: ['ingest', 'processor', 'indexer', 'search'],
      stores: [
        { name: 'local-a', region: 'eu-west', role: 'primary', local: { dir: 'objects' } },
        { name: 'replica-b', region: 'eu-north', role: 'replica', local: { dir: 'replica' } },
      ],
      accounts: [
        { name: 'cam1', passwordHash },
        { name: 'retained', passwordHash, retentionDays: 30 },
      ],
      // The periodic sweep stays out of the way; `cli retention` runs the same sweep on demand.
      retention: { sweepIntervalMs: 7 * DAY_MS },
    });
    operator = (await keysCommand(t.app.adapters.store, ['add', 'operator1', '--role', 'operator'])).stdout[0];
    analyst = (await keysCommand(t.app.adapters.store, ['add', 'analyst1', '--role', 'analyst'])).stdout[0];
    seen = [];
    const { processed, erased } = t.config.bus.topics;
    subscription = await t.app.adapters.bus.subscribe({ group: `privacy-check-${Date.now()}`, topics: [processed, erased], handle: async (m) => void seen.push(m) });
  });
  afterAll(async () => {
    await subscription.stop();
    await t.stop();
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const stores = (): NamedStore[] => t.app.adapters.stores;
  const erasedEvents = (id: string) => seen.filter((m) => m.topic === t.config.bus.topics.erased && m.key === id);

  /** Every key of the image in one store. */
  async function keysIn(store: NamedStore, id: string): Promise<string[]> {
    const keys: string[] = [];
    for (const prefix of imageKeyPrefixes(id)) for await (const o of store.store.list(prefix)) keys.push(o.key);
    return keys.sort();
  }

  /** What the replicator would do: every object of the image copied to the replica. */
  async function replicate(id: string): Promise<void> {
    const [primary, replica] = stores();
    for (const key of await keysIn(primary, id)) {
      const object = await primary.store.getStream(key);
      await replica.store.put(key, object!.body, object!.contentType);
    }
  }

  async function upload(name: string, data: Buffer, user = 'cam1'): Promise<string> {
    await t.upload(name, data, user);
    const id = sha256(data);
    await waitFor(async () => (await t.app.adapters.index.get(id))?.status === 'processed', 30_000, `${name} indexed`);
    return id;
  }

  function context(): { ctx: CommandContext; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const adapters = { ...t.app.adapters, close: async () => undefined };
    const ctx: CommandContext = {
      config: t.config,
      adapters,
      accounts: new AccountDirectory(t.config, adapters.store),
      logger: pino({ level: 'silent' }),
      io: { out: (l) => out.push(l), err: (l) => err.push(l), tty: null, plainEveryMs: 0 },
    };
    return { ctx, out, err };
  }

  async function ftpNames(dir: string, user = 'cam1'): Promise<string[]> {
    const client = await t.ftp(user);
    try {
      return (await client.list(dir)).map((f) => f.name).sort();
    } finally {
      client.close();
    }
  }

  /** Waits until the indexer has consumed everything published to images.processed so far. */
  async function indexerCaughtUp(): Promise<void> {
    const { groups, topics } = t.config.bus;
    await waitFor(async () => (await t.app.adapters.bus.lag(groups.indexer, [topics.processed])).every((p) => p.lag === 0), 20_000, 'the indexer to catch up');
  }

  it('cli erase removes an image from every store, the index and the FTP view, publishes images.erased and keeps an audit record without image data; a replay does not bring it back', async () => {
    const data = await cameraJpeg({ make: 'Canon', model: 'EOS R5', seed: 1101 });
    const id = await upload('/privacy/IMG_1101.JPG', data);
    await upload('/privacy/copy-of-1101.jpg', data);
    await replicate(id);
    const before = await Promise.all(stores().map((s) => keysIn(s, id)));
    // The original, every rendition and the manifest, in both stores.
    expect(before[0].length).toBeGreaterThanOrEqual(3);
    expect(before[1]).toEqual(before[0]);
    expect(await ftpNames('/privacy')).toEqual(['IMG_1101.JPG', 'copy-of-1101.jpg']);

    const { ctx, out } = context();
    expect(await eraseCommand(ctx, [id, '--reason', 'data subject request, ticket 4711', '--by', 'alice'])).toBe(0);
    expect(out.at(-1)).toMatch(new RegExp(`^erased ${id} at .*images\\.erased published`));
    expect(out).toContain('removed\t2\tFTP view entries of account cam1');

    for (const store of stores()) expect(await keysIn(store, id)).toEqual([]);
    expect(await t.app.adapters.index.get(id)).toBeNull();
    expect((await t.api(`/api/images?q=IMG_1101`, bearer(analyst))).body.total).toBe(0);
    expect(await ftpNames('/privacy')).toEqual([]);

    const event = (await waitFor(() => erasedEvents(id)[0], 10_000, 'images.erased')).value as ImageErasedEvent;
    assertEvent('erased', event);
    expect(event).toMatchObject({ schema: SCHEMAS.erased, id, trigger: 'operator', by: 'alice', reason: 'data subject request, ticket 4711' });

    const record = await readErasureRecord(stores()[0].store, id);
    expect(record?.erasures).toHaveLength(1);
    expect(record?.erasures[0]).toMatchObject({
      erasedAt: event.erasedAt,
      trigger: 'operator',
      by: 'alice',
      indexed: true,
      objects: [
        { store: 'local-a', region: 'eu-west', keys: before[0] },
        { store: 'replica-b', region: 'eu-north', keys: before[1] },
      ],
      deliveries: [{ account: 'cam1', files: 2 }],
      completedAt: expect.any(String),
    });
    // Who, when, why and what: no bytes, no metadata, no file names.
    const text = JSON.stringify(record);
    for (const leak of ['Canon', 'EOS', 'IMG_1101', 'copy-of-1101', '/privacy', data.subarray(0, 32).toString('base64')]) expect(text).not.toContain(leak);

    // Replaying the topic: the image's processed events come again and are ignored.
    const processed = seen.filter((m) => m.topic === t.config.bus.topics.processed && m.key === id).map((m) => m.value as ImageProcessedEvent);
    expect(processed).toHaveLength(2);
    for (const replayed of processed) await t.app.adapters.bus.publish(t.config.bus.topics.processed, id, replayed);
    await indexerCaughtUp();
    expect(await t.app.adapters.index.get(id)).toBeNull();

    // Again: nothing left to remove, nothing published twice.
    const again = context();
    expect(await eraseCommand(again.ctx, [id, '--reason', 'once more'])).toBe(0);
    expect(again.out).toEqual([`${id} was already erased at ${event.erasedAt} by alice`]);
    expect(erasedEvents(id)).toHaveLength(1);
  });

  it('DELETE /api/images/{id} erases for an operator key (an analyst gets 403), and the same bytes uploaded afterwards are a new image', async () => {
    const data = await cameraJpeg({ make: 'NIKON', model: 'Z 6', seed: 1102 });
    const id = await upload('/api/IMG_1102.JPG', data);
    await replicate(id);
    // Every answer as the OpenAPI document describes it.
    const checker = new OpenApiChecker(OPENAPI_DOCUMENT);
    const problems: string[] = [];
    const erase = async (key: string, query: string, image = id): Promise<{ status: number; body: any }> => {
      const url = `/api/images/${image}${query}`;
      const response = await fetch(`${t.baseUrl}${url}`, { method: 'DELETE', headers: bearer(key) });
      const answer: Exchange = { method: 'DELETE', url, status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
      problems.push(...checker.responseProblems(answer));
      return { status: answer.status, body: JSON.parse(answer.body.toString('utf8')) };
    };

    expect((await erase(analyst, '?reason=no')).status).toBe(403);
    expect(await t.app.adapters.index.get(id)).not.toBeNull();
    expect((await erase(operator, '')).status).toBe(400);
    const response = await erase(operator, `?reason=${encodeURIComponent('retention override, ticket 12')}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id, status: 'erased', erasure: { by: 'operator1', trigger: 'operator', reason: 'retention override, ticket 12', indexed: true } });

    for (const store of stores()) expect(await keysIn(store, id)).toEqual([]);
    expect((await t.api(`/api/images/${id}`, bearer(analyst))).status).toBe(404);
    expect(await ftpNames('/api')).toEqual([]);
    const event = (await waitFor(() => erasedEvents(id)[0], 10_000, 'images.erased')).value as ImageErasedEvent;
    assertEvent('erased', event);
    expect(event).toMatchObject({ id, by: 'operator1', trigger: 'operator' });

    const twice = await erase(operator, '?reason=again');
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ id, status: 'already-erased' });
    expect((await erase(operator, '?reason=x', 'e'.repeat(64))).status).toBe(404);
    expect(problems).toEqual([]);

    // A delivery after the erasure is a new one: stored, processed and searchable again.
    await upload('/api/IMG_1102_again.JPG', data);
    const doc = await t.app.adapters.index.get(id);
    expect(doc?.sources.map((s) => s.path)).toEqual(['/api/IMG_1102_again.JPG']);
    expect(Date.parse(doc!.receivedAt)).toBeGreaterThan(Date.parse(event.erasedAt));
  });

  it('cli retention erases an image past every delivering account’s retention and keeps a young one and one another account still keeps', async () => {
    const [primary, replica] = stores();
    const longAgo = new Date(Date.now() - 40 * DAY_MS).toISOString();
    /** An image `retained` delivered 40 days ago (and `alsoBy` too): stored in both stores, in its FTP view and announced as processed. */
    async function oldImage(path: string, alsoBy?: string): Promise<string> {
      const event = processedEvent({ source: source({ account: 'retained', path, receivedAt: longAgo }) });
      for (const { key, contentType } of [event.original, ...event.renditions]) {
        for (const store of [primary, replica]) await store.store.put(key, Buffer.from('stand-in bytes'), contentType);
      }
      const delivery = { imageId: event.id, size: 14, modifiedAt: longAgo, originalKey: event.original.key, contentType: 'image/jpeg' };
      await t.app.adapters.deliveries.put('retained', path, delivery);
      await t.app.adapters.bus.publish(t.config.bus.topics.processed, event.id, event);
      if (alsoBy) await t.app.adapters.bus.publish(t.config.bus.topics.processed, event.id, { ...event, source: source({ account: alsoBy, path, receivedAt: longAgo }) });
      await waitFor(async () => (await t.app.adapters.index.get(event.id))?.sources.length === (alsoBy ? 2 : 1), 20_000, `${path} indexed`);
      return event.id;
    }
    const old = await oldImage('/old/IMG_0001.JPG');
    const shared = await oldImage('/old/IMG_0002.JPG', 'cam1');
    const young = await upload('/young/IMG_0003.JPG', await cameraJpeg({ seed: 1103 }), 'retained');

    const dry = context();
    expect(await retentionCommand(dry.ctx, ['--dry-run'])).toBe(0);
    expect(dry.out).toEqual([`would erase\t${old}`, "1 image(s) past retention would be erased, 1 kept by an account's retention"]);
    expect(await t.app.adapters.index.get(old)).not.toBeNull();

    const run = context();
    expect(await retentionCommand(run.ctx, [])).toBe(0);
    expect(run.out.at(-1)).toMatch(/^1 image\(s\) erased/);
    expect(await t.app.adapters.index.get(old)).toBeNull();
    for (const store of stores()) expect(await keysIn(store, old)).toEqual([]);
    expect(await ftpNames('/old', 'retained')).toEqual(['IMG_0002.JPG']);
    const event = (await waitFor(() => erasedEvents(old)[0], 10_000, 'images.erased')).value as ImageErasedEvent;
    assertEvent('erased', event);
    expect(event).toMatchObject({ trigger: 'retention', by: 'retention', reason: 'retention passed for every delivering account (retained 30 d)' });

    // cam1 keeps images for ever: the image it also delivered stays, as does the young one.
    expect(await t.app.adapters.index.get(shared)).not.toBeNull();
    expect(await t.app.adapters.index.get(young)).not.toBeNull();
    expect((await keysIn(primary, young)).length).toBeGreaterThan(0);
  });
});
