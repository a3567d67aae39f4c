import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IngestError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logging';
import { registry } from '../shared/metrics';

/** A part of the system this process needs, checked by /readyz. */
export type ReadinessPart = 'bus' | 'store' | 'index';

export interface OpsEndpointsOptions {
  /** The parts this process uses, each with its port's ping. */
  checks: Partial<Record<ReadinessPart, () => Promise<void>>>;
  /** A ping that has not answered by then counts as failed. */
  timeoutMs: number;
  logger: Logger;
}

export interface Readiness {
  status: 'ready' | 'not ready';
  /** The parts that did not answer in time. */
  failing: ReadinessPart[];
  /** Per part: "ok", or the error code (TIMEOUT when it did not answer). Messages go to the log: they name hosts. */
  checks: Partial<Record<ReadinessPart, string>>;
}

/** /metrics and /readyz, served by the search service's port and by the ops port alike. */
export class OpsEndpoints {
  private readonly logger: Logger;

  constructor(private readonly options: OpsEndpointsOptions) {
    this.logger = options.logger.child({ component: 'ops' });
  }

  async readiness(): Promise<Readiness> {
    const entries = Object.entries(this.options.checks) as [ReadinessPart, () => Promise<void>][];
    const results = await Promise.all(entries.map(async ([part, ping]) => [part, await this.check(part, ping)] as const));
    const failing = results.filter(([, result]) => result !== 'ok').map(([part]) => part);
    return { status: failing.length === 0 ? 'ready' : 'not ready', failing, checks: Object.fromEntries(results) };
  }

  private async check(part: ReadinessPart, ping: () => Promise<void>): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'TIMEOUT'>((resolve) => (timer = setTimeout(() => resolve('TIMEOUT'), this.options.timeoutMs)));
    try {
      const result = await Promise.race([ping().then(() => 'ok' as const), timeout]);
      if (result === 'TIMEOUT') this.logger.warn({ part, timeoutMs: this.options.timeoutMs }, 'not ready: no answer in time');
      return result;
    } catch (error) {
      this.logger.warn({ part, err: errorMessage(error) }, 'not ready');
      return error instanceof IngestError ? error.code : 'UNAVAILABLE';
    } finally {
      clearTimeout(timer);
    }
  }

  /** 200 when every part answers, else 503 naming those that did not. */
  async serveReadiness(res: ServerResponse): Promise<void> {
    const readiness = await this.readiness();
    send(res, readiness.status === 'ready' ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(readiness));
  }

  /** Prometheus text format of the default registry: this module's metrics and those others registered there. */
  async serveMetrics(res: ServerResponse): Promise<void> {
    send(res, 200, registry.contentType, await registry.metrics());
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * The ops port of a process that serves no search API: /metrics, /readyz and /healthz (alive),
 * without a key, on `ops.host` (loopback by default).
 */
export class OpsHttpServer {
  private readonly server: Server;

  constructor(
    private readonly endpoints: OpsEndpoints,
    private readonly bind: { host: string; port: number },
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.bind.port, this.bind.host, () => {
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
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET\n');
      if (pathname === '/metrics') return await this.endpoints.serveMetrics(res);
      if (pathname === '/readyz') return await this.endpoints.serveReadiness(res);
      if (pathname === '/healthz') return send(res, 200, 'application/json; charset=utf-8', '{"status":"ok"}');
      send(res, 404, 'text/plain', 'not found\n');
    } catch (error) {
      if (!res.headersSent) send(res, 500, 'text/plain', `${errorMessage(error)}\n`);
      else res.destroy();
    }
  }
}
