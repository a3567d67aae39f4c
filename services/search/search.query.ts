import { IngestError } from '../../shared/errors';
import { IMAGE_STATUSES, type ImageQuery, type ImageStatus, type SortField } from '../../shared/ports/image-index.port';

const SORTS: Record<string, { field: SortField; order: 'asc' | 'desc' }> = {
  capturedAt: { field: 'capturedAt', order: 'asc' },
  '-capturedAt': { field: 'capturedAt', order: 'desc' },
  receivedAt: { field: 'receivedAt', order: 'asc' },
  '-receivedAt': { field: 'receivedAt', order: 'desc' },
};

const PARAMETERS = new Set(['q', 'account', 'make', 'model', 'from', 'to', 'bbox', 'status', 'sort', 'page', 'size']);
export const MAX_PAGE_SIZE = 100;

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
    from: date(params, 'from'),
    to: date(params, 'to'),
    status: status(params),
    sort: SORTS['-receivedAt'],
    page: integer(params, 'page', 1, 10_000, 1),
    size: integer(params, 'size', 1, MAX_PAGE_SIZE, 20),
  };
  if (query.from && query.to && query.from > query.to) throw invalid('from', 'must not be after to');
  const sort = params.get('sort');
  if (sort) {
    if (!SORTS[sort]) throw invalid('sort', `must be one of ${Object.keys(SORTS).join(', ')}`);
    query.sort = SORTS[sort];
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
