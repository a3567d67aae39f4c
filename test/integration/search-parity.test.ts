import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ElasticsearchImageIndex } from '../../shared/adapters/elasticsearch-image-index.adapter';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import type { ImageIndex } from '../../shared/ports/image-index.port';
import { SearchHttpServer } from '../../services/search/search.http';
import { UrlSigner } from '../../services/search/signed-urls';
import { ApiKeyDirectory } from '../../shared/api-keys';
import { failedEvent, failedImageEvent, processedEvent, source } from '../helpers/events';
import { stackEnv } from '../helpers/stack';

/** The same images behind the same API, once on each index: every answer must be identical. */
describe('the search API answers the same on Elasticsearch as on the embedded index', () => {
  const config = loadConfig({ env: {}, overrides: { http: { port: 0 } } });
  const servers: SearchHttpServer[] = [];
  const indexes: ImageIndex[] = [];
  const bases: string[] = [];

  beforeAll(async () => {
    const makes = ['Canon', 'NIKON CORPORATION', 'FUJIFILM', 'Apple'];
    const events = Array.from({ length: 40 }, (_, i) =>
      processedEvent({
        source: source({ account: i % 3 === 0 ? 'north' : 'south', path: `/DCIM/${100 + (i % 4)}MEDIA/IMG_${String(i).padStart(4, '0')}.JPG`, receivedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString() }),
        camera: { make: makes[i % 4], model: `Model ${i % 5}`, serial: null },
        capturedAt: i % 7 === 0 ? null : i % 2 === 0 ? `2024-06-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00+02:00` : `2024-06-${String(1 + (i % 28)).padStart(2, '0')}T09:30:00`,
        gps: i % 5 === 0 ? null : { lat: -60 + i * 3, lon: -179 + i * 9, alt: null },
        keywords: i % 2 === 0 ? ['harbour', `tag${i % 3}`] : ['street'],
        exposure: { exposureTime: 0.004, fNumber: 2.8, iso: 100 * 2 ** (i % 6), focalLength: 50, lensModel: i % 3 === 0 ? null : `Lens ${i % 3}`, software: null },
        caption: i % 4 === 0 ? 'Ferry at dawn' : null,
      }),
    );
    const again = { ...events[3], source: source({ account: 'partner', path: '/in/copy.jpg', receivedAt: '2025-02-01T00:00:00.000Z' }) };
    const failure = failedEvent({ failedAt: '2025-03-01T10:00:00.000Z' });
    // Images whose pixels could not be decoded; the last one's bytes were processed from another upload.
    const failedImages = [
      failedImageEvent({ source: source({ account: 'north', path: '/DCIM/BROKEN_0001.JPG', receivedAt: '2025-01-01T00:01:00.000Z' }) }),
      failedImageEvent({ source: source({ account: 'south', path: '/DCIM/BROKEN_0002.JPG', receivedAt: '2025-01-01T00:02:00.000Z' }), error: { code: 'PIXEL_LIMIT', message: 'too many pixels' } }),
      failedImageEvent({ id: events[5].id, source: source({ account: 'partner', path: '/in/broken-copy.jpg', receivedAt: '2025-02-02T00:00:00.000Z' }) }),
    ];
    const dir = mkdtempSync(path.join(tmpdir(), 'parity-'));
    // One signer on a stopped clock: both servers must hand out the very same image URLs.
    const signedAt = Date.now();
    const signer = new UrlSigner(Buffer.alloc(32, 7), 3600, () => signedAt);
    indexes.push(
      new SqliteImageIndex(path.join(dir, 'index.sqlite')),
      new ElasticsearchImageIndex({ node: stackEnv().ELASTICSEARCH_URL, index: `parity-${randomUUID().slice(0, 8)}`, shards: 1, replicas: 0, refresh: 'wait_for', bulkWindowMs: 10 }),
    );
    for (const index of indexes) {
      await Promise.all(events.map((e) => index.upsert(e)));
      await index.upsert(again);
      await Promise.all(failedImages.map((e) => index.upsertFailed(e)));
      // A re-send of the same file, and a replay of the first delivery.
      await index.upsert({ ...events[0], source: { ...events[0].source, receivedAt: '2025-03-01T00:00:00.000Z' } });
      await index.upsert(events[0]);
      await index.recordFailure(failure);
      const store = new LocalObjectStore(dir);
      const server = new SearchHttpServer({ config, index, store, logger: pino({ level: 'silent' }), keys: new ApiKeyDirectory(store), signer });
      servers.push(server);
      bases.push(`http://127.0.0.1:${(await server.listen()).port}`);
    }
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(indexes.map((i) => i.close()));
  });

  it.each([
    '',
    'q=harbour',
    'q=HARBOUR%20tag1',
    'q=img_0007',
    'q=101media',
    'q=ferry%20dawn',
    'q=copy',
    'account=north',
    'account=partner',
    'make=canon',
    'make=nikon%20corporation&model=model%203',
    'from=2024-06-10&to=2024-06-20',
    'from=2024-06-10T08:00:00Z&sort=capturedAt',
    'sort=-capturedAt&size=100',
    'sort=receivedAt&page=2&size=7',
    'bbox=-180,-90,180,90&size=100',
    'bbox=0,-10,90,40',
    'bbox=170,-90,-170,90',
    'q=harbour&make=fujifilm&bbox=-180,-90,180,90&sort=capturedAt',
    'size=0',
    'status=processed&size=100',
    'status=failed',
    'status=failed&account=south',
    'status=failed&q=broken',
    'status=processed&q=broken',
    'status=processed&make=canon&sort=capturedAt',
    'q=img_0000',
    'status=unknown',
    'lens=lens%201',
    'lens=LENS%202&isoMin=400',
    'isoMin=200&isoMax=800&sort=capturedAt',
    'receivedFrom=2025-01-01T00:00:10Z&receivedTo=2025-01-01T00:00:20Z',
    'receivedTo=2025-01-01T00:00:05Z',
    'near=6,19&radius=1500km',
    'near=6,19&radius=1500km&sort=distance',
    'near=-57,-170&radius=1500km&sort=distance&size=2',
    'facets=make,model,account,lens,status,gps,captured',
    'q=harbour&facets=make,account,captured&size=5',
    'account=north&facets=status,gps,lens',
    'status=failed&facets=make,status',
    'near=6,19&radius=2500km&facets=make,gps',
    'sort=capturedAt&size=7',
    'page=101&size=100',
    'cursor=not-a-cursor',
    'near=0,0',
    'radius=5km',
    'sort=distance',
    'facets=colour',
  ])('GET /api/images?%s', async (query) => {
    const [embedded, elastic] = await Promise.all(bases.map(async (base) => {
      const response = await fetch(`${base}/api/images?${query}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    }));
    // A cursor holds the engine's own sort values: Elasticsearch's distances are of its quantized points.
    if (query.includes('sort=distance')) for (const answer of [embedded, elastic]) if (answer.status === 200) answer.body.nextCursor = typeof answer.body.nextCursor;
    expect(elastic).toEqual(embedded);
    if (embedded.status === 200) expect((embedded.body as { total: number }).total).toBeGreaterThan(0);
  });

  it.each(['sort=-receivedAt', 'sort=receivedAt', 'sort=capturedAt', 'sort=-capturedAt', 'sort=distance&near=6,19&radius=5000km', 'q=harbour&sort=capturedAt'])(
    'follows nextCursor to the end alike with %s',
    async (query) => {
      const walk = async (base: string) => {
        const ids: string[] = [];
        let cursor = '';
        for (let pages = 0; pages < 20; pages++) {
          const response = await fetch(`${base}/api/images?${query}&size=6${cursor ? `&cursor=${cursor}` : ''}`);
          const body = (await response.json()) as { items: { id: string }[]; nextCursor: string | null };
          ids.push(...body.items.map((item) => item.id));
          if (!body.nextCursor) return ids;
          cursor = body.nextCursor;
        }
        throw new Error('the cursor never ended');
      };
      const [embedded, elastic] = await Promise.all(bases.map(walk));
      const whole = (await (await fetch(`${bases[0]}/api/images?${query}&size=100`)).json()) as { items: { id: string }[] };
      expect(embedded).toEqual(whole.items.map((item) => item.id));
      expect(elastic).toEqual(embedded);
    },
  );

  it('lists each image with its status and, for a failed one, its error', async () => {
    const [embedded, elastic] = await Promise.all(bases.map(async (base) => (await fetch(`${base}/api/images?status=failed`)).json()));
    expect(elastic).toEqual(embedded);
    const items = (embedded as { items: { status: string; error: { code: string } | null }[] }).items;
    expect(items.map((i) => [i.status, i.error?.code])).toEqual([['failed', 'PIXEL_LIMIT'], ['failed', 'CORRUPT_IMAGE']]);
  });

  it('GET /api/failures', async () => {
    const [embedded, elastic] = await Promise.all(bases.map(async (base) => (await fetch(`${base}/api/failures`)).json()));
    expect(elastic).toEqual(embedded);
  });
});
