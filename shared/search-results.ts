import { captureInstant } from './index-document';
import {
  FACET_SIZE,
  MISSING_LAST,
  type BoundingBox,
  type CaptureHistogram,
  type FacetBucket,
  type GeoCircle,
  type HistogramInterval,
  type ImageDocument,
  type ImageQuery,
  type SortPosition,
} from './ports/image-index.port';

/**
 * What both index adapters compute the same way from what their engines count, so that the
 * search API answers alike on either: distances, sort positions, facet order and the histogram.
 */

/** Elasticsearch's mean earth radius (GeoUtils.EARTH_MEAN_RADIUS): its arc distances and ours agree. */
const EARTH_RADIUS_M = 6_371_008.7714;
const DAY_MS = 86_400_000;
const radians = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance by the haversine formula, as Elasticsearch's `arc` distance. */
export function distanceMeters(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = radians(lat2 - lat1);
  const dLon = radians(lon2 - lon1);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Boxes that hold every point of the circle (candidates for an R*Tree), two when it crosses the
 * antimeridian and one spanning all longitudes when it reaches a pole.
 */
export function circleBoxes({ lat, lon, radiusMeters }: GeoCircle): BoundingBox[] {
  const dLat = (radiusMeters / EARTH_RADIUS_M) * (180 / Math.PI);
  const minLat = Math.max(-90, lat - dLat);
  const maxLat = Math.min(90, lat + dLat);
  if (minLat === -90 || maxLat === 90) return [{ minLat, maxLat, minLon: -180, maxLon: 180 }];
  // The widest longitude span of the circle is at the latitude nearest a pole it reaches.
  const dLon = Math.asin(Math.min(1, Math.sin(radiusMeters / EARTH_RADIUS_M) / Math.cos(radians(lat)))) * (180 / Math.PI);
  if (dLon >= 180 || !Number.isFinite(dLon)) return [{ minLat, maxLat, minLon: -180, maxLon: 180 }];
  const west = lon - dLon;
  const east = lon + dLon;
  if (west < -180) return [{ minLat, maxLat, minLon: west + 360, maxLon: 180 }, { minLat, maxLat, minLon: -180, maxLon: east }];
  if (east > 180) return [{ minLat, maxLat, minLon: west, maxLon: 180 }, { minLat, maxLat, minLon: -180, maxLon: east - 360 }];
  return [{ minLat, maxLat, minLon: west, maxLon: east }];
}

/** The document's distance from the query's point, when the query has one and the image a place. */
export function distanceFrom(query: Pick<ImageQuery, 'near'>, doc: ImageDocument): number | null {
  if (!query.near || !doc.gps) return null;
  return distanceMeters(query.near.lat, query.near.lon, doc.gps.lat, doc.gps.lon);
}

/** The position of a document in the query's order: what `after` continues from. */
export function sortPosition(query: ImageQuery, doc: ImageDocument): SortPosition {
  const { field, order } = query.sort;
  if (field === 'receivedAt') return [Date.parse(doc.receivedAt), doc.id];
  if (field === 'capturedAt') return [captureInstant(doc.capturedAt) ?? MISSING_LAST[order], doc.id];
  return [distanceFrom(query, doc) ?? Number.MAX_VALUE, doc.id];
}

/** The position after a page: set only when the page is full, as only then more may follow. */
export function nextPosition(query: ImageQuery, items: ImageDocument[]): SortPosition | null {
  return items.length === query.size && items.length > 0 ? sortPosition(query, items[items.length - 1]) : null;
}

/** The FACET_SIZE most frequent values, most frequent first, ties by value in code point order. */
export function topBuckets(counts: Iterable<[string, number]>): FacetBucket[] {
  return [...counts]
    .filter(([, count]) => count > 0)
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, FACET_SIZE);
}

const BUCKET_KEY_LENGTH: Record<HistogramInterval, number> = { year: 4, month: 7, day: 10 };
/** What completes a bucket's key to the date it starts at. */
const BUCKET_START: Record<HistogramInterval, string> = { year: '-01-01', month: '-01', day: '' };

/**
 * Rolls day counts (days since 1970-01-01 UTC) up into the interval their span suits: days for up
 * to two months, months for up to ten years, years beyond.
 */
export function captureHistogram(days: Iterable<[day: number, count: number]>, missing: number): CaptureHistogram {
  const counted = [...days].filter(([, count]) => count > 0).sort((a, b) => a[0] - b[0]);
  if (counted.length === 0) return { interval: 'day', buckets: [], missing };
  const first = new Date(counted[0][0] * DAY_MS);
  const last = new Date(counted[counted.length - 1][0] * DAY_MS);
  const months = (last.getUTCFullYear() - first.getUTCFullYear()) * 12 + last.getUTCMonth() - first.getUTCMonth();
  const interval: HistogramInterval = counted[counted.length - 1][0] - counted[0][0] < 62 ? 'day' : months < 120 ? 'month' : 'year';
  const buckets = new Map<string, number>();
  for (const [day, count] of counted) {
    const key = new Date(day * DAY_MS).toISOString().slice(0, BUCKET_KEY_LENGTH[interval]);
    buckets.set(key, (buckets.get(key) ?? 0) + count);
  }
  return {
    interval,
    buckets: [...buckets].map(([key, count]) => ({ key, from: `${key}${BUCKET_START[interval]}T00:00:00.000Z`, count })),
    missing,
  };
}

/** Days since 1970-01-01 UTC of an instant. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}
