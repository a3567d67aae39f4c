import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { IngestError } from '../../shared/errors';
import type { ObjectStore } from '../../shared/ports/object-store.port';

export interface ObjectStoreHarness {
  store: ObjectStore;
  /** The `store` value its locations carry. */
  storeName: string;
  /** A store that cannot be reached (no server there, or a folder that cannot be written). */
  unreachable(): ObjectStore;
  cleanup(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One behaviour spec for every ObjectStore adapter. */
export function objectStoreContract(name: string, makeHarness: () => Promise<ObjectStoreHarness>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let harness: ObjectStoreHarness;
    let store: ObjectStore;
    const key = (suffix = 'bin') => `contract/${randomUUID().slice(0, 2)}/${randomUUID()}.${suffix}`;

    beforeAll(async () => {
      harness = await makeHarness();
      store = harness.store;
    });

    afterAll(async () => {
      await store.close();
      await harness.cleanup();
    });

    it('stores a buffer and returns its bytes and content type', async () => {
      const k = key('jpg');
      const body = randomBytes(1000);
      expect(await store.put(k, body, 'image/jpeg')).toEqual({ key: k, bytes: 1000, contentType: 'image/jpeg' });
      expect(await store.head(k)).toEqual({ key: k, bytes: 1000, contentType: 'image/jpeg' });
      expect((await store.getBuffer(k)).equals(body)).toBe(true);
    });

    it('streams a large object in and out unchanged', async () => {
      const k = key();
      const body = randomBytes(12 * 1024 * 1024 + 17);
      const chunks = Array.from({ length: 13 }, (_, i) => body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
      await store.put(k, Readable.from(chunks), 'application/octet-stream');
      const object = await store.getStream(k);
      expect(object).not.toBeNull();
      expect(object!.bytes).toBe(body.length);
      const back = await readAll(object!.body);
      expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    });

    it('streams a byte range of an object and still reports the whole size', async () => {
      const k = key();
      const body = randomBytes(100_000);
      await store.put(k, body, 'image/jpeg');
      const object = await store.getStream(k, { start: 99_990, end: 99_999 });
      expect(object).toMatchObject({ bytes: body.length, contentType: 'image/jpeg' });
      expect((await readAll(object!.body)).equals(body.subarray(99_990))).toBe(true);
      const head = await store.getStream(k, { start: 0, end: 0 });
      expect((await readAll(head!.body)).equals(body.subarray(0, 1))).toBe(true);
    });

    it('stores a local file, which the caller may then delete', async () => {
      const k = key('jpg');
      const body = randomBytes(6 * 1024 * 1024 + 3);
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'put-file-')), 'upload.jpg');
      writeFileSync(file, body);
      expect(await store.putFile(k, file, 'image/jpeg')).toEqual({ key: k, bytes: body.length, contentType: 'image/jpeg' });
      rmSync(file);
      expect((await store.getBuffer(k)).equals(body)).toBe(true);
      expect((await store.head(k))?.contentType).toBe('image/jpeg');
    });

    it('overwrites an existing key', async () => {
      const k = key();
      await store.put(k, Buffer.from('first'), 'text/plain');
      await store.put(k, Buffer.from('second!'), 'text/plain');
      expect((await store.getBuffer(k)).toString()).toBe('second!');
      expect((await store.head(k))?.bytes).toBe(7);
    });

    it('answers null or OBJECT_NOT_FOUND for a missing key', async () => {
      const k = key();
      expect(await store.head(k)).toBeNull();
      expect(await store.getStream(k)).toBeNull();
      await expect(store.getBuffer(k)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(store.getBuffer(k)).rejects.toBeInstanceOf(IngestError);
    });

    it('deletes, and deleting a missing key is not an error', async () => {
      const k = key();
      await store.put(k, Buffer.from('x'), 'text/plain');
      await store.delete(k);
      expect(await store.head(k)).toBeNull();
      await expect(store.delete(k)).resolves.toBeUndefined();
    });

    it('ends with one whole object when writers race on a key', async () => {
      const k = key();
      const bodies = [randomBytes(300_000), randomBytes(300_000), randomBytes(300_000)];
      await Promise.all(bodies.map((b) => store.put(k, b, 'application/octet-stream')));
      const back = await store.getBuffer(k);
      expect(bodies.some((b) => b.equals(back))).toBe(true);
    });

    it('locates an object by store name, key and a URL naming the key', async () => {
      const k = key('webp');
      await store.put(k, Buffer.from('x'), 'image/webp');
      const location = store.locate(k);
      expect(location.store).toBe(harness.storeName);
      expect(location.key).toBe(k);
      expect(location.url).toContain(k);
    });

    it('lists the objects under a prefix, a folder at a time, with size and write time', async () => {
      const root = `contract-list/${randomUUID()}`;
      const keys = [`${root}/a/b/1.jpg`, `${root}/a/b/2.jpg`, `${root}/a/c/3.jpg`, `${root}/ab/4.jpg`, `${root}/a/manifest-x.json`];
      const before = Date.now() - 5_000;
      for (const k of keys) await store.put(k, Buffer.from(k), 'image/jpeg');
      const listed = async (prefix: string) => {
        const out = [];
        for await (const object of store.list(prefix)) out.push(object);
        return out;
      };
      const underA = await listed(`${root}/a/`);
      expect(underA.map((o) => o.key).sort()).toEqual([keys[0], keys[1], keys[2], keys[4]].sort());
      const b = underA.map((o, i) => (o.key.startsWith(`${root}/a/b/`) ? i : -1)).filter((i) => i >= 0);
      expect(b[1] - b[0]).toBe(1);
      for (const o of underA) {
        expect(o.bytes).toBe(Buffer.byteLength(o.key));
        expect(Date.parse(o.modifiedAt)).toBeGreaterThan(before);
        expect(Date.parse(o.modifiedAt)).toBeLessThan(Date.now() + 5_000);
      }
      expect((await listed(`${root}/a/manifest-`)).map((o) => o.key)).toEqual([keys[4]]);
      expect((await listed(`${root}/a`)).length).toBe(5);
      expect(await listed(`${root}/none/`)).toEqual([]);
      await store.delete(keys[0]);
      expect((await listed(`${root}/a/b/`)).map((o) => o.key)).toEqual([keys[1]]);
    });

    it('answers a ping when reachable, and fails one retriably with STORE_UNAVAILABLE when not', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      const down = harness.unreachable();
      try {
        await expect(down.ping()).rejects.toMatchObject({ name: 'IngestError', code: 'STORE_UNAVAILABLE', retriable: true });
      } finally {
        await down.close();
      }
    });
  });
}
