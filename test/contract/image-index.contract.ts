import type { ImageFailedEvent, ImageProcessedEvent } from '../../shared/contracts/events';
import { FACET_NAMES, FACET_SAMPLE, TOTAL_HITS_CAP, type ImageIndex, type ImageQuery, type SortPosition } from '../../shared/ports/image-index.port';
import { distanceMeters } from '../../shared/search-results';
import { failedEvent, failedImageEvent, fakeId, processedEvent, replicatedEvent, source } from '../helpers/events';

export interface ImageIndexHarness {
  /** A fresh, empty index for one test. */
  create(): Promise<ImageIndex>;
  /** An index that cannot be reached (no server there, or a closed file); the test closes it. */
  unreachable(): Promise<ImageIndex>;
  cleanup(): Promise<void>;
}

const query = (q: Partial<ImageQuery> = {}): ImageQuery => ({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, ...q });

/** `hours` after 2025-03-01T10:00:00Z, as receivedAt values are written. */
const at = (hours: number) => new Date(Date.UTC(2025, 2, 1, 10) + hours * 3_600_000).toISOString();

type Delivery = { processed: ImageProcessedEvent } | { failed: ImageFailedEvent };
const deliver = (index: ImageIndex, d: Delivery) => ('processed' in d ? index.upsert(d.processed) : index.upsertFailed(d.failed));

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
        status: 'processed',
        error: null,
        sources: [{ ...event.source, count: 1, firstSeenAt: event.source.receivedAt, lastSeenAt: event.source.receivedAt }],
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

    it('counts a file sent again and again in its one source, and a replay of any delivery changes nothing', async () => {
      const first = processedEvent({ source: source({ receivedAt: at(0) }) });
      const resends = Array.from({ length: 1000 }, (_, i) => ({ ...first, source: { ...first.source, receivedAt: at(i) } }));
      // All at once, as a consumer with a backlog hands them over.
      await Promise.all(resends.map((e) => index.upsert(e)));
      const doc = await index.get(first.id);
      expect(doc?.sources).toEqual([{ ...first.source, count: 1000, firstSeenAt: at(0), lastSeenAt: at(999) }]);
      expect(doc).toMatchObject({ receivedAt: at(0), firstSeenAt: at(0), lastSeenAt: at(999) });
      for (const replay of [resends[999], resends[0], resends[500]]) await index.upsert(replay);
      expect(await index.get(first.id)).toEqual(doc);
    });

    it('keeps one source per account and path, each with its own count and first/last seen', async () => {
      const a = processedEvent({ source: source({ path: '/DCIM/IMG_0001.JPG', receivedAt: at(0) }) });
      const copy = { ...a, source: source({ path: '/backup/IMG_0001.JPG', receivedAt: at(1) }) };
      const otherAccount = { ...a, source: source({ account: 'partner', path: '/DCIM/IMG_0001.JPG', receivedAt: at(2) }) };
      const aAgain = { ...a, source: { ...a.source, receivedAt: at(3) } };
      for (const e of [a, copy, otherAccount, aAgain]) await index.upsert(e);
      const doc = await index.get(a.id);
      expect(doc?.sources.map((s) => [s.account, s.path, s.count, s.firstSeenAt, s.lastSeenAt])).toEqual([
        ['cam1', '/DCIM/IMG_0001.JPG', 2, at(0), at(3)],
        ['cam1', '/backup/IMG_0001.JPG', 1, at(1), at(1)],
        ['partner', '/DCIM/IMG_0001.JPG', 1, at(2), at(2)],
      ]);
      expect(doc).toMatchObject({ receivedAt: at(0), firstSeenAt: at(0), lastSeenAt: at(3) });
    });

    it('takes a delivery before a source was first seen as its first receipt, and one within its bounds as a replay', async () => {
      const late = processedEvent({ source: source({ receivedAt: at(48), remoteAddress: '10.0.0.3' }) });
      const early = { ...late, source: source({ receivedAt: at(0), remoteAddress: '10.0.0.1' }) };
      const between = { ...late, source: source({ receivedAt: at(24), remoteAddress: '10.0.0.2' }) };
      await index.upsert(late);
      await index.upsert(early);
      const doc = await index.get(late.id);
      expect(doc?.sources).toEqual([{ ...early.source, count: 2, firstSeenAt: at(0), lastSeenAt: at(48) }]);
      expect(doc).toMatchObject({ receivedAt: at(0), firstSeenAt: at(0), lastSeenAt: at(48) });
      await index.upsert(between);
      expect(await index.get(late.id)).toEqual(doc);
    });

    it('indexes an image that could not be processed with what could be read, its error and its original', async () => {
      const event = failedImageEvent({ source: source({ path: '/DCIM/BROKEN_0001.JPG', receivedAt: at(0) }) });
      const image = event.image!;
      await index.upsertFailed(event);
      const doc = await index.get(event.id!);
      expect(doc).toEqual({
        id: event.id,
        receivedAt: at(0),
        original: image.original,
        capturedAt: image.capturedAt,
        camera: image.camera,
        gps: null,
        width: null,
        height: null,
        orientation: null,
        exposure: { exposureTime: null, fNumber: null, iso: null, focalLength: null, lensModel: null, software: null },
        keywords: [],
        caption: null,
        title: null,
        creator: null,
        copyright: null,
        renditions: [],
        locations: [{ role: 'original', name: 'original', ...image.original.location }],
        processedAt: null,
        processingMs: null,
        status: 'failed',
        error: event.error,
        sources: [{ ...event.source, count: 1, firstSeenAt: at(0), lastSeenAt: at(0) }],
        firstSeenAt: at(0),
        lastSeenAt: at(0),
      });
      expect(await ids({ text: 'broken_0001' })).toEqual([event.id]);
      expect(await ids({ make: 'canon', from: new Date('2025-03-01T08:00:00Z'), status: 'failed' })).toEqual([event.id]);
      await index.upsertFailed(event);
      expect(await index.get(event.id!)).toEqual(doc);
    });

    it('refuses to index a failed event without an id or an image, as a permanent error', async () => {
      const refusal = { code: 'INVALID_EVENT', retriable: false };
      await expect(index.upsertFailed(failedEvent())).rejects.toMatchObject(refusal);
      await expect(index.upsertFailed({ ...failedImageEvent(), id: null })).rejects.toMatchObject(refusal);
      expect((await index.search(query())).total).toBe(0);
    });

    it('lets a processed result win over a failure in either order, keeping both sources', async () => {
      const failed = failedImageEvent({ source: source({ account: 'north', receivedAt: at(0) }) });
      const processed = processedEvent({ id: failed.id!, source: source({ account: 'south', receivedAt: at(1) }) });
      await index.upsertFailed(failed);
      await index.upsert(processed);
      const doc = await index.get(processed.id);
      expect(doc).toMatchObject({ status: 'processed', error: null, width: 1600, height: 1200, renditions: processed.renditions, locations: processed.locations, processedAt: processed.processedAt });
      expect(doc?.sources.map((s) => [s.account, s.count])).toEqual([['north', 1], ['south', 1]]);

      const reversed = await harness.create();
      try {
        await reversed.upsert(processed);
        await reversed.upsertFailed(failed);
        expect(await reversed.get(processed.id)).toEqual(doc);
      } finally {
        await reversed.close();
      }
    });

    it('converges to the same document when the topic is replayed from any offset', async () => {
      const id = fakeId();
      const a = source({ path: '/a.jpg' });
      const b = source({ account: 'partner', path: '/b.jpg' });
      const topic: Delivery[] = [
        { failed: failedImageEvent({ id, source: { ...a, receivedAt: at(0) } }) },
        { processed: processedEvent({ id, source: { ...b, receivedAt: at(1) } }) },
        { processed: processedEvent({ id, source: { ...a, receivedAt: at(2) } }) },
        { failed: failedImageEvent({ id, source: { ...a, receivedAt: at(3) } }) },
        { processed: processedEvent({ id, source: { ...b, receivedAt: at(4) } }) },
      ];
      for (const d of topic) await deliver(index, d);
      const doc = await index.get(id);
      expect(doc?.status).toBe('processed');
      expect(doc?.sources.map((s) => [s.path, s.count, s.firstSeenAt, s.lastSeenAt])).toEqual([
        ['/a.jpg', 3, at(0), at(3)],
        ['/b.jpg', 2, at(1), at(4)],
      ]);
      for (let offset = topic.length - 1; offset >= 0; offset--) {
        for (const d of topic.slice(offset)) await deliver(index, d);
        expect(await index.get(id)).toEqual(doc);
      }
    });

    it('moves a renamed file\'s source to its new path, keeping count and first/last seen, and finds it by the new name only', async () => {
      const first = processedEvent({ source: source({ path: '/cam_tmp.jpg', receivedAt: at(0) }) });
      await index.upsert(first);
      await index.upsert({ ...first, source: { ...first.source, receivedAt: at(1) } });
      await index.upsert({ ...first, source: { ...first.source, path: '/x.jpg', renamedFrom: '/cam_tmp.jpg', receivedAt: at(5) } });
      const doc = await index.get(first.id);
      expect(doc?.sources.map((s) => [s.account, s.path, s.count, s.firstSeenAt, s.lastSeenAt, s.receivedAt])).toEqual([['cam1', '/x.jpg', 2, at(0), at(1), at(0)]]);
      // A rename is not a delivery: the image was last seen when the file was last sent.
      expect(doc).toMatchObject({ firstSeenAt: at(0), lastSeenAt: at(1) });
      expect(await ids({ text: 'x' })).toEqual([first.id]);
      expect(await ids({ text: 'cam_tmp' })).toEqual([]);
    });

    it('changes nothing when a rename, or the history before it, is replayed from any offset', async () => {
      const id = fakeId();
      const a = source({ path: '/a.jpg' });
      const topic: Delivery[] = [
        { processed: processedEvent({ id, source: { ...a, receivedAt: at(0) } }) },
        { processed: processedEvent({ id, source: { ...a, receivedAt: at(1) } }) },
        { processed: processedEvent({ id, source: { ...a, path: '/b.jpg', renamedFrom: '/a.jpg', receivedAt: at(2) } }) },
        { failed: failedImageEvent({ id, source: { ...a, path: '/c/d.jpg', renamedFrom: '/b.jpg', receivedAt: at(3) } }) },
        { processed: processedEvent({ id, source: { ...a, path: '/other.jpg', receivedAt: at(4) } }) },
      ];
      for (const d of topic) await deliver(index, d);
      const doc = await index.get(id);
      expect(doc?.sources.map((s) => [s.path, s.count, s.firstSeenAt, s.lastSeenAt])).toEqual([
        ['/c/d.jpg', 2, at(0), at(1)],
        ['/other.jpg', 1, at(4), at(4)],
      ]);
      for (let offset = topic.length - 1; offset >= 0; offset--) {
        for (const d of topic.slice(offset)) await deliver(index, d);
        expect(await index.get(id)).toEqual(doc);
      }
    });

    it('counts a delivery to the old name after the rename as a new source, and folds a rename onto a name that sent the same bytes', async () => {
      const first = processedEvent({ source: source({ path: '/a.jpg', receivedAt: at(0) }) });
      await index.upsert(first);
      await index.upsert({ ...first, source: { ...first.source, path: '/b.jpg', renamedFrom: '/a.jpg', receivedAt: at(1) } });
      await index.upsert({ ...first, source: { ...first.source, path: '/a.jpg', receivedAt: at(2) } });
      const paths = async () => (await index.get(first.id))?.sources.map((s) => [s.path, s.count, s.firstSeenAt, s.lastSeenAt]);
      expect(await paths()).toEqual([
        ['/b.jpg', 1, at(0), at(0)],
        ['/a.jpg', 1, at(2), at(2)],
      ]);
      await index.upsert({ ...first, source: { ...first.source, path: '/b.jpg', renamedFrom: '/a.jpg', receivedAt: at(3) } });
      expect(await paths()).toEqual([['/b.jpg', 2, at(0), at(2)]]);
    });

    it('filters by status', async () => {
      const processed = processedEvent();
      const failed = failedImageEvent();
      await index.upsert(processed);
      await index.upsertFailed(failed);
      expect(await ids({ status: 'processed' })).toEqual([processed.id]);
      expect(await ids({ status: 'failed' })).toEqual([failed.id]);
      expect((await ids({})).sort()).toEqual([processed.id, failed.id].sort());
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

    it('filters by lens, ISO range and receive time', async () => {
      const exposure = (lensModel: string | null, iso: number | null) => ({ exposureTime: 0.01, fNumber: 4, iso, focalLength: 35, lensModel, software: null });
      const a = processedEvent({ exposure: exposure('RF24-105mm F4 L IS USM', 100), source: source({ receivedAt: at(1) }) });
      const b = processedEvent({ exposure: exposure('RF24-105mm F4 L IS USM', 3200), source: source({ receivedAt: at(2) }) });
      const c = processedEvent({ exposure: exposure('XF16-55mmF2.8 R LM WR', 800), source: source({ receivedAt: at(3) }) });
      const d = processedEvent({ exposure: exposure(null, null), source: source({ receivedAt: at(4) }) });
      for (const e of [a, b, c, d]) await index.upsert(e);
      expect(await ids({ lens: 'rf24-105mm f4 l is usm' })).toEqual([b.id, a.id]);
      expect(await ids({ iso: { min: 200 } })).toEqual([c.id, b.id]);
      expect(await ids({ iso: { min: 100, max: 800 } })).toEqual([c.id, a.id]);
      expect(await ids({ iso: { max: 100 }, lens: 'RF24-105MM F4 L IS USM' })).toEqual([a.id]);
      expect(await ids({ receivedFrom: new Date(at(2)), receivedTo: new Date(at(3)) })).toEqual([c.id, b.id]);
      expect(await ids({ receivedFrom: new Date(at(3.5)) })).toEqual([d.id]);
    });

    it('finds images within a distance of a point, nearest first, also across the antimeridian and near a pole', async () => {
      const place = (lat: number, lon: number) => processedEvent({ gps: { lat, lon, alt: null } });
      const centre = place(46.5, 8.0);
      const east = place(46.5, 8.02); // 1.5 km
      const north = place(46.53, 8.0); // 3.3 km
      const far = place(46.6, 8.0); // 11 km
      const fiji = place(-17.7, 179.99);
      const across = place(-17.7, -179.99); // 2.1 km from fiji, over the antimeridian
      const pole = place(89.99, -120);
      const opposite = place(89.99, 60); // 2.2 km from pole, over the pole
      const nowhere = processedEvent({ gps: null });
      for (const e of [centre, east, north, far, fiji, across, pole, opposite, nowhere]) await index.upsert(e);
      const near = (lat: number, lon: number, radiusMeters: number) => ({ near: { lat, lon, radiusMeters }, sort: { field: 'distance' as const, order: 'asc' as const } });
      expect(await ids(near(46.5, 8.0, 5000))).toEqual([centre.id, east.id, north.id]);
      expect(await ids(near(46.5, 8.0, 20_000))).toEqual([centre.id, east.id, north.id, far.id]);
      expect(await ids({ ...near(46.5, 8.0, 2000), sort: { field: 'receivedAt', order: 'desc' } })).toHaveLength(2);
      expect(await ids(near(-17.7, 179.99, 3000))).toEqual([fiji.id, across.id]);
      expect(await ids(near(89.99, -120, 3000))).toEqual([pole.id, opposite.id]);
      expect(await ids({ ...near(46.5, 8.0, 5000), make: 'nikon' })).toEqual([]);
      // Metres on Elasticsearch's mean earth radius: one degree of a meridian is 111,195 m.
      expect(distanceMeters(0, 8, 1, 8)).toBeCloseTo(111_195.08, 1);
    });

    it('pages with a cursor in every order, as far as the results go', async () => {
      const events = Array.from({ length: 23 }, (_, i) =>
        processedEvent({
          capturedAt: i % 5 === 0 ? null : new Date(Date.UTC(2024, 0, 1) + (i % 7) * 3_600_000).toISOString(),
          gps: { lat: 46 + (i % 6) * 0.01, lon: 8, alt: null },
          // Receipt times repeat, so ids break ties.
          source: source({ receivedAt: at(i % 4) }),
        }),
      );
      for (const e of events) await index.upsert(e);
      const sorts: ImageQuery['sort'][] = [
        { field: 'receivedAt', order: 'desc' },
        { field: 'receivedAt', order: 'asc' },
        { field: 'capturedAt', order: 'asc' },
        { field: 'capturedAt', order: 'desc' },
        { field: 'distance', order: 'asc' },
      ];
      for (const sort of sorts) {
        const base = { sort, near: { lat: 46, lon: 8, radiusMeters: 100_000 } };
        const whole = await ids({ ...base, size: 100 });
        const walked: string[] = [];
        let after: SortPosition | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const result = await index.search(query({ ...base, size: 5, after }));
          walked.push(...result.items.map((d) => d.id));
          expect(result.total).toBe(23);
          if (!result.next) break;
          after = result.next;
        }
        expect({ sort, ids: walked }).toEqual({ sort, ids: whole });
      }
    });

    it('counts facets of every match: make, model, account, lens, status, GPS and a capture-time histogram', async () => {
      const exposure = (lensModel: string | null) => ({ exposureTime: 0.01, fNumber: 4, iso: 100, focalLength: 35, lensModel, software: null });
      const events = [
        processedEvent({ camera: { make: 'Canon', model: 'EOS R5', serial: null }, exposure: exposure('RF50mm'), capturedAt: '2024-06-01T10:00:00Z', source: source({ account: 'north' }) }),
        processedEvent({ camera: { make: 'Canon', model: 'EOS R6', serial: null }, exposure: exposure('RF50mm'), capturedAt: '2024-06-03T10:00:00', source: source({ account: 'north' }) }),
        processedEvent({ camera: { make: 'SONY', model: 'ILCE-7M4', serial: null }, exposure: exposure(null), capturedAt: null, gps: null, source: source({ account: 'south' }) }),
      ];
      for (const e of events) await index.upsert(e);
      // The same bytes from another account: one image counted in both accounts.
      await index.upsert({ ...events[0], source: source({ account: 'south', path: '/copy.jpg', receivedAt: at(5) }) });
      const failed = failedImageEvent({ source: source({ account: 'north', path: '/broken.jpg' }) });
      await index.upsertFailed(failed);
      const { facets } = await index.search(query({ facets: [...FACET_NAMES] }));
      expect(facets).toEqual({
        scope: 'all',
        images: 4,
        make: [{ value: 'canon', count: 3 }, { value: 'sony', count: 1 }],
        model: [{ value: 'eos r5', count: 2 }, { value: 'eos r6', count: 1 }, { value: 'ilce-7m4', count: 1 }],
        account: [{ value: 'north', count: 3 }, { value: 'south', count: 2 }],
        lens: [{ value: 'rf50mm', count: 2 }],
        status: [{ value: 'processed', count: 3 }, { value: 'failed', count: 1 }],
        gps: { with: 2, without: 2 },
        // Nine months: by month. The failed image was captured 2025-03-01T09:58+01:00.
        captured: {
          interval: 'month',
          buckets: [
            { key: '2024-06', from: '2024-06-01T00:00:00.000Z', count: 2 },
            { key: '2025-03', from: '2025-03-01T00:00:00.000Z', count: 1 },
          ],
          missing: 1,
        },
      });
      expect((await index.search(query({ make: 'canon', facets: ['account', 'gps'] }))).facets).toEqual({
        scope: 'all',
        images: 3,
        account: [{ value: 'north', count: 3 }, { value: 'south', count: 1 }],
        gps: { with: 2, without: 1 },
      });
      expect((await index.search(query({}))).facets).toBeUndefined();
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
      expect(page2).toMatchObject({ total: 4, totalRelation: 'eq' });
      expect(page2.items.map((d) => d.id)).toEqual([c2]);
    });

    it('counts up to the cap and says when more match; past the cap it filters, sorts and pages the same', async () => {
      // One image more than the cap matches `bench`; every tenth has no capture time and receipt
      // times repeat, so ids break ties. A few others match neither the word nor the box.
      const events = Array.from({ length: TOTAL_HITS_CAP + 1 }, (_, i) =>
        processedEvent({
          capturedAt: i % 10 === 0 ? null : new Date(Date.UTC(2024, 0, 1) + (i % 997) * 60_000).toISOString(),
          camera: { make: i === 0 ? 'Nikon' : 'Canon', model: 'X', serial: null },
          keywords: ['bench'],
          gps: { lat: 10 + (i % 100) / 10, lon: 20 + (i % 50) / 10, alt: null },
          source: source({ account: i % 3 === 0 ? 'north' : 'south', receivedAt: at(i % 24) }),
        }),
      );
      const others = Array.from({ length: 20 }, (_, i) =>
        processedEvent({ gps: null, keywords: ['other'], camera: { make: 'Sony', model: 'A7', serial: null }, source: source({ receivedAt: at(100 + i) }) }),
      );
      const all = [...events, ...others];
      for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map((e) => index.upsert(e)));

      const capture = (e: ImageProcessedEvent) => (e.capturedAt ? Date.parse(e.capturedAt) : null);
      const received = (e: ImageProcessedEvent) => Date.parse(e.receivedAt);
      /** Missing values last in either direction, then by id: the order both indexes promise. */
      const sorted = (list: ImageProcessedEvent[], key: (e: ImageProcessedEvent) => number | null, order: 'asc' | 'desc') =>
        [...list]
          .sort((a, b) => {
            const [x, y] = [key(a), key(b)];
            if (x !== y) return x === null ? 1 : y === null ? -1 : order === 'asc' ? x - y : y - x;
            return a.id < b.id ? -1 : 1;
          })
          .map((e) => e.id);
      const everywhere = { minLon: 0, minLat: 0, maxLon: 50, maxLat: 50 };
      const page = async (q: Partial<ImageQuery>) => {
        const { total, totalRelation, items } = await index.search(query(q));
        return { total, totalRelation, ids: items.map((d) => d.id) };
      };

      expect(await page({ size: 5 })).toEqual({ total: TOTAL_HITS_CAP, totalRelation: 'gte', ids: sorted(all, received, 'desc').slice(0, 5) });
      expect(await page({ make: 'canon', size: 5 })).toEqual({ total: TOTAL_HITS_CAP, totalRelation: 'eq', ids: sorted(events.slice(1), received, 'desc').slice(0, 5) });
      expect(await page({ make: 'nikon' })).toEqual({ total: 1, totalRelation: 'eq', ids: [events[0].id] });
      const north = events.filter((_, i) => i % 3 === 0);
      expect(await page({ account: 'north', sort: { field: 'capturedAt', order: 'asc' }, page: 2, size: 9 })).toEqual({ total: north.length, totalRelation: 'eq', ids: sorted(north, capture, 'asc').slice(9, 18) });
      // Past the cap: the page straddles the last capture time and the first image without one.
      expect(await page({ text: 'bench', bbox: everywhere, sort: { field: 'capturedAt', order: 'asc' }, page: 1286, size: 7 })).toEqual({
        total: TOTAL_HITS_CAP,
        totalRelation: 'gte',
        ids: sorted(events, capture, 'asc').slice(8995, 9002),
      });
      expect(await page({ text: 'bench', sort: { field: 'capturedAt', order: 'desc' }, size: 7 })).toEqual({ total: TOTAL_HITS_CAP, totalRelation: 'gte', ids: sorted(events, capture, 'desc').slice(0, 7) });
      expect(await page({ bbox: everywhere, sort: { field: 'receivedAt', order: 'asc' }, page: 3, size: 11 })).toEqual({ total: TOTAL_HITS_CAP, totalRelation: 'gte', ids: sorted(events, received, 'asc').slice(22, 33) });
      // A cursor continues past the cap where `page` cannot reach.
      const deep = await index.search(query({ text: 'bench', bbox: everywhere, sort: { field: 'capturedAt', order: 'asc' }, page: 1284, size: 7 }));
      let after = deep.next!;
      for (const offset of [8988, 8995, 9002]) {
        const next = await index.search(query({ text: 'bench', bbox: everywhere, sort: { field: 'capturedAt', order: 'asc' }, size: 7, after }));
        expect({ offset, ids: next.items.map((d) => d.id) }).toEqual({ offset, ids: sorted(events, capture, 'asc').slice(offset, offset + 7) });
        after = next.next!;
      }
      const last = await index.search(query({ make: 'canon', sort: { field: 'receivedAt', order: 'asc' }, size: 7, after: [Date.parse(at(23)), 'f'.repeat(64)] }));
      expect(last.items).toEqual([]);
      expect(last.next).toBeNull();
      // Facets of a broad query count the newest FACET_SAMPLE matches (receipt descending, then id).
      const newest = sorted(all, received, 'desc').slice(0, FACET_SAMPLE);
      const byId = new Map(all.map((e) => [e.id, e]));
      const count = (value: (e: ImageProcessedEvent) => string) => {
        const counts = new Map<string, number>();
        for (const id of newest) counts.set(value(byId.get(id)!), (counts.get(value(byId.get(id)!)) ?? 0) + 1);
        return [...counts].map(([v, n]) => ({ value: v, count: n })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
      };
      const { facets } = await index.search(query({ facets: ['make', 'account', 'gps'] }));
      expect(facets).toEqual({
        scope: 'newest',
        images: FACET_SAMPLE,
        make: count((e) => e.camera.make!.toLowerCase()),
        account: count((e) => e.source.account),
        gps: { with: newest.filter((id) => byId.get(id)!.gps).length, without: newest.filter((id) => !byId.get(id)!.gps).length },
      });
    }, 180_000);

    it('counts the facets of the newest matches and pages them however out of receive order they were indexed', async () => {
      // Indexed in this order: the newest receipts first, then older ones three to an instant in
      // receive order, then the oldest of all; every fiftieth also arrives from a second account.
      const receivedHours = (i: number) => (i < 100 ? 5000 + (i % 20) : i < 3900 ? Math.floor((i - 100) / 3) : -i);
      const events = Array.from({ length: 4000 }, (_, i) =>
        processedEvent({
          camera: { make: ['Canon', 'Nikon', 'Sony'][i % 3], model: 'X', serial: null },
          keywords: ['herd'],
          gps: i % 13 === 0 ? { lat: 60, lon: 10.5, alt: null } : { lat: 40 + (i % 97) / 100, lon: 10 + (i % 89) / 100, alt: null },
          source: source({ account: i % 4 === 0 ? 'north' : 'south', receivedAt: at(receivedHours(i)) }),
        }),
      );
      for (let i = 0; i < events.length; i += 500) await Promise.all(events.slice(i, i + 500).map((e) => index.upsert(e)));
      const twice = events.filter((_, i) => i % 50 === 0);
      await Promise.all(twice.map((e) => index.upsert({ ...e, source: source({ account: 'east', path: '/east.jpg', receivedAt: at(9000) }) })));

      const newestFirst = (list: ImageProcessedEvent[]) => [...list].sort((a, b) => Date.parse(b.receivedAt) - Date.parse(a.receivedAt) || (a.id < b.id ? -1 : 1));
      const counted = (list: ImageProcessedEvent[], values: (e: ImageProcessedEvent) => string[]) => {
        const counts = new Map<string, number>();
        for (const e of list) for (const v of values(e)) counts.set(v, (counts.get(v) ?? 0) + 1);
        return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
      };
      const expectNewest = async (q: Partial<ImageQuery>, matches: ImageProcessedEvent[]) => {
        const sorted = newestFirst(matches);
        const sample = sorted.slice(0, FACET_SAMPLE);
        const result = await index.search(query({ ...q, facets: ['make', 'account', 'gps'] }));
        expect({ total: result.total, ids: result.items.map((d) => d.id), facets: result.facets }).toEqual({
          total: matches.length,
          ids: sorted.slice(0, 20).map((e) => e.id),
          facets: {
            scope: 'newest',
            images: FACET_SAMPLE,
            make: counted(sample, (e) => [e.camera.make!.toLowerCase()]),
            account: counted(sample, (e) => (twice.includes(e) ? [e.source.account, 'east'] : [e.source.account])),
            gps: { with: FACET_SAMPLE, without: 0 },
          },
        });
        expect((await index.search(query({ ...q, page: 3 }))).items.map((d) => d.id)).toEqual(sorted.slice(40, 60).map((e) => e.id));
      };
      await expectNewest({ text: 'herd' }, events);
      await expectNewest({ bbox: { minLat: 39.5, maxLat: 41.5, minLon: 9.5, maxLon: 11.5 } }, events.filter((_, i) => i % 13 !== 0));
    }, 180_000);

    it('forgets an erased image: not found by id, text, account or facets, its dead letters gone, others kept', async () => {
      const erased = processedEvent({ keywords: ['harbour'], source: source({ account: 'north', receivedAt: at(0) }) });
      const kept = processedEvent({ keywords: ['harbour'], source: source({ receivedAt: at(1) }) });
      const failure = failedImageEvent({ id: erased.id, source: erased.source });
      const otherFailure = failedImageEvent({ source: kept.source });
      await index.upsert(erased);
      await index.upsert(kept);
      await index.recordFailure(failure);
      await index.recordFailure(otherFailure);

      expect(await index.erase(erased.id, at(2))).toBe(true);
      expect(await index.get(erased.id)).toBeNull();
      expect(await ids({ text: 'harbour' })).toEqual([kept.id]);
      expect(await ids({ account: 'north' })).toEqual([]);
      expect(await ids({ near: { lat: erased.gps!.lat, lon: erased.gps!.lon, radiusMeters: 1000 }, sort: { field: 'distance', order: 'asc' } })).toEqual([kept.id]);
      const all = await index.search(query({ facets: ['account', 'status'] }));
      expect(all.total).toBe(1);
      expect(all.facets?.account).toEqual([{ value: 'cam1', count: 1 }]);
      expect(all.facets?.status).toEqual([{ value: 'processed', count: 1 }]);
      expect(await index.failures(10)).toEqual([otherFailure]);
      // Idempotent: erasing again, or an image never indexed, removes nothing and fails nothing.
      expect(await index.erase(erased.id, at(2))).toBe(false);
      expect(await index.erase(fakeId(), at(2))).toBe(false);
    });

    it('ignores every event about an erased image received before the erasure, so a replay cannot bring it back', async () => {
      const processed = processedEvent({ source: source({ receivedAt: at(0) }) });
      const resent = { ...processed, source: source({ account: 'partner', receivedAt: at(1) }) };
      const failed = failedImageEvent({ id: processed.id, source: source({ path: '/broken.jpg', receivedAt: at(1) }) });
      await index.upsert(processed);
      await index.erase(processed.id, at(2));
      // Also an event the pipeline was still carrying when the erasure came (received before, indexed after).
      for (const d of [{ processed }, { processed: resent }, { failed }] as Delivery[]) await deliver(index, d);
      await index.recordFailure(failed);
      expect(await index.get(processed.id)).toBeNull();
      expect((await index.search(query())).total).toBe(0);
      expect(await index.failures(10)).toEqual([]);
    });

    it('takes the same bytes delivered after the erasure as a new image, and still ignores what came before', async () => {
      const before = processedEvent({ source: source({ path: '/old.jpg', receivedAt: at(0) }) });
      const after = { ...before, source: source({ path: '/new.jpg', receivedAt: at(3) }) };
      await index.upsert(before);
      await index.erase(before.id, at(2));
      await index.upsert(after);
      await index.upsert(before);
      const doc = await index.get(before.id);
      expect(doc?.sources.map((s) => [s.path, s.count])).toEqual([['/new.jpg', 1]]);
      expect(doc).toMatchObject({ receivedAt: at(3), firstSeenAt: at(3) });
      expect(await ids({ text: 'new' })).toEqual([before.id]);
      expect(await ids({ text: 'old' })).toEqual([]);
      // A second erasure moves the tombstone on; an earlier erasure time never moves it back.
      await index.erase(before.id, at(4));
      await index.erase(before.id, at(2));
      await index.upsert(after);
      expect(await index.get(before.id)).toBeNull();
    });

    it("lists a replica store's copies after the primary's with store and region, the same however often they are announced", async () => {
      const event = processedEvent();
      const copies = replicatedEvent(event, 'rgw-b', 'eu-north');
      const elsewhere = replicatedEvent(event, 'rgw-c', 'us-east');
      const location = ({ bytes: _bytes, sha256: _sha256, ...rest }: (typeof copies.locations)[number]) => rest;
      await index.upsert(event);
      await index.addLocations(copies);
      await index.addLocations(elsewhere);
      const once = await index.get(event.id);
      await index.addLocations(copies);
      await index.addLocations({ ...copies, replicatedAt: '2025-03-01T11:00:00.000Z' });
      await index.upsert(event);
      expect(await index.get(event.id)).toEqual(once);
      expect(once?.locations).toEqual([...event.locations, ...copies.locations.map(location), ...elsewhere.locations.map(location)]);
      expect(once?.locations.map((l) => [l.role, l.store, l.region ?? null])).toEqual([
        ['original', 'local', null],
        ['rendition', 'local', null],
        ['original', 'rgw-b', 'eu-north'],
        ['rendition', 'rgw-b', 'eu-north'],
        ['original', 'rgw-c', 'us-east'],
        ['rendition', 'rgw-c', 'us-east'],
      ]);
    });

    it('refuses copies of an image not indexed yet with a retriable NOT_YET_INDEXED, and takes them once it is', async () => {
      const event = processedEvent();
      const copies = replicatedEvent(event);
      await expect(index.addLocations(copies)).rejects.toMatchObject({ code: 'NOT_YET_INDEXED', retriable: true });
      expect(await index.get(event.id)).toBeNull();
      await index.upsert(event);
      await index.addLocations(copies);
      expect((await index.get(event.id))?.locations.filter((l) => l.store === copies.store)).toHaveLength(2);
    });

    it('keeps the copies of the keys an image still has when it is processed again, and ignores copies of keys it no longer has', async () => {
      const event = processedEvent();
      const copies = replicatedEvent(event);
      await index.upsert(event);
      await index.addLocations(copies);
      // Reprocessed under a profile without the thumbnail: only the original's copy still stands for the image.
      const reprocessed = { ...event, renditions: [], locations: event.locations.slice(0, 1), processedAt: '2025-03-01T12:00:00.000Z' };
      await index.upsert(reprocessed);
      const keys = (store: string) => async () => (await index.get(event.id))?.locations.filter((l) => l.store === store).map((l) => l.key);
      expect(await keys(copies.store)()).toEqual([event.original.key]);
      await index.addLocations(copies);
      expect(await keys(copies.store)()).toEqual([event.original.key]);
      expect(await keys('local')()).toEqual([event.original.key]);
    });

    it('ignores copies announced before the image was erased', async () => {
      const event = processedEvent({ source: source({ receivedAt: at(0) }) });
      await index.upsert(event);
      await index.erase(event.id, at(2));
      await expect(index.addLocations({ ...replicatedEvent(event), replicatedAt: at(1) })).resolves.toBeUndefined();
      expect(await index.get(event.id)).toBeNull();
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

    it('prunes the dead letters that failed before a time and keeps the rest and the images', async () => {
      const old = failedImageEvent({ failedAt: '2025-01-01T10:00:00.000Z' });
      const recent = failedEvent({ failedAt: '2025-03-01T10:00:00.000Z' });
      await index.recordFailure(old);
      await index.upsertFailed(old);
      await index.recordFailure(recent);
      expect(await index.deleteFailures(new Date('2025-02-01T00:00:00.000Z'))).toBe(1);
      expect(await index.failures(10)).toEqual([recent]);
      expect(await index.deleteFailures(new Date('2025-02-01T00:00:00.000Z'))).toBe(0);
      expect((await index.get(old.id!))?.status).toBe('failed');
    });

    it('answers a ping when reachable, and fails one retriably with INDEX_UNAVAILABLE when not', async () => {
      await expect(index.ping()).resolves.toBeUndefined();
      const down = await harness.unreachable();
      try {
        await expect(down.ping()).rejects.toMatchObject({ name: 'IngestError', code: 'INDEX_UNAVAILABLE', retriable: true });
      } finally {
        await down.close().catch(() => undefined);
      }
    });
  });
}
