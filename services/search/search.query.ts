import { IngestError } from '../../shared/errors';
import {
  FACET_NAMES,
  IMAGE_STATUSES,
  TOTAL_HITS_CAP,
  type FacetName,
  type ImageQuery,
  type ImageStatus,
  type SortPosition,
} from '../../shared/ports/image-index.port';

type Sort = ImageQuery['sort'];

const SORTS: Record<string, Sort> = {
  capturedAt: { field: 'capturedAt', order: 'asc' },
  '-capturedAt': { field: 'capturedAt', order: 'desc' },
  receivedAt: { field: 'receivedAt', order: 'asc' },
  '-receivedAt': { field: 'receivedAt', order: 'desc' },
  distance: { field: 'distance', order: 'asc' },
};

const sortName = (sort: Sort): string => Object.keys(SORTS).find((name) => SORTS[name].field === sort.field && SORTS[name].order === sort.order)!;

export const SEARCH_PARAMETERS = [
  'q', 'account', 'make', 'model', 'lens', 'isoMin', 'isoMax', 'from', 'to', 'receivedFrom', 'receivedTo',
  'bbox', 'near', 'radius', 'status', 'sort', 'page', 'size', 'cursor', 'facets',
] as const;
const PARAMETERS = new Set<string>(SEARCH_PARAMETERS);
export const MAX_PAGE_SIZE = 100;
/** 20,000 km: half the earth's circumference reaches every point. */
const MAX_RADIUS_M = 20_000_000;

function invalid(name: string, message: string): IngestError {
  return new IngestError('INVALID_QUERY', `${name}: ${message}`);
}

function integer(params: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(name, `must be an integer from ${min} to ${max}`);
  return value;
}

function date(params: URLSearchParams, name: string): Date | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  // Date-only and zone-less values are read as UTC, like capture times without an offset.
  const zoned = /T.*([+-]\d{2}:\d{2}|Z)$/.test(raw) || !/T/.test(raw) ? raw : `${raw}Z`;
  const value = new Date(zoned);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(value.getTime())) throw invalid(name, 'must be an ISO 8601 date or time');
  return value;
}

function text(params: URLSearchParams, name: string): string | undefined {
  const raw = params.get(name)?.trim();
  if (raw && raw.length > 500) throw invalid(name, 'must be at most 500 characters');
  return raw || undefined;
}

/** `2500`, `2500m` or `2.5km`. */
function radius(params: URLSearchParams): number {
  const raw = params.get('radius')?.trim() ?? '';
  const match = /^(\d+(?:\.\d+)?)\s*(m|km)?$/i.exec(raw);
  const meters = match ? Number(match[1]) * (match[2]?.toLowerCase() === 'km' ? 1000 : 1) : NaN;
  if (!(meters > 0 && meters <= MAX_RADIUS_M)) throw invalid('radius', 'must be a distance such as 500m or 2.5km, up to 20000km');
  return meters;
}

function facets(params: URLSearchParams): FacetName[] | undefined {
  const raw = params.get('facets');
  if (raw === null || raw.trim() === '') return undefined;
  const names = raw.split(',').map((n) => n.trim());
  const unknown = names.find((n) => !FACET_NAMES.includes(n as FacetName));
  if (unknown !== undefined) throw invalid('facets', `unknown facet "${unknown}" (known: ${FACET_NAMES.join(', ')})`);
  return [...new Set(names as FacetName[])];
}

/** A cursor is opaque to clients: the sort it was made for and the position of the page's last image. */
export function encodeCursor(sort: Sort, position: SortPosition): string {
  return Buffer.from(JSON.stringify({ s: sortName(sort), a: position })).toString('base64url');
}

function cursor(params: URLSearchParams, sort: Sort): SortPosition | undefined {
  const raw = params.get('cursor');
  if (raw === null || raw === '') return undefined;
  let decoded: { s?: unknown; a?: unknown };
  try {
    decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as typeof decoded;
  } catch {
    throw invalid('cursor', 'is not a cursor from this API: pass nextCursor of the previous answer unchanged');
  }
  const position = decoded?.a;
  if (!Array.isArray(position) || position.length !== 2 || typeof position[0] !== 'number' || !Number.isFinite(position[0]) || typeof position[1] !== 'string' || typeof decoded.s !== 'string') {
    throw invalid('cursor', 'is not a cursor from this API: pass nextCursor of the previous answer unchanged');
  }
  if (decoded.s !== sortName(sort)) throw invalid('cursor', `was made for sort=${decoded.s}; send the same sort with it`);
  return [position[0], position[1]];
}

