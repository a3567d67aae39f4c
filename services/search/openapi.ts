import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApiRole } from '../../shared/api-keys';
import failedEventSchema from '../../shared/contracts/schemas/images.failed.v1.json';
import ingestedEventSchema from '../../shared/contracts/schemas/images.ingested.v1.json';
import processedEventSchema from '../../shared/contracts/schemas/images.processed.v1.json';
import { PACKAGE_ROOT } from '../../shared/paths';
import { FACET_NAMES, FACET_SIZE, IMAGE_STATUSES, TOTAL_HITS_CAP, type FacetName } from '../../shared/ports/image-index.port';
import { MAX_PAGE_SIZE, SEARCH_PARAMETERS } from './search.query';
import {
  CADENCE_FLOOR_MS,
  HISTORY_SIZE,
  MIN_HISTORY,
  SOURCE_HEALTH_CACHE_MS,
  SOURCE_LAST_SEEN_METRIC,
  SOURCE_QUIET_METRIC,
} from './source-health';

/** A JSON Schema in the 2020-12 dialect, which OpenAPI 3.1 schemas are (jsonSchemaDialect below). */
export type JsonSchema = Record<string, unknown>;

type Ref = { $ref: string };
/** Alternatives; a scheme's array lists the API roles that may call (OpenAPI 3.1 §4.8.30). */
type SecurityRequirement = Partial<Record<SecuritySchemeName, string[]>>;

export interface OpenApiParameter {
  name: string;
  in: 'query' | 'path' | 'header';
  description: string;
  required?: boolean;
  schema: JsonSchema;
  /** Comma-separated lists (`bbox=1,2,3,4`) are `style: form, explode: false` arrays. */
  style?: 'form' | 'simple';
  explode?: boolean;
}

export interface OpenApiHeader {
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, OpenApiHeader>;
  content?: Record<string, { schema?: JsonSchema }>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: SecurityRequirement[];
  parameters?: (OpenApiParameter | Ref)[];
  responses: Record<string, OpenApiResponse | Ref>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  tags: { name: string; description: string }[];
  security: SecurityRequirement[];
  paths: Record<string, { get: OpenApiOperation; delete?: OpenApiOperation }>;
  components: {
    schemas: Record<SchemaName, JsonSchema>;
    parameters: Record<ParameterName, OpenApiParameter>;
    responses: Record<ResponseName, OpenApiResponse>;
    securitySchemes: Record<SecuritySchemeName, JsonSchema>;
  };
}

type SchemaName =
  | 'Error'
  | 'ImageId'
  | 'ImageStatus'
  | 'ImageError'
  | 'SignedUrl'
  | 'SearchResult'
  | 'ImageSummary'
  | 'FacetCounts'
  | 'FacetBuckets'
  | 'CaptureHistogram'
  | 'ImageDetail'
  | 'IndexedSource'
  | 'ImageFailedEvent'
  | 'Failures'
  | 'ErasureResult'
  | 'SourceHealthReport'
  | 'SourceHealthEntry'
  | 'Health'
  | 'ApiDescription';
type ParameterName = 'ImageIdPath' | 'RenditionName' | 'Exp' | 'Sig' | 'Range' | 'IfNoneMatch' | 'IfRange' | 'Region' | 'RegionHeader';
type ResponseName = 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'RangeNotSatisfiable' | 'ServerError' | 'Unavailable';
type SecuritySchemeName = 'bearerAuth' | 'apiKeyHeader' | 'signedUrl';

const schema = (name: SchemaName): Ref => ({ $ref: `#/components/schemas/${name}` });
const parameter = (name: ParameterName): Ref => ({ $ref: `#/components/parameters/${name}` });
const response = (name: ResponseName): Ref => ({ $ref: `#/components/responses/${name}` });
const json = (body: JsonSchema) => ({ 'application/json': { schema: body } });

/** A key of at least `role` in either header; a higher role may do all a lower one may (operator ⊇ analyst). */
const keyed = (role: ApiRole): SecurityRequirement[] => [{ bearerAuth: [role] }, { apiKeyHeader: [role] }];
const open: SecurityRequirement[] = [];

/** Each event schema without its identifiers: here it is a part of this document, not a document of its own. */
function embedded<S extends { $schema: string; $id: string }>({ $schema: _schema, $id: _id, ...rest }: S): Omit<S, '$schema' | '$id'> {
  return rest;
}
const failedEvent = embedded(failedEventSchema);
const processed = embedded(processedEventSchema).properties;
const { schema: _schema, source: _source, ...documentFields } = processed;

