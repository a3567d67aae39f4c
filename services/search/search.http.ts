import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { roleAllows, type ApiKeyDirectory, type ApiRole } from '../../shared/api-keys';
import type { Config } from '../../shared/config/config.schema';
import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { httpResponses } from '../../shared/metrics';
import { PACKAGE_ROOT } from '../../shared/paths';
import type { ImageDocument, ImageIndex, ImageQuery } from '../../shared/ports/image-index.port';
import { distanceFrom } from '../../shared/search-results';
import type { NamedStore, ObjectStore } from '../../shared/ports/object-store.port';
import type { OpsEndpoints } from '../ops.http';
import type { Eraser, ErasureOutcome } from '../privacy/eraser';
import { matchesEtag, parseRange } from './byte-range';
import { chooseCopies, type StoreMarks } from './copy-choice';
import { CopyReader } from './copy-reader';
import { OPENAPI_DOCUMENT } from './openapi';
import { pageAsset } from './page-assets';
import type { SourceHealthReporter } from './source-health';
import { encodeCursor, parseImageQuery } from './search.query';
import type { UrlSigner } from './signed-urls';

export interface SearchDeps {
  config: Readonly<Config>;
  index: ImageIndex;
  store: ObjectStore;
  /** Where image bytes are read from: every configured store, primary first. Without it, `store` alone. */
  stores?: readonly NamedStore[];
  /** The stores' heartbeat marks (StoreHealth); without it every store counts as up. */
  storeMarks?: StoreMarks;
  logger: Logger;
  keys: ApiKeyDirectory;
  signer: UrlSigner;
  /** Quiet cameras; without it `/api/sources/health` answers 404. */
  sourceHealth?: SourceHealthReporter;
  /** /metrics and /readyz; without it they answer 404. */
  ops?: OpsEndpoints;
  /** DELETE /api/images/{id} (operators); without it that answers 404. */
  eraser?: Eraser;
}

const ID = /^[0-9a-f]{64}$/;
// Read from the source tree so the page needs no build step of its own.
const PAGE = readFileSync(path.join(PACKAGE_ROOT, 'services', 'search', 'search.page.html'));

/** What a request may reach, by the role its key needs; image bytes also open to a signed URL. */
type Route = 'search' | 'image' | 'bytes' | 'failures' | 'sources' | 'erase';
const ROUTE_ROLE: Record<Route, ApiRole> = { search: 'analyst', image: 'analyst', bytes: 'analyst', failures: 'operator', sources: 'operator', erase: 'operator' };

/** The one path DELETE is allowed on: an image. */
const ERASE_PATH = /^\/api\/images\/[^/]+$/;

function routeOf(parts: string[], method: string | undefined): Route | null {
  if (method === 'DELETE') return 'erase';
  if (parts[1] === 'failures' && parts.length === 2) return 'failures';
  if (parts[1] === 'sources' && parts[2] === 'health' && parts.length === 3) return 'sources';
  if (parts[1] !== 'images') return null;
  if (parts.length === 2) return 'search';
  if (parts.length === 3) return 'image';
  if ((parts.length === 4 && parts[3] === 'original') || (parts.length === 5 && parts[3] === 'renditions')) return 'bytes';
  return null;
}

/** `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(req: IncomingMessage): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.trim() !== '' ? header.trim() : null;
}

function imageUrl(id: string): string {
  return `/api/images/${id}`;
}

function renditionPath(id: string, name: string): string {
  return `${imageUrl(id)}/renditions/${encodeURIComponent(name)}`;
}

/** Content is immutable by id, so the id and the rendition name make a strong validator. */
function etagOf(id: string, rendition: string): string {
  return `"${id}.${rendition}"`;
}

