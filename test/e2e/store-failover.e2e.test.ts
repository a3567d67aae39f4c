import { createHash } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { registry } from '../../shared/metrics';
import { cameraJpeg } from '../helpers/fixtures';
import { startTestApp, type TestApp } from '../helpers/app';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const STORES = [
  { name: 'local-a', region: 'eu-west', role: 'primary', local: { dir: 'objects' } },
  { name: 'replica-b', region: 'eu-north', role: 'replica', local: { dir: 'replica' } },
];
// Fast heartbeats so the test does not wait on the defaults' seconds.
const STORE_HEALTH = { intervalMs: 200, timeoutMs: 100, downAfter: 2, upAfter: 2 };

interface Detail {
  id: string;
  original: { url: string };
  renditions: { name: string; url: string }[];
  locations: { store: string; region?: string; key: string }[];
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const matching = (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return matching.reduce((n, v) => n + v.value, 0);
}

describe('reads from a healthy copy (embedded: a primary folder and a replica folder)', () => {
  let t: TestApp;
  /** A second process-like app on the same data folder running only the search service, as a read-only node is deployed. */
  let reader: TestApp;
  const images: { data: Buffer; doc: Detail }[] = [];

  /** Every URL of an image's bytes: the original and each rendition. */
  const urlsOf = (doc: Detail) => [doc.original.url, ...doc.renditions.map((r) => r.url)];

  async function download(base: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; servedBy: string | null; body: Buffer }> {
    const response = await fetch(`${base}${url}`, { headers });
    return { status: response.status, servedBy: response.headers.get('x-served-by'), body: Buffer.from(await response.arrayBuffer()) };
  }

  /** What the primary folder holds for each URL, read before it is made unreadable. */
  const expected = new Map<string, Buffer>();

  beforeAll(async () => {
    t = await startTestApp({ stores: STORES, storeHealth: STORE_HEALTH });
    for (const seed of [301, 302, 303]) {
      const data = await cameraJpeg({ seed, width: 900, height: 600 });
      await t.upload(`/DCIM/IMG_${seed}.JPG`, data);
      // Replicated and indexed: the document lists every object in both stores.
      const doc = await waitFor(async () => {
        const { status, body } = await t.api<Detail>(`/api/images/${sha256(data)}`);
        if (status !== 200 || body.renditions.length === 0) return undefined;
        const keys = [body.locations.filter((l) => l.store === 'local-a'), body.locations.filter((l) => l.store === 'replica-b')].map((ls) => ls.map((l) => l.key).sort().join());
        return keys[0] !== '' && keys[0] === keys[1] ? body : undefined;
      }, 60_000, `image ${seed} replicated and its locations indexed`);
      images.push({ data, doc });
    }
    reader = await startTestApp({ stores: STORES, storeHealth: STORE_HEALTH, services: ['search'] }, t.dataDir);
    for (const { doc } of images) for (const url of urlsOf(doc)) expected.set(url, (await download(t.baseUrl, url)).body);
  }, 120_000);
  afterAll(async () => {
    await reader?.stop();
    await t?.stop();
  });

  it('serves from the primary by default and from the copy in the requested region, by header or parameter', async () => {
    const { data, doc } = images[0];
    const plain = await download(t.baseUrl, doc.original.url);
    expect(plain).toMatchObject({ status: 200, servedBy: 'local-a' });
    expect(sha256(plain.body)).toBe(sha256(data));
    const byHeader = await download(t.baseUrl, doc.original.url, { 'x-region': 'eu-north' });
    expect(byHeader).toMatchObject({ status: 200, servedBy: 'replica-b' });
    expect(byHeader.body.equals(data)).toBe(true);
    // The signed URL keeps working with a region added: the signature covers the path.
    const byParameter = await download(t.baseUrl, `${doc.renditions[0].url}&region=eu-north`);
    expect(byParameter).toMatchObject({ status: 200, servedBy: 'replica-b' });
    expect(byParameter.body.equals(expected.get(doc.renditions[0].url)!)).toBe(true);
    // The header wins over the parameter; a region without a store changes nothing.
    expect((await download(t.baseUrl, `${doc.original.url}&region=eu-north`, { 'x-region': 'eu-west' })).servedBy).toBe('local-a');
    expect((await download(t.baseUrl, doc.original.url, { 'x-region': 'ap-south' })).servedBy).toBe('local-a');
    const ranged = await fetch(`${t.baseUrl}${doc.original.url}`, { headers: { range: 'bytes=100-199', 'x-region': 'eu-north' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('x-served-by')).toBe('replica-b');
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
  });

  it('serves every image byte for byte from the replica while the primary is unreadable, and back from the primary after', async () => {
    const primary = path.join(t.dataDir, 'objects');
    const away = path.join(t.dataDir, 'objects.away');
    // A file where the folder was: every read and the heartbeat's write check fail (root ignores chmod 000).
    renameSync(primary, away);
    writeFileSync(primary, 'not a folder');
    try {
      // Straight away, before any heartbeat: the primary fails the read and the replica takes over.
      for (const [url, bytes] of expected) {
        const got = await download(reader.baseUrl, url);
        expect(got).toMatchObject({ status: 200, servedBy: 'replica-b' });
        expect(got.body.equals(bytes)).toBe(true);
      }
      await waitFor(async () => (await metricValue('image_ingest_store_up', { store: 'local-a' })) === 0, 10_000, 'the primary marked down');
      expect(await metricValue('image_ingest_store_up', { store: 'replica-b' })).toBe(1);
      // Marked down, the primary is tried last: a read no longer fails over to the replica, it starts
      // there. The gauge is shared by both apps in this process, so each app's mark is seen that way.
      const fallbacksNow = () => metricValue('image_ingest_store_read_fallbacks_total', { store: 'local-a' });
      const [someUrl] = expected.keys();
      for (const base of [reader.baseUrl, t.baseUrl]) {
        await waitFor(async () => {
          const before = await fallbacksNow();
          const got = await download(base, someUrl, { 'x-region': 'eu-west' });
          return got.servedBy === 'replica-b' && (await fallbacksNow()) === before;
        }, 10_000, `${base === t.baseUrl ? 'the full app' : 'the search-only app'} reading the replica first`);
      }
      const fallbacks = await fallbacksNow();
      for (const [url, bytes] of expected) {
        for (const base of [reader.baseUrl, t.baseUrl]) {
          const got = await download(base, url, { 'x-region': 'eu-west' });
          expect(got).toMatchObject({ status: 200, servedBy: 'replica-b' });
          expect(got.body.equals(bytes)).toBe(true);
        }
      }
      expect(await metricValue('image_ingest_store_read_fallbacks_total', { store: 'local-a' })).toBe(fallbacks);
      for (const { data, doc } of images) expect(sha256((await download(reader.baseUrl, doc.original.url)).body)).toBe(sha256(data));
      // The search-only node is ready on the replica; the node that also ingests needs the primary.
      const [readerReady, fullReady] = await Promise.all([reader.api('/readyz'), t.api('/readyz')]);
      expect(readerReady).toMatchObject({ status: 200, body: { status: 'ready' } });
      expect(fullReady).toMatchObject({ status: 503, body: { failing: ['store'] } });
    } finally {
      rmSync(primary, { force: true });
      renameSync(away, primary);
    }
    await waitFor(async () => (await metricValue('image_ingest_store_up', { store: 'local-a' })) === 1, 10_000, 'the primary marked up again');
    const { data, doc } = images[1];
    const again = await waitFor(async () => {
      const got = await download(reader.baseUrl, doc.original.url);
      return got.servedBy === 'local-a' && got;
    }, 10_000, 'the search-only app reading the primary first again');
    expect(again.body.equals(data)).toBe(true);
  });

  it('is not ready, and answers 503 for bytes, when no copy is readable', async () => {
    const folders = ['objects', 'replica'].map((dir) => path.join(t.dataDir, dir));
    for (const folder of folders) {
      renameSync(folder, `${folder}.away`);
      writeFileSync(folder, 'not a folder');
    }
    try {
      const { doc } = images[2];
      const refused = await fetch(`${reader.baseUrl}${doc.original.url}`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      await waitFor(async () => (await reader.api('/readyz')).status === 503, 10_000, 'the search-only node not ready');
      expect((await reader.api('/readyz')).body).toMatchObject({ failing: ['store'], checks: { store: 'STORE_UNAVAILABLE' } });
    } finally {
      for (const folder of folders) {
        rmSync(folder, { force: true });
        renameSync(`${folder}.away`, folder);
      }
    }
    await waitFor(async () => (await reader.api('/readyz')).status === 200, 10_000, 'the search-only node ready again');
  });
});