const instant = { type: 'string', format: 'date-time' };
const nullable = (type: 'integer' | 'number' | 'string', extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });
const count = { type: 'integer', minimum: 0 };
const latitude = { type: 'number', minimum: -90, maximum: 90 };
const longitude = { type: 'number', minimum: -180, maximum: 180 };
const closed = (properties: Record<string, JsonSchema | Ref>, optional: string[] = []): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties).filter((name) => !optional.includes(name)),
  properties,
});

/** What each facet name asks for adds one property to `facets`; a new FacetName fails to compile until it is described. */
const FACET_SCHEMAS: Record<FacetName, JsonSchema | Ref> = {
  make: schema('FacetBuckets'),
  model: schema('FacetBuckets'),
  account: schema('FacetBuckets'),
  lens: schema('FacetBuckets'),
  status: schema('FacetBuckets'),
  gps: { ...closed({ with: count, without: count }), description: 'Images with and without a GPS position.' },
  captured: schema('CaptureHistogram'),
};

const DATE = {
  type: 'string',
  // What parseImageQuery accepts: a date, or a date-time with or without its UTC offset.
  pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})?)?$',
};
const TEXT = { type: 'string', maxLength: 500 };

/** Every parameter parseImageQuery knows; a name added to SEARCH_PARAMETERS fails to compile until it is described here. */
const SEARCH_PARAMETER_DOCS: Record<(typeof SEARCH_PARAMETERS)[number], Omit<OpenApiParameter, 'name' | 'in'>> = {
  q: { description: 'Every whitespace-separated term must match a word of a file name or path, the camera, a keyword, the caption or the title.', schema: TEXT },
  account: { description: 'Images delivered by this account (any of their sources).', schema: TEXT },
  make: { description: 'Camera make, case-insensitive exact match.', schema: TEXT },
  model: { description: 'Camera model, case-insensitive exact match.', schema: TEXT },
  lens: { description: 'Lens model, case-insensitive exact match.', schema: TEXT },
  isoMin: { description: 'Lowest ISO speed (inclusive).', schema: { type: 'integer', minimum: 0, maximum: 10_000_000 } },
  isoMax: { description: 'Highest ISO speed (inclusive); not below isoMin.', schema: { type: 'integer', minimum: 0, maximum: 10_000_000 } },
  from: { description: 'Captured at or after (a date or a date-time; without an offset it is read as UTC).', schema: DATE },
  to: { description: 'Captured at or before; not before `from`.', schema: DATE },
  receivedFrom: { description: 'First received at or after (a date or a date-time; without an offset it is read as UTC).', schema: DATE },
  receivedTo: { description: 'First received at or before; not before `receivedFrom`.', schema: DATE },
  bbox: {
    description: 'Taken inside this box: minLon,minLat,maxLon,maxLat in degrees, minLat <= maxLat; minLon > maxLon crosses the antimeridian.',
    style: 'form',
    explode: false,
    schema: { type: 'array', prefixItems: [longitude, latitude, longitude, latitude], items: false, minItems: 4 },
  },
  near: {
    description: 'Taken within `radius` (great-circle) of lat,lon in degrees; needs `radius`. Each item then has `distanceMeters`.',
    style: 'form',
    explode: false,
    schema: { type: 'array', prefixItems: [latitude, longitude], items: false, minItems: 2 },
  },
  radius: {
    description: 'With `near`: metres (`2500`, `2500m`) or kilometres (`2.5km`), more than 0 and at most 20000km.',
    schema: { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*([mM]|[kK][mM])?$' },
  },
  status: { description: '`failed`: stored originals that could not be processed. Images indexed before statuses existed count as `processed`.', schema: schema('ImageStatus') },
  sort: {
    description: 'Order; `-` is descending. `distance` (nearest first) needs `near`. Ties are broken by id.',
    schema: { type: 'string', enum: ['capturedAt', '-capturedAt', 'receivedAt', '-receivedAt', 'distance'], default: '-receivedAt' },
  },
  page: {
    description: `1-based page; page × size reaches at most the first ${TOTAL_HITS_CAP} results (read further with \`cursor\`). Not with \`cursor\`.`,
    schema: { type: 'integer', minimum: 1, maximum: TOTAL_HITS_CAP, default: 1 },
  },
  size: { description: 'Images per page.', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 } },
  cursor: {
    description: 'Continue after the previous page at any depth: its `nextCursor`, unchanged, with the same sort and filters.',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
  },
  facets: {
    description: 'Also count the matches by these facets (comma-separated); the answer then has `facets`.',
    style: 'form',
    explode: false,
    schema: { type: 'array', items: { enum: [...FACET_NAMES] }, minItems: 1 },
  },
};

