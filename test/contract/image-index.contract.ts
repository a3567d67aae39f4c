import type { ImageIndex, ImageQuery } from '../../shared/ports/image-index.port';
import { failedEvent, processedEvent, source } from '../helpers/events';

export interface ImageIndexHarness {
  /** A fresh, empty index for one test. */
  create(): Promise<ImageIndex>;
  cleanup(): Promise<void>;
}

const query = (q: Partial<ImageQuery> = {}): ImageQuery => ({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, ...q });

/** One behaviour spec for every ImageIndex adapter: the search API must answer the same on each. */
export function imageIndexContract(name: string, makeHarness: () => Promise<ImageIndexHarness>): void {
  describe(`ImageIndex contract: ${name}`, () => {
    let harness: ImageIndexHarness;
    let index: ImageIndex;

    beforeAll(async () => {
      harness = await makeHarness();
    });
    beforeEach(async () => {
      index = await harness.create();
    });
    afterEach(async () => {
      await index.close();
    });
    afterAll(async () => {
      await harness.cleanup();
    });

    const ids = async (q: Partial<ImageQuery>) => (await index.search(query(q))).items.map((d) => d.id);

    it('returns an indexed image by id with its metadata and storage locations', async () => {
      const event = processedEvent({ keywords: ['harbour'] });
      await index.upsert(event);
      const doc = await index.get(event.id);
      expect(doc).toMatchObject({
        id: event.id,
        camera: event.camera,
        gps: event.gps,
        capturedAt: event.capturedAt,
        keywords: ['harbour'],
        locations: event.locations,
        renditions: event.renditions,
        sources: [event.source],
        firstSeenAt: event.source.receivedAt,
        lastSeenAt: event.source.receivedAt,
      });
      expect(await index.get('0'.repeat(64))).toBeNull();
    });

    it('keeps one image with every source when the same bytes arrive again, and a replay changes nothing', async () => {
      const first = processedEvent();
      const again = { ...first, source: source({ account: 'partner', path: '/in/x.jpg', receivedAt: '2025-03-02T08:00:00.000Z' }) };
      await index.upsert(again);
      await index.upsert(first);
      await index.upsert(first);
      const doc = await index.get(first.id);
      expect(doc?.sources.map((s) => s.account)).toEqual(['cam1', 'partner']);
      expect(doc?.firstSeenAt).toBe('2025-03-01T10:00:00.000Z');
      expect(doc?.lastSeenAt).toBe('2025-03-02T08:00:00.000Z');
      expect(doc?.receivedAt).toBe('2025-03-01T10:00:00.000Z');
      expect((await index.search(query())).total).toBe(1);
      expect(await ids({ account: 'partner' })).toEqual([first.id]);
    });

    it('matches every word of q against paths, camera, keywords and caption, ignoring case', async () => {
      const a = processedEvent({ source: source({ path: '/DCIM/100CANON/IMG_0042.JPG' }), keywords: ['Harbour', 'ferry'] });
      const b = processedEvent({ camera: { make: 'NIKON CORPORATION', model: 'NIKON Z 6', serial: null }, caption: 'Storm over the pier' });
      await index.upsert(a);
      await index.upsert(b);
      expect(await ids({ text: 'img_0042' })).toEqual([a.id]);
      expect(await ids({ text: '100canon' })).toEqual([a.id]);
      expect(await ids({ text: 'harbour FERRY' })).toEqual([a.id]);
      expect(await ids({ text: 'harbour storm' })).toEqual([]);
      expect(await ids({ text: 'nikon' })).toEqual([b.id]);
      expect(await ids({ text: 'pier' })).toEqual([b.id]);
      expect(await ids({ text: 'pie' })).toEqual([]);
    });

    it('filters by account, make and model without regard to case', async () => {
      const a = processedEvent({ source: source({ account: 'north' }) });
      const b = processedEvent({ source: source({ account: 'south' }), camera: { make: 'FUJIFILM', model: 'X-T5', serial: null } });
      await index.upsert(a);
      await index.upsert(b);
      expect(await ids({ account: 'north' })).toEqual([a.id]);
      expect(await ids({ make: 'fujifilm' })).toEqual([b.id]);
      expect(await ids({ model: 'x-t5' })).toEqual([b.id]);
      expect(await ids({ make: 'canon', model: 'eos r5' })).toEqual([a.id]);
      expect(await ids({ make: 'can' })).toEqual([]);
    });

    it('filters by capture instant, reading an offset-less time as UTC', async () => {
      const zoned = processedEvent({ capturedAt: '2024-06-01T12:00:00+02:00' }); // 10:00Z
      const naive = processedEvent({ capturedAt: '2024-06-01T11:00:00' }); // 11:00Z
      const none = processedEvent({ capturedAt: null });
      for (const e of [zoned, naive, none]) await index.upsert(e);
      expect(await ids({ from: new Date('2024-06-01T09:30:00Z'), to: new Date('2024-06-01T10:30:00Z') })).toEqual([zoned.id]);
      expect(await ids({ from: new Date('2024-06-01T10:30:00Z') })).toEqual([naive.id]);
      expect(await ids({ from: new Date('2024-06-01T10:00:00Z'), to: new Date('2024-06-01T11:00:00Z'), sort: { field: 'capturedAt', order: 'asc' } })).toEqual([zoned.id, naive.id]);
    });

    it('filters by bounding box, also across the antimeridian', async () => {
      const berlin = processedEvent({ gps: { lat: 52.52, lon: 13.405, alt: null } });
      const fiji = processedEvent({ gps: { lat: -17.7, lon: 178.1, alt: null } });
      const samoa = processedEvent({ gps: { lat: -13.8, lon: -172.0, alt: null } });
      const nowhere = processedEvent({ gps: null });
      for (const e of [berlin, fiji, samoa, nowhere]) await index.upsert(e);
      expect(await ids({ bbox: { minLon: 13, minLat: 52, maxLon: 14, maxLat: 53 } })).toEqual([berlin.id]);
      expect((await ids({ bbox: { minLon: 170, minLat: -20, maxLon: -170, maxLat: -10 } })).sort()).toEqual([fiji.id, samoa.id].sort());
    });

    it('sorts with missing values last and pages through the results', async () => {
      const events = [
        processedEvent({ capturedAt: '2024-01-03T00:00:00Z', source: source({ receivedAt: '2025-01-01T00:00:01.000Z' }) }),
        processedEvent({ capturedAt: '2024-01-01T00:00:00Z', source: source({ receivedAt: '2025-01-01T00:00:02.000Z' }) }),
        processedEvent({ capturedAt: null, source: source({ receivedAt: '2025-01-01T00:00:03.000Z' }) }),
        processedEvent({ capturedAt: '2024-01-02T00:00:00Z', source: source({ receivedAt: '2025-01-01T00:00:04.000Z' }) }),
      ];
      for (const e of events) await index.upsert(e);
      const [c3, c1, none, c2] = events.map((e) => e.id);
      expect(await ids({ sort: { field: 'capturedAt', order: 'asc' } })).toEqual([c1, c2, c3, none]);
      expect(await ids({ sort: { field: 'capturedAt', order: 'desc' } })).toEqual([c3, c2, c1, none]);
      expect(await ids({})).toEqual([c2, none, c1, c3]);
      const page2 = await index.search(query({ sort: { field: 'receivedAt', order: 'asc' }, page: 2, size: 3 }));
      expect(page2.total).toBe(4);
      expect(page2.items.map((d) => d.id)).toEqual([c2]);
    });

    it('keeps dead letters newest first and stores a replayed one once', async () => {
      const older = failedEvent({ failedAt: '2025-03-01T10:00:00.000Z' });
      const newer = failedEvent({ failedAt: '2025-03-01T11:00:00.000Z', stage: 'ingest', error: { code: 'UNSUPPORTED_TYPE', message: 'not an image' } });
      await index.recordFailure(older);
      await index.recordFailure(newer);
      await index.recordFailure(newer);
      const failures = await index.failures(10);
      expect(failures).toEqual([newer, older]);
      expect(await index.failures(1)).toEqual([newer]);
    });
  });
}
