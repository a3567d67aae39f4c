import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../shared/config/config.schema';
import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { PACKAGE_ROOT } from '../../shared/paths';
import type { ImageDocument, ImageIndex } from '../../shared/ports/image-index.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { parseImageQuery } from './search.query';

export interface SearchDeps {
  config: Readonly<Config>;
  index: ImageIndex;
  store: ObjectStore;
  logger: Logger;
}

const ID = /^[0-9a-f]{64}$/;
// Read from the source tree so the page needs no build step of its own.
const PAGE = readFileSync(path.join(PACKAGE_ROOT, 'services', 'search', 'search.page.html'));

function imageUrl(id: string): string {
  return `/api/images/${id}`;
}

function summary(doc: ImageDocument) {
  return {
    id: doc.id,
    status: doc.status,
    error: doc.error,
    capturedAt: doc.capturedAt,
    receivedAt: doc.receivedAt,
    camera: { make: doc.camera.make, model: doc.camera.model },
    gps: doc.gps ? { lat: doc.gps.lat, lon: doc.gps.lon } : null,
    width: doc.width,
    height: doc.height,
    sources: doc.sources.map((s) => ({ account: s.account, path: s.path, receivedAt: s.receivedAt })),
    renditions: doc.renditions.map((r) => ({
      name: r.name,
      width: r.width,
      height: r.height,
      url: `${imageUrl(doc.id)}/renditions/${encodeURIComponent(r.name)}`,
    })),
  };
}

/** The summary's fields in full: every source, all of the camera and GPS, and storage locations. */
function detail(doc: ImageDocument) {
  return {
    ...doc,
    renditions: doc.renditions.map((r) => ({ ...r, url: `${imageUrl(doc.id)}/renditions/${encodeURIComponent(r.name)}` })),
    original: { ...doc.original, url: `${imageUrl(doc.id)}/original` },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The analysts' API and page; image bytes are streamed from the object store, never buffered. */
export class SearchHttpServer {
  private readonly server: Server;
  private readonly logger: Logger;

  constructor(private readonly deps: SearchDeps) {
    this.logger = deps.logger.child({ component: 'search' });
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
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET and HEAD');
      await this.route(url, req, res);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : error instanceof IngestError && error.code === 'INVALID_QUERY' ? 400 : 500;
      if (status === 500) this.logger.error({ url: url.pathname, err: errorMessage(error) }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.json(res, status, { error: status === 500 ? 'internal error' : errorMessage(error) });
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
    if (parts[0] !== 'api') throw new HttpError(404, 'not found');
    if (parts[1] === 'failures' && parts.length === 2) {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new IngestError('INVALID_QUERY', 'limit: must be an integer from 1 to 1000');
      return this.json(res, 200, { items: await index.failures(limit) });
    }
    if (parts[1] !== 'images') throw new HttpError(404, 'not found');
    if (parts.length === 2) {
      const result = await index.search(parseImageQuery(url.searchParams));
      return this.json(res, 200, { total: result.total, items: result.items.map(summary) });
    }
    const id = parts[2];
    if (!ID.test(id)) throw new HttpError(404, 'no such image');
    const doc = await index.get(id);
    if (!doc) throw new HttpError(404, 'no such image');
    if (parts.length === 3) return this.json(res, 200, detail(doc));
    if (parts.length === 4 && parts[3] === 'original') return this.object(req, res, doc.original.key);
    if (parts.length === 5 && parts[3] === 'renditions') {
      const rendition = doc.renditions.find((r) => r.name === parts[4]);
      if (!rendition) throw new HttpError(404, 'no such rendition');
      return this.object(req, res, rendition.key);
    }
    throw new HttpError(404, 'not found');
  }

  private async object(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const object = await this.deps.store.getStream(key);
    if (!object) throw new HttpError(404, 'object missing from the store');
    res.writeHead(200, {
      'content-type': object.contentType,
      'content-length': object.bytes,
      // Keys are content-addressed: the bytes behind a URL never change.
      'cache-control': 'public, max-age=31536000, immutable',
    });
    if (req.method === 'HEAD') {
      object.body.destroy();
      res.end();
      return;
    }
    await pipeline(object.body, res);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': data.length });
    res.end(data);
  }
}