const BYTES_HEADERS: Record<string, OpenApiHeader> = {
  ETag: {
    description: 'Strong validator: the bytes behind an image id and rendition name never change.',
    required: true,
    schema: { type: 'string', pattern: '^"[0-9a-f]{64}\\.(original|renditions/.+)"$' },
  },
  'Accept-Ranges': { description: 'Single byte ranges are served.', required: true, schema: { const: 'bytes' } },
  'Cache-Control': {
    description: '`private` when http.auth is key, else `public`; always immutable for a year.',
    required: true,
    schema: { type: 'string', pattern: '^(private|public), max-age=31536000, immutable$' },
  },
};
const BYTES_BODY = { 'image/*': { schema: { type: 'string', contentMediaType: 'image/*', description: 'The stored bytes, with their stored content type.' } } };
const CONTENT_LENGTH: OpenApiHeader = { description: 'Bytes in this answer.', required: true, schema: { type: 'string', pattern: '^\\d+$' } };
const SERVED_BY: OpenApiHeader = {
  description: 'The configured store (`stores[].name`) the body starts from; should it break off, the rest comes from the next copy.',
  required: true,
  schema: { type: 'string', minLength: 1 },
};

function bytesOperation(operationId: string, summary: string, extra: (OpenApiParameter | Ref)[]): OpenApiOperation {
  return {
    operationId,
    summary,
    description:
      'Streamed from the preferred healthy copy: one in the requested region (`X-Region`, else `region`), else the configured order (primary first), stores that fail their heartbeat last; a copy that fails, before or during the body, is continued from the next. Reachable with an analyst key, or without a key through the signed URL of an API answer (`exp` and `sig`, valid for http.signedUrlTtlSeconds).',
    tags: ['images'],
    security: [...keyed('analyst'), { signedUrl: [] }],
    parameters: [
      parameter('ImageIdPath'),
      ...extra,
      parameter('Exp'),
      parameter('Sig'),
      parameter('Range'),
      parameter('IfRange'),
      parameter('IfNoneMatch'),
      parameter('RegionHeader'),
      parameter('Region'),
    ],
    responses: {
      '200': { description: 'The whole object.', headers: { ...BYTES_HEADERS, 'Content-Length': CONTENT_LENGTH, 'X-Served-By': SERVED_BY }, content: BYTES_BODY },
      '206': {
        description: 'One byte range (a `Range: bytes=` header, unless `If-Range` names another validator).',
        headers: {
          ...BYTES_HEADERS,
          'Content-Length': CONTENT_LENGTH,
          'X-Served-By': SERVED_BY,
          'Content-Range': { description: 'The range sent and the whole size.', required: true, schema: { type: 'string', pattern: '^bytes \\d+-\\d+/\\d+$' } },
        },
        content: BYTES_BODY,
      },
      '304': { description: '`If-None-Match` names this object; no body.', headers: BYTES_HEADERS },
      '401': response('Unauthorized'),
      '403': {
        description: 'The signed URL is invalid or expired, or the key lacks the analyst role.',
        content: json(schema('Error')),
      },
      '404': response('NotFound'),
      '416': response('RangeNotSatisfiable'),
      '500': response('ServerError'),
      '503': { description: 'No copy of the object could be read: every store holding it failed. `Retry-After` says when to try again.', content: json(schema('Error')) },
    },
  };
}

