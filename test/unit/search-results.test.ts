import { FACET_SIZE, MISSING_LAST, type ImageQuery } from '../../shared/ports/image-index.port';
import { captureHistogram, circleBoxes, dayOf, distanceMeters, nextPosition, sortPosition, topBuckets } from '../../shared/search-results';
import { mergeProcessed } from '../../shared/index-document';
import { processedEvent } from '../helpers/events';

const day = (iso: string) => dayOf(Date.parse(iso));

describe('what both indexes compute alike from what their engines count', () => {
  it('measures great-circle distance on the mean earth radius', () => {
    expect(distanceMeters(46.5, 8, 46.5, 8)).toBe(0);
    // A quarter of the equator.
    expect(distanceMeters(0, 0, 0, 90)).toBeCloseTo((Math.PI / 2) * 6_371_008.7714, 3);
    // Across the antimeridian the short way.
    expect(distanceMeters(0, 179.5, 0, -179.5)).toBeCloseTo(distanceMeters(0, 0, 0, 1), 6);
  });

  it('bounds a circle with boxes that hold all of it, split at the antimeridian and widened at a pole', () => {
    // Every point of a fine grid that lies within the radius lies in a box.
    const inside = (boxes: ReturnType<typeof circleBoxes>, lat: number, lon: number) =>
      boxes.some((b) => lat >= b.minLat && lat <= b.maxLat && lon >= b.minLon && lon <= b.maxLon);
    for (const [lat, lon] of [[46.5, 8], [-70, 100], [0, 179.95]]) {
      const circle = { lat, lon, radiusMeters: 10_000 };
      const boxes = circleBoxes(circle);
      let within = 0;
      for (let dLat = -0.1; dLat <= 0.1; dLat += 0.002) {
        for (let dLon = -0.4; dLon <= 0.4; dLon += 0.004) {
          const [pLat, pLon] = [lat + dLat, ((lon + dLon + 540) % 360) - 180];
          if (distanceMeters(lat, lon, pLat, pLon) > 10_000) continue;
          within++;
          expect({ pLat, pLon, inside: inside(boxes, pLat, pLon) }).toEqual({ pLat, pLon, inside: true });
        }
      }
      expect(within).toBeGreaterThan(100);
    }
    expect(circleBoxes({ lat: 0, lon: 179.99, radiusMeters: 5000 })).toEqual([
      expect.objectContaining({ maxLon: 180 }),
      expect.objectContaining({ minLon: -180 }),
    ]);
    expect(circleBoxes({ lat: 89.99, lon: 0, radiusMeters: 5000 })).toEqual([expect.objectContaining({ minLon: -180, maxLon: 180, maxLat: 90 })]);
  });

  it('lists the most frequent values first, ties by value, at most FACET_SIZE', () => {
    const counts = Array.from({ length: FACET_SIZE + 5 }, (_, i) => [`v${String(i).padStart(2, '0')}`, i % 3] as [string, number]);
    const top = topBuckets(counts);
    expect(top).toHaveLength(FACET_SIZE - 4);
    expect(top.slice(0, 3)).toEqual([{ value: 'v02', count: 2 }, { value: 'v05', count: 2 }, { value: 'v08', count: 2 }]);
    expect(topBuckets(Array.from({ length: 30 }, (_, i) => [`k${i}`, 1] as [string, number]))).toHaveLength(FACET_SIZE);
  });

  it('chooses the histogram interval from the span: days up to two months, months up to ten years, else years', () => {
    expect(captureHistogram([[day('2024-06-01'), 2], [day('2024-07-15'), 1]], 3)).toEqual({
      interval: 'day',
      buckets: [
        { key: '2024-06-01', from: '2024-06-01T00:00:00.000Z', count: 2 },
        { key: '2024-07-15', from: '2024-07-15T00:00:00.000Z', count: 1 },
      ],
      missing: 3,
    });
    expect(captureHistogram([[day('2024-06-01'), 2], [day('2024-06-30'), 1], [day('2024-09-01'), 4]], 0)).toEqual({
      interval: 'month',
      buckets: [
        { key: '2024-06', from: '2024-06-01T00:00:00.000Z', count: 3 },
        { key: '2024-09', from: '2024-09-01T00:00:00.000Z', count: 4 },
      ],
      missing: 0,
    });
    expect(captureHistogram([[day('2001-03-01'), 1], [day('2024-01-01'), 1], [day('2024-12-31'), 1]], 0).buckets).toEqual([
      { key: '2001', from: '2001-01-01T00:00:00.000Z', count: 1 },
      { key: '2024', from: '2024-01-01T00:00:00.000Z', count: 2 },
    ]);
    expect(captureHistogram([[day('1969-12-31'), 1]], 0).buckets).toEqual([{ key: '1969-12-31', from: '1969-12-31T00:00:00.000Z', count: 1 }]);
    expect(captureHistogram([], 2)).toEqual({ interval: 'day', buckets: [], missing: 2 });
  });

  it('gives the position after a full page in the query order, an image without capture time last', () => {
    const query = (sort: ImageQuery['sort']): ImageQuery => ({ sort, page: 1, size: 1, near: { lat: 0, lon: 0, radiusMeters: 1e6 } });
    const doc = mergeProcessed(null, processedEvent({ capturedAt: null, gps: { lat: 0, lon: 1, alt: null } }));
    expect(sortPosition(query({ field: 'capturedAt', order: 'asc' }), doc)).toEqual([MISSING_LAST.asc, doc.id]);
    expect(sortPosition(query({ field: 'capturedAt', order: 'desc' }), doc)).toEqual([MISSING_LAST.desc, doc.id]);
    expect(sortPosition(query({ field: 'receivedAt', order: 'desc' }), doc)).toEqual([Date.parse(doc.receivedAt), doc.id]);
    expect(sortPosition(query({ field: 'distance', order: 'asc' }), doc)[0]).toBeCloseTo(distanceMeters(0, 0, 0, 1), 6);
    expect(nextPosition(query({ field: 'receivedAt', order: 'desc' }), [doc])).not.toBeNull();
    expect(nextPosition({ ...query({ field: 'receivedAt', order: 'desc' }), size: 2 }, [doc])).toBeNull();
  });
});
