import type { estypes } from '@elastic/elasticsearch';
import { normalizeKeyword, searchTerms } from '../index-document';
import {
  FACET_SAMPLE,
  MISSING_LAST,
  type FacetCounts,
  type FacetName,
  type ImageQuery,
  type SortPosition,
} from '../ports/image-index.port';
import { captureHistogram, dayOf, topBuckets } from '../search-results';

/**
 * The image query in Elasticsearch's terms: filters, sort, search_after and the facets'
 * aggregations. Field names are those of the adapter's mapping.
 */

/** Documents indexed before statuses existed have none and are processed ones. */
const PROCESSED: estypes.QueryDslQueryContainer = { bool: { should: [{ term: { status: 'processed' } }, { bool: { must_not: { exists: { field: 'status' } } } }], minimum_should_match: 1 } };

export function queryFilters(query: ImageQuery): estypes.QueryDslQueryContainer[] {
  const filter: estypes.QueryDslQueryContainer[] = [];
  for (const term of query.text ? searchTerms(query.text) : []) filter.push({ term: { terms: term } });
  if (query.account) filter.push({ term: { accounts: query.account } });
  if (query.make) filter.push({ term: { make: normalizeKeyword(query.make) } });
  if (query.model) filter.push({ term: { model: normalizeKeyword(query.model) } });
  if (query.lens) filter.push({ term: { lens: normalizeKeyword(query.lens) } });
  if (query.iso) filter.push({ range: { iso: { gte: query.iso.min, lte: query.iso.max } } });
  if (query.from || query.to) filter.push({ range: { captured: { gte: query.from?.getTime(), lte: query.to?.getTime() } } });
  if (query.receivedFrom || query.receivedTo) filter.push({ range: { received: { gte: query.receivedFrom?.getTime(), lte: query.receivedTo?.getTime() } } });
  if (query.bbox) {
    const { minLon, minLat, maxLon, maxLat } = query.bbox;
    // Elasticsearch reads a box whose left edge is east of its right edge as crossing the antimeridian.
    filter.push({ geo_bounding_box: { location: { top_left: { lat: maxLat, lon: minLon }, bottom_right: { lat: minLat, lon: maxLon } } } });
  }
  if (query.near) {
    const { lat, lon, radiusMeters } = query.near;
    filter.push({ geo_distance: { distance: `${radiusMeters}m`, distance_type: 'arc', location: { lat, lon } } });
  }
  if (query.status === 'failed') filter.push({ term: { status: 'failed' } });
  if (query.status === 'processed') filter.push(PROCESSED);
  return filter;
}

/**
 * Images without a capture time sort last in either order. Their sort value is MISSING_LAST (not
 * `_last`, whose Long.MAX_VALUE a JavaScript number cannot carry back in search_after).
 */
export function querySort(query: ImageQuery): estypes.SortCombinations[] {
  const { field, order } = query.sort;
  const byId: estypes.SortCombinations = { id: { order: 'asc' } };
  if (field === 'distance') {
    return [{ _geo_distance: { location: { lat: query.near!.lat, lon: query.near!.lon }, order: 'asc', unit: 'm', distance_type: 'arc' } }, byId];
  }
  if (field === 'capturedAt') return [{ captured: { order, missing: MISSING_LAST[order] } }, byId];
  return [{ received: { order } }, byId];
}

/** Continues after a position; the id tie-break makes it exact. */
export function searchAfter(position: SortPosition | undefined): { search_after?: [number, string] } {
  return position ? { search_after: position } : {};
}

const TERM_FIELDS: Partial<Record<FacetName, string>> = { make: 'make', model: 'model', account: 'accounts', lens: 'lens' };
/** More than FACET_SIZE from each shard, so that the top values across shards are counted right. */
const SHARD_SIZE = 200;

export function facetAggregations(names: FacetName[]): Record<string, estypes.AggregationsAggregationContainer> {
  const aggs: Record<string, estypes.AggregationsAggregationContainer> = {};
  for (const name of names) {
    const field = TERM_FIELDS[name];
    if (field) aggs[name] = { terms: { field, size: SHARD_SIZE, shard_size: SHARD_SIZE, order: [{ _count: 'desc' }, { _key: 'asc' }] } };
    if (name === 'status') aggs.status = { terms: { field: 'status', missing: 'processed', size: 10 } };
    if (name === 'gps') aggs.gps = { filter: { exists: { field: 'location' } } };
    if (name === 'captured') {
      aggs.captured = { date_histogram: { field: 'captured', calendar_interval: 'day', min_doc_count: 1 } };
      aggs.captured_missing = { missing: { field: 'captured' } };
    }
  }
  return aggs;
}

type Aggregations = Record<string, { buckets?: { key: string | number; doc_count: number }[]; doc_count?: number }>;

/** The facets of `images` counted documents, from the aggregations' answer. */
export function readFacets(names: FacetName[], aggs: Aggregations, images: number, scope: FacetCounts['scope']): FacetCounts {
  const facets: FacetCounts = { scope, images };
  const buckets = (name: string) => (aggs[name]?.buckets ?? []).map((b) => [String(b.key), b.doc_count] as [string, number]);
  for (const name of names) {
    if (name === 'make' || name === 'model' || name === 'account' || name === 'lens' || name === 'status') facets[name] = topBuckets(buckets(name));
    if (name === 'gps') facets.gps = { with: aggs.gps.doc_count!, without: images - aggs.gps.doc_count! };
    if (name === 'captured') {
      const days = (aggs.captured.buckets ?? []).map((b) => [dayOf(Number(b.key)), b.doc_count] as [number, number]);
      facets.captured = captureHistogram(days, aggs.captured_missing.doc_count!);
    }
  }
  return facets;
}

/**
 * When more than FACET_SAMPLE match, facets count the FACET_SAMPLE most recently received: those
 * at or before the last of them in (received desc, id asc) order.
 */
export const NEWEST_ORDER: estypes.SortCombinations[] = [{ received: { order: 'desc' } }, { id: { order: 'asc' } }];
export const NEWEST_LAST_OFFSET = FACET_SAMPLE - 1;

export function atOrBefore([received, id]: SortPosition): estypes.QueryDslQueryContainer {
  return { bool: { should: [{ range: { received: { gt: received } } }, { bool: { filter: [{ term: { received } }, { range: { id: { lte: id } } }] } }], minimum_should_match: 1 } };
}