const ERROR_RESPONSES = { '401': response('Unauthorized'), '403': response('Forbidden'), '500': response('ServerError') };
const version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The search API as the server answers it, served at GET /api/openapi.json. */
export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Image search API',
    version,
    description:
      'Search the ingested camera images and read their bytes. With http.auth: key (the default off loopback) every /api route ' +
      'but this document needs an API key from `cli keys add <name> --role analyst|operator`: analysts search and read images, ' +
      'operators also read the dead letters and which cameras have gone quiet. With http.auth: none (loopback only) no key is needed. HEAD is answered as GET without a body.',
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  tags: [
    { name: 'search', description: 'Find images.' },
    { name: 'images', description: 'One image: its metadata and its bytes.' },
    { name: 'operations', description: 'For operators.' },
    { name: 'meta', description: 'The service itself.' },
  ],
  security: keyed('analyst'),
  paths: {
    '/api/images': {
      get: {
        operationId: 'searchImages',
        summary: 'Search images',
        description: `Most recently received first unless \`sort\` says otherwise. Matches are counted up to ${TOTAL_HITS_CAP} (\`totalRelation: gte\` beyond).`,
        tags: ['search'],
        security: keyed('analyst'),
        parameters: SEARCH_PARAMETERS.map((name) => ({ name, in: 'query', ...SEARCH_PARAMETER_DOCS[name] })),
        responses: {
          '200': { description: 'One page of matches.', content: json(schema('SearchResult')) },
          '400': response('BadRequest'),
          ...ERROR_RESPONSES,
        },
      },
    },
    '/api/images/{id}': {
      get: {
        operationId: 'getImage',
        summary: 'One image in full',
        description: 'Every source, all of the camera, exposure and GPS data, storage locations, and signed URLs of the original and each rendition.',
        tags: ['images'],
        security: keyed('analyst'),
        parameters: [parameter('ImageIdPath')],
        responses: { '200': { description: 'The indexed image.', content: json(schema('ImageDetail')) }, '404': response('NotFound'), ...ERROR_RESPONSES },
      },
      delete: {
        operationId: 'eraseImage',
        summary: 'Erase an image everywhere',
        description:
          'Removes the original, every rendition and manifest in every configured store, the index document and the accounts’ FTP view entries, ' +
          'keeps an audit record (who: the key’s name; when; why; what was removed; no image data) and publishes images.erased/v1. ' +
          'Idempotent: erasing again answers `already-erased`; a 503 left it half done and the same request finishes it. Operators only.',
        tags: ['operations'],
        security: keyed('operator'),
        parameters: [
          parameter('ImageIdPath'),
          {
            name: 'reason',
            in: 'query',
            required: true,
            description: 'Why the image is erased; kept in its audit record and sent in images.erased (no personal data here).',
            schema: { type: 'string', minLength: 1, maxLength: 1000 },
          },
        ],
        responses: {
          '200': { description: 'Erased now (`erased`), or found erased before (`already-erased`).', content: json(schema('ErasureResult')) },
          '400': response('BadRequest'),
          '404': response('NotFound'),
          '503': response('Unavailable'),
          ...ERROR_RESPONSES,
        },
      },
    },
    '/api/images/{id}/original': { get: bytesOperation('getOriginal', 'The original bytes as received', []) },
    '/api/images/{id}/renditions/{name}': { get: bytesOperation('getRendition', 'A rendition of the image', [parameter('RenditionName')]) },
    '/api/failures': {
      get: {
        operationId: 'listFailures',
        summary: 'Dead letters, most recent first',
        description: 'images.failed/v1 events as the pipeline published them: uploads and images that can never be processed, with a stable error code. Operators only.',
        tags: ['operations'],
        security: keyed('operator'),
        parameters: [{ name: 'limit', in: 'query', description: 'How many, most recent first.', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } }],
        responses: {
          '200': { description: 'The most recent dead letters.', content: json(schema('Failures')) },
          '400': response('BadRequest'),
          ...ERROR_RESPONSES,
        },
      },
    },
    '/api/sources/health': {
      get: {
        operationId: 'sourceHealth',
        summary: 'Quiet cameras: when each account and camera serial last sent, and whether it is overdue',
        description:
          'One row per account and per camera serial seen in its newest images. Each is expected to send at least every `expectEvery` ' +
          'of its account, else at the cadence learned from its history (twice the p90 gap between receipts, counting only the pauses ' +
          `between bursts for a camera that sends in bursts, at least ${CADENCE_FLOOR_MS / 60_000} minutes, from ${MIN_HISTORY} images on); ` +
          `silent for longer, it is quiet. The index is read at most every ${SOURCE_HEALTH_CACHE_MS / 1000} s. The same rows are the gauges ${SOURCE_QUIET_METRIC} and ${SOURCE_LAST_SEEN_METRIC} at /metrics. Operators only.`,
        tags: ['operations'],
        security: keyed('operator'),
        responses: {
          '200': { description: 'Every account, each followed by its camera serials.', content: json(schema('SourceHealthReport')) },
          '401': response('Unauthorized'),
          '403': response('Forbidden'),
          '404': { description: 'This server does not report on sources.', content: json(schema('Error')) },
          '500': response('ServerError'),
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness',
        tags: ['meta'],
        security: open,
        responses: { '200': { description: 'The server answers.', content: json(schema('Health')) } },
      },
    },
    '/api/openapi.json': {
      get: {
        operationId: 'openApiDocument',
        summary: 'This document',
        description: 'Describes the API and holds no data: no key is needed.',
        tags: ['meta'],
        security: open,
        responses: { '200': { description: 'The OpenAPI 3.1 document.', content: json(schema('ApiDescription')) } },
      },
    },
    '/': {
      get: {
        operationId: 'searchPage',
        summary: 'The analysts’ search page (also at /index.html)',
        description: 'The page itself is open; it asks for a key to call the API.',
        tags: ['meta'],
        security: open,
        responses: { '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
  },
  components: {
    schemas: {
      Error: closed({ error: { type: 'string', description: 'What went wrong, for a person; a 400 names the parameter first ("size: …").' } }),
      ImageId: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the original bytes.' },
      ImageStatus: { enum: [...IMAGE_STATUSES] },
      ImageError: { oneOf: [{ type: 'null' }, failedEvent.properties.error], description: 'Why processing failed; null for a processed image.' },
      SignedUrl: {
        type: 'string',
        pattern: '^/api/images/[0-9a-f]{64}/(original|renditions/[^?/]+)\\?exp=\\d+&sig=[A-Za-z0-9_-]+$',
        description: 'A path on this server that works without a key until `exp` (unix seconds).',
      },
      SearchResult: closed(
        {
          total: { type: 'integer', minimum: 0, maximum: TOTAL_HITS_CAP, description: `Matches counted, at most ${TOTAL_HITS_CAP}.` },
          totalRelation: { enum: ['eq', 'gte'], description: `\`gte\`: more than ${TOTAL_HITS_CAP} images match and \`total\` is the cap.` },
          items: { type: 'array', maxItems: MAX_PAGE_SIZE, items: schema('ImageSummary') },
          nextCursor: { type: ['string', 'null'], description: 'For `cursor=` to read the next page; null when this page is not full (nothing follows).' },
          facets: schema('FacetCounts'),
        },
        ['facets'],
      ),
      ImageSummary: closed(
        {
          id: schema('ImageId'),
          status: schema('ImageStatus'),
          error: schema('ImageError'),
          capturedAt: processed.capturedAt,
          receivedAt: { ...instant, description: 'First receipt over all sources.' },
          camera: closed({ make: nullable('string'), model: nullable('string') }),
          gps: { oneOf: [{ type: 'null' }, closed({ lat: latitude, lon: longitude })] },
          distanceMeters: { type: 'number', minimum: 0, description: 'Only with `near`: metres from that point, to 0.1 m.' },
          lens: nullable('string'),
          iso: nullable('number'),
          width: nullable('integer', { minimum: 1, description: 'Null when the pixels could not be decoded.' }),
          height: nullable('integer', { minimum: 1 }),
          sources: { type: 'array', minItems: 1, items: closed({ account: { type: 'string' }, path: { type: 'string' }, receivedAt: instant }) },
          renditions: {
            type: 'array',
            items: closed({ name: { type: 'string' }, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, url: schema('SignedUrl') }),
          },
          original: closed({ url: schema('SignedUrl') }),
        },
        ['distanceMeters'],
      ),
      FacetCounts: closed(
        {
          scope: {
            enum: ['all', 'newest'],
            description: `\`all\` matches were counted, or, when more than ${TOTAL_HITS_CAP} match, the ${TOTAL_HITS_CAP} most recently received of them (\`newest\`).`,
          },
          images: { ...count, description: 'Images counted.' },
          ...FACET_SCHEMAS,
        },
        [...FACET_NAMES],
      ),
      FacetBuckets: {
        type: 'array',
        maxItems: FACET_SIZE,
        description: `The ${FACET_SIZE} most frequent values (lower-cased), most frequent first, ties by value.`,
        items: closed({ value: { type: 'string' }, count: { type: 'integer', minimum: 1 } }),
      },
      CaptureHistogram: closed({
        interval: { enum: ['year', 'month', 'day'], description: 'Chosen from the span: days up to two months, months up to ten years, else years.' },
        buckets: {
          type: 'array',
          description: 'UTC, oldest first; empty intervals are left out.',
          items: closed({ key: { type: 'string', pattern: '^\\d{4}(-\\d{2}(-\\d{2})?)?$' }, from: instant, count: { type: 'integer', minimum: 1 } }),
        },
        missing: { ...count, description: 'Images without a capture time.' },
      }),
      ImageDetail: {
        type: 'object',
        additionalProperties: false,
        description: 'The indexed image: the images.processed/v1 result (or what could be read of a failed image) and every file that delivered it.',
        required: [...processedEventSchema.required.filter((name) => name in documentFields), 'status', 'error', 'sources', 'firstSeenAt', 'lastSeenAt'],
        properties: {
          ...documentFields,
          original: {
            ...documentFields.original,
            additionalProperties: false,
            required: [...documentFields.original.required, 'url'],
            properties: { ...documentFields.original.properties, url: schema('SignedUrl') },
          },
          renditions: {
            ...documentFields.renditions,
            items: {
              ...documentFields.renditions.items,
              additionalProperties: false,
              required: [...documentFields.renditions.items.required, 'url'],
              properties: { ...documentFields.renditions.items.properties, url: schema('SignedUrl') },
            },
          },
          width: nullable('integer', { minimum: 1, description: 'Null when the pixels could not be decoded.' }),
          height: nullable('integer', { minimum: 1 }),
          processedAt: nullable('string', { format: 'date-time' }),
          processingMs: nullable('number', { minimum: 0 }),
          policy: { ...embedded(ingestedEventSchema).properties.policy, description: 'Only when the processed event carried the account’s processing policy.' },
          status: schema('ImageStatus'),
          error: schema('ImageError'),
          sources: { type: 'array', minItems: 1, items: schema('IndexedSource') },
          firstSeenAt: instant,
          lastSeenAt: instant,
        },
      },
      IndexedSource: {
        ...processed.source,
        additionalProperties: false,
        description: 'One file that delivered the image, unique per account and path; its fields describe the first receipt.',
        required: [...processed.source.required, 'count', 'firstSeenAt', 'lastSeenAt'],
        properties: {
          ...processed.source.properties,
          count: { type: 'integer', minimum: 1, description: 'Deliveries of this file counted.' },
          firstSeenAt: instant,
          lastSeenAt: instant,
        },
      },
      ImageFailedEvent: failedEvent,
      Failures: closed({ items: { type: 'array', maxItems: 1000, items: schema('ImageFailedEvent') } }),
      ErasureResult: closed({
        id: schema('ImageId'),
        status: { enum: ['erased', 'already-erased'] },
        erasure: closed({
          erasedAt: instant,
          trigger: { enum: ['operator', 'retention'] },
          by: { type: 'string' },
          reason: { type: 'string' },
          objects: { type: 'array', items: closed({ store: { type: 'string' }, region: { type: 'string' }, keys: { type: 'array', items: { type: 'string' } } }) },
          unconfiguredStores: { type: 'array', items: { type: 'string' }, description: 'Stores the index named that are not configured here: their copies were not removed.' },
          indexed: { type: 'boolean' },
          deliveries: { type: 'array', items: closed({ account: { type: 'string' }, files: { type: 'integer', minimum: 1 } }) },
          completedAt: { ...instant, description: 'When the erasure finished (the event published).' },
        }),
      }),
      SourceHealthReport: closed({
        checkedAt: { ...instant, description: 'When quiet and silentForMs were worked out.' },
        observedAt: { ...instant, description: `When the index was read for them: at most ${SOURCE_HEALTH_CACHE_MS / 1000} s before checkedAt.` },
        items: { type: 'array', items: schema('SourceHealthEntry') },
      }),
      SourceHealthEntry: closed({
        account: { type: 'string' },
        serial: nullable('string', { description: 'The camera’s serial number; null on the row of the account as a whole.' }),
        lastSeenAt: nullable('string', { format: 'date-time', description: 'The last image received from it; null when it never sent one.' }),
        expectedEveryMs: nullable('integer', { minimum: 1, description: 'How long it may be silent, ms: configured or learned; null when unknown.' }),
        cadence: { enum: ['configured', 'learned', 'unknown'], description: `\`unknown\`: no \`expectEvery\` and fewer than ${MIN_HISTORY} images: never quiet.` },
        quiet: { type: 'boolean', description: 'Silent for longer than expectedEveryMs. Never before its first image.' },
        silentForMs: nullable('integer', { minimum: 0, description: 'Since lastSeenAt, ms; null when never seen.' }),
        imagesToday: { ...count, description: 'Images received since 00:00 UTC.' },
        imagesTodayRelation: {
          enum: ['eq', 'gte'],
          description: `\`gte\`: at least imagesToday: an account's count stops at ${TOTAL_HITS_CAP}, a serial's is counted in the account's newest ${HISTORY_SIZE} images.`,
        },
        clockDriftMs: nullable('integer', {
          description:
            'Median of receive time minus capture time over its recent images, ms; null without capture times. A capture time without ' +
            'a UTC offset is read as UTC, so a camera on local time shows its zone here (about -3600000 on time in CET).',
        }),
      }),
      Health: closed({ status: { const: 'ok' } }),
      ApiDescription: {
        type: 'object',
        required: ['openapi', 'info', 'paths'],
        properties: { openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' }, info: { type: 'object' }, paths: { type: 'object' } },
      },
    },
    parameters: {
      ImageIdPath: { name: 'id', in: 'path', required: true, description: 'The image id; anything else is answered 404.', schema: schema('ImageId') },
      RenditionName: { name: 'name', in: 'path', required: true, description: 'A rendition of the account’s profile (`thumb`, `preview`, …).', schema: { type: 'string', minLength: 1 } },
      Exp: { name: 'exp', in: 'query', description: 'Of a signed URL: when it stops working, unix seconds.', schema: { type: 'string', pattern: '^\\d{1,12}$' } },
      Sig: { name: 'sig', in: 'query', description: 'Of a signed URL: HMAC-SHA256 of the path and `exp`, base64url.', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]*$' } },
      Range: {
        name: 'Range',
        in: 'header',
        description: 'One byte range (`bytes=0-99`, `bytes=100-`, `bytes=-100`); several ranges or other units get the whole object.',
        schema: { type: 'string' },
      },
      IfRange: { name: 'If-Range', in: 'header', description: 'Apply `Range` only while the ETag is this one.', schema: { type: 'string' } },
      IfNoneMatch: { name: 'If-None-Match', in: 'header', description: 'ETags the client holds; a match answers 304.', schema: { type: 'string' } },
      RegionHeader: {
        name: 'X-Region',
        in: 'header',
        description: 'Read from a copy in this region (config `stores[].region`) when one is healthy; wins over `region`.',
        schema: { type: 'string' },
      },
      Region: { name: 'region', in: 'query', description: 'As `X-Region`, for links; not part of a signed URL’s signature.', schema: { type: 'string' } },
    },
    responses: {
      BadRequest: { description: 'A parameter is invalid; the message names it.', content: json(schema('Error')) },
      Unauthorized: {
        description: 'No API key, or an unknown or revoked one (only with http.auth: key).',
        headers: { 'WWW-Authenticate': { description: 'The Bearer challenge.', required: true, schema: { type: 'string', pattern: '^Bearer ' } } },
        content: json(schema('Error')),
      },
      Forbidden: { description: 'The key’s role does not reach this route (dead letters, source health and erasure need operator).', content: json(schema('Error')) },
      NotFound: { description: 'No such image, rendition or stored object.', content: json(schema('Error')) },
      RangeNotSatisfiable: {
        description: 'The range starts past the end of the object.',
        headers: { 'Content-Range': { description: 'The object’s size.', required: true, schema: { type: 'string', pattern: '^bytes \\*/\\d+$' } } },
        content: json(schema('Error')),
      },
      ServerError: { description: 'An unexpected failure; logged on the server.', content: json(closed({ error: { const: 'internal error' } })) },
      Unavailable: { description: 'A store, the index or the bus failed half-way; repeating the request finishes it.', content: json(schema('Error')) },
    },
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`. Roles: analyst (search, images), operator (also dead letters, source health and erasure).' },
      apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in `X-API-Key: <key>`.' },
      signedUrl: { type: 'apiKey', in: 'query', name: 'sig', description: 'Image bytes only: the `exp` and `sig` of a URL from an API answer.' },
    },
  },
};