function status(params: URLSearchParams): ImageStatus | undefined {
  const raw = params.get('status');
  if (raw === null || raw === '') return undefined;
  if (!IMAGE_STATUSES.includes(raw as ImageStatus)) throw invalid('status', `must be one of ${IMAGE_STATUSES.join(', ')}`);
  return raw as ImageStatus;
}

/** Parses `GET /api/images` parameters; a bad one is a 400 that names it. */
export function parseImageQuery(params: URLSearchParams): ImageQuery {
  for (const name of params.keys()) {
    if (!PARAMETERS.has(name)) throw invalid(name, `unknown parameter (known: ${[...PARAMETERS].join(', ')})`);
  }
  const query: ImageQuery = {
    text: text(params, 'q'),
    account: text(params, 'account'),
    make: text(params, 'make'),
    model: text(params, 'model'),
    lens: text(params, 'lens'),
    from: date(params, 'from'),
    to: date(params, 'to'),
    receivedFrom: date(params, 'receivedFrom'),
    receivedTo: date(params, 'receivedTo'),
    status: status(params),
    sort: SORTS['-receivedAt'],
    page: integer(params, 'page', 1, TOTAL_HITS_CAP, 1),
    size: integer(params, 'size', 1, MAX_PAGE_SIZE, 20),
    facets: facets(params),
  };
  if (query.from && query.to && query.from > query.to) throw invalid('from', 'must not be after to');
  if (query.receivedFrom && query.receivedTo && query.receivedFrom > query.receivedTo) throw invalid('receivedFrom', 'must not be after receivedTo');
  const isoMin = params.has('isoMin') ? integer(params, 'isoMin', 0, 10_000_000, 0) : undefined;
  const isoMax = params.has('isoMax') ? integer(params, 'isoMax', 0, 10_000_000, 0) : undefined;
  if (isoMin !== undefined || isoMax !== undefined) {
    if (isoMin !== undefined && isoMax !== undefined && isoMin > isoMax) throw invalid('isoMin', 'must not be above isoMax');
    query.iso = { min: isoMin, max: isoMax };
  }
  const sort = params.get('sort');
  if (sort) {
    if (!SORTS[sort]) throw invalid('sort', `must be one of ${Object.keys(SORTS).join(', ')}`);
    query.sort = SORTS[sort];
  }
  const near = params.get('near');
  if (near) {
    const parts = near.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
    const [lat, lon] = parts;
    if (parts.length !== 2 || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) throw invalid('near', 'must be lat,lon in degrees');
    query.near = { lat, lon, radiusMeters: radius(params) };
  } else if (params.get('radius')) throw invalid('radius', 'needs near=lat,lon');
  if (query.sort.field === 'distance' && !query.near) throw invalid('sort', 'distance needs near=lat,lon&radius=...');
  query.after = cursor(params, query.sort);
  if (query.after && params.get('page')) throw invalid('page', 'cannot be combined with cursor');
  if (query.page * query.size > TOTAL_HITS_CAP) {
    throw invalid('page', `reaches at most the first ${TOTAL_HITS_CAP} results (page × size); read further with cursor, the nextCursor of each answer`);
  }
  const bbox = params.get('bbox');
  if (bbox) {
    const parts = bbox.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
    const [minLon, minLat, maxLon, maxLat] = parts;
    const lonOk = (v: number) => v >= -180 && v <= 180;
    const latOk = (v: number) => v >= -90 && v <= 90;
    if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p)) || !lonOk(minLon) || !lonOk(maxLon) || !latOk(minLat) || !latOk(maxLat) || minLat > maxLat) {
      throw invalid('bbox', 'must be minLon,minLat,maxLon,maxLat in degrees with minLat <= maxLat');
    }
    query.bbox = { minLon, minLat, maxLon, maxLat };
  }
  return query;
}