function summary(doc: ImageDocument, signer: UrlSigner, query: ImageQuery) {
  const distance = distanceFrom(query, doc);
  return {
    id: doc.id,
    status: doc.status,
    error: doc.error,
    capturedAt: doc.capturedAt,
    receivedAt: doc.receivedAt,
    camera: { make: doc.camera.make, model: doc.camera.model },
    gps: doc.gps ? { lat: doc.gps.lat, lon: doc.gps.lon } : null,
    // Only with near=: how far the image was taken from that point.
    ...(distance === null ? {} : { distanceMeters: Math.round(distance * 10) / 10 }),
    lens: doc.exposure.lensModel,
    iso: doc.exposure.iso,
    width: doc.width,
    height: doc.height,
    sources: doc.sources.map((s) => ({ account: s.account, path: s.path, receivedAt: s.receivedAt })),
    renditions: doc.renditions.map((r) => ({
      name: r.name,
      width: r.width,
      height: r.height,
      url: signer.sign(renditionPath(doc.id, r.name)),
    })),
    original: { url: signer.sign(`${imageUrl(doc.id)}/original`) },
  };
}

/** The summary's fields in full: every source, all of the camera and GPS, and storage locations. */
function detail(doc: ImageDocument, signer: UrlSigner) {
  return {
    ...doc,
    // Only the port's fields: the index keeps a renamed source's former paths for its own merging.
    sources: doc.sources.map(({ protocol, account, path, remoteAddress, receivedAt, count, firstSeenAt, lastSeenAt }) => ({
      protocol,
      account,
      path,
      remoteAddress,
      receivedAt,
      count,
      firstSeenAt,
      lastSeenAt,
    })),
    renditions: doc.renditions.map((r) => ({ ...r, url: signer.sign(renditionPath(doc.id, r.name)) })),
    original: { ...doc.original, url: signer.sign(`${imageUrl(doc.id)}/original`) },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The analysts' API and page; image bytes are streamed from the object store, never buffered. */
export class SearchHttpServer {
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly stores: readonly NamedStore[];
  private readonly copies: CopyReader;

  constructor(private readonly deps: SearchDeps) {
    this.logger = deps.logger.child({ component: 'search' });
    this.stores = deps.stores ?? [{ name: 'primary', region: '', role: 'primary', store: deps.store }];
    this.copies = new CopyReader(deps.logger);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.deps.config.http;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    if (this.deps.config.http.auth === 'none') {
      this.logger.warn({ host, port }, 'http.auth is none: the API and the images are open to everyone on this machine; set http.auth: key to need API keys');
    }
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.once('finish', () => httpResponses.inc({ class: `${Math.floor(res.statusCode / 100)}xx` }));
    try {
      if (req.method === 'DELETE' ? !ERASE_PATH.test(url.pathname) : req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET and HEAD, and DELETE of an image');
      await this.route(url, req, res);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : error instanceof IngestError && error.code === 'INVALID_QUERY' ? 400 : 500;
      if (status === 500) this.logger.error({ url: url.pathname, err: errorMessage(error) }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.json(res, status, { error: status === 500 ? 'internal error' : errorMessage(error) }, error instanceof HttpError ? error.headers : {});
    }
  }

  private async route(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { index } = this.deps;
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': PAGE.length });
      res.end(req.method === 'HEAD' ? undefined : PAGE);
      return;
    }
    if (url.pathname === '/healthz') return this.json(res, 200, { status: 'ok' });
    // Open like /healthz: it names failing parts by error code only, never a host.
    if (url.pathname === '/readyz' && this.deps.ops) return this.deps.ops.serveReadiness(res);
    // Label values name accounts and cameras: the operator key, when keys are needed at all.
    if (url.pathname === '/metrics' && this.deps.ops) {
      this.authorize(req, 'operator');
      return this.deps.ops.serveMetrics(res);
    }
    // What the page needs from the configuration, no secrets: open like the page.
    if (url.pathname === '/page-config.json') return this.json(res, 200, { mapTileUrl: this.deps.config.http.mapTileUrl ?? null });
    if (parts[0] === 'assets' && parts.length === 2) {
      const asset = pageAsset(parts[1]);
      if (!asset) throw new HttpError(404, 'not found');
      // Libraries and page files change only with a release; revalidated then by the browser's own heuristics.
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'public, max-age=3600' });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    // Describes the API and holds no data: open like the page, before the key check.
    if (url.pathname === '/api/openapi.json') return this.json(res, 200, OPENAPI_DOCUMENT);
    if (parts[0] !== 'api') throw new HttpError(404, 'not found');
    const route = routeOf(parts, req.method);
    // Before any lookup, so a caller without a key learns nothing, not even which ids exist.
    const caller = route === 'bytes' ? this.authorizeBytes(url, req) : this.authorize(req, route ? ROUTE_ROLE[route] : 'analyst');
    if (route === 'erase') return this.erase(parts[2], url, res, caller);
    if (route === 'failures') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new IngestError('INVALID_QUERY', 'limit: must be an integer from 1 to 1000');
      return this.json(res, 200, { items: await index.failures(limit) });
    }
    if (route === 'sources') {
      if (!this.deps.sourceHealth) throw new HttpError(404, 'not found');
      return this.json(res, 200, await this.deps.sourceHealth.report());
    }
    if (route === null) throw new HttpError(404, 'not found');
    if (route === 'search') {
      const query = parseImageQuery(url.searchParams);
      const result = await index.search(query);
      return this.json(res, 200, {
        total: result.total,
        totalRelation: result.totalRelation,
        items: result.items.map((doc) => summary(doc, this.deps.signer, query)),
        nextCursor: result.next ? encodeCursor(query.sort, result.next) : null,
        ...(result.facets ? { facets: result.facets } : {}),
      });
    }
    const id = parts[2];
    if (!ID.test(id)) throw new HttpError(404, 'no such image');
    const doc = await index.get(id);
    if (!doc) throw new HttpError(404, 'no such image');
    if (route === 'image') return this.json(res, 200, detail(doc, this.deps.signer));
    if (parts[3] === 'original') return this.object(req, res, this.copiesOf(doc, doc.original.key, url, req), doc.original.key, etagOf(id, 'original'));
    const rendition = doc.renditions.find((r) => r.name === parts[4]);
    if (!rendition) throw new HttpError(404, 'no such rendition');
    // A profile may name a rendition "original": the prefix keeps its validator apart from the original's.
    return this.object(req, res, this.copiesOf(doc, rendition.key, url, req), rendition.key, etagOf(id, `renditions/${rendition.name}`));
  }

  /**
   * Throws 401 without a known key and 403 when the key's role is not enough; `auth: none` lets
   * everything through. Returns the key's name (null without keys).
   */
  private authorize(req: IncomingMessage, needed: ApiRole): string | null {
    if (this.deps.config.http.auth === 'none') return null;
    const key = presentedKey(req);
    const challenge = { 'www-authenticate': 'Bearer realm="image-search"' };
    if (!key) throw new HttpError(401, 'an API key is needed: send Authorization: Bearer <key> or X-API-Key: <key>', challenge);
    const record = this.deps.keys.verify(key);
    if (!record) throw new HttpError(401, 'unknown or revoked API key', challenge);
    if (!roleAllows(record.role, needed)) throw new HttpError(403, `needs the ${needed} role; this key has ${record.role}`);
    return record.name;
  }

  /**
   * DELETE /api/images/{id}?reason=: erases the image everywhere (the Eraser), the key's name and
   * the reason going into the audit record. 503 when a store, the index or the bus failed half-way:
   * the same request finishes it.
   */
  private async erase(id: string, url: URL, res: ServerResponse, caller: string | null): Promise<void> {
    if (!this.deps.eraser) throw new HttpError(404, 'not found');
    if (!ID.test(id)) throw new HttpError(404, 'no such image');
    const reason = url.searchParams.get('reason')?.trim();
    if (!reason) throw new HttpError(400, 'reason: required, the audit record keeps why');
    if (reason.length > 1000) throw new HttpError(400, 'reason: at most 1000 characters');
    let outcome: ErasureOutcome;
    try {
      outcome = await this.deps.eraser.erase(id, { trigger: 'operator', by: caller ?? 'http (auth none)', reason });
    } catch (error) {
      if (error instanceof IngestError && error.retriable) throw new HttpError(503, `the erasure did not finish (${error.code}); repeat the request`);
      throw error;
    }
    if (outcome.status === 'not-found') throw new HttpError(404, 'no such image');
    return this.json(res, 200, { id, status: outcome.status, erasure: outcome.erasure });
  }

  /** Image bytes: a signed URL from an API answer, or a key as for the API. */
  private authorizeBytes(url: URL, req: IncomingMessage): string | null {
    if (this.deps.config.http.auth === 'none') return null;
    if (!url.searchParams.has('sig') && !url.searchParams.has('exp')) return this.authorize(req, ROUTE_ROLE.bytes);
    const check = this.deps.signer.check(url.pathname, url.searchParams.get('exp'), url.searchParams.get('sig'));
    if (check === 'expired') throw new HttpError(403, 'this image URL has expired: search again for a fresh one');
    if (check === 'invalid') throw new HttpError(403, 'this image URL is not validly signed');
    return null;
  }

  /** The stores holding `key`, in the order to read them: the request's region (X-Region, else ?region=) first, healthy stores before down ones. */
  private copiesOf(doc: ImageDocument, key: string, url: URL, req: IncomingMessage): NamedStore[] {
    const header = req.headers['x-region'];
    const region = (typeof header === 'string' && header.trim()) || url.searchParams.get('region');
    return chooseCopies(key, doc.locations, this.stores, this.deps.storeMarks ?? { isUp: () => true }, region);
  }

  /**
   * Streams an object from the first of its copies that answers, honouring If-None-Match (304) and a
   * single byte Range (206, or 416); X-Served-By names the store the body starts from.
   */
  private async object(req: IncomingMessage, res: ServerResponse, copies: NamedStore[], key: string, etag: string): Promise<void> {
    const headers: Record<string, string> = {
      etag,
      'accept-ranges': 'bytes',
      // Keys are content-addressed: the bytes behind a URL never change. Behind keys, shared caches must not keep them.
      'cache-control': `${this.deps.config.http.auth === 'key' ? 'private' : 'public'}, max-age=31536000, immutable`,
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    // If-Range with another validator asks for the whole object (RFC 9110 §13.1.5).
    const ifRange = req.headers['if-range'];
    const rangeHeader = ifRange === undefined || ifRange === etag ? req.headers.range : undefined;
    let range: { start: number; end: number } | undefined;
    if (rangeHeader) {
      const meta = await this.readCopies(() => this.copies.head(copies, key));
      if (!meta) throw new HttpError(404, 'object missing from the store');
      const parsed = parseRange(rangeHeader, meta.bytes);
      if (parsed === 'unsatisfiable') throw new HttpError(416, `range not satisfiable: the object has ${meta.bytes} bytes`, { 'content-range': `bytes */${meta.bytes}` });
      range = parsed ?? undefined;
    }
    const object = await this.readCopies(() => this.copies.open(copies, key, range));
    if (!object) throw new HttpError(404, 'object missing from the store');
    headers['x-served-by'] = object.servedBy;
    if (range) {
      res.writeHead(206, {
        ...headers,
        'content-type': object.contentType,
        'content-length': range.end - range.start + 1,
        'content-range': `bytes ${range.start}-${range.end}/${object.bytes}`,
      });
    } else {
      res.writeHead(200, { ...headers, 'content-type': object.contentType, 'content-length': object.bytes });
    }
    if (req.method === 'HEAD') {
      object.body.destroy();
      res.end();
      return;
    }
    await pipeline(object.body, res);
  }

  /** 503 when every store holding the object failed: another try may find one back. */
  private async readCopies<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof IngestError && error.code === 'STORE_UNAVAILABLE')) throw error;
      this.logger.error({ err: errorMessage(error) }, 'no copy readable');
      throw new HttpError(503, 'no copy of this image could be read: try again shortly', { 'retry-after': '5' });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': data.length });
    res.end(data);
  }
}
