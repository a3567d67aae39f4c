import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { stringify } from 'yaml';
import { hashPassword } from '../../shared/accounts';
import { cameraJpeg } from '../helpers/fixtures';
import { awaitStarted, freePort, startService, type ServiceProcess } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

const PASSWORD = 'correct horse battery';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/**
 * The built product (`node dist/services/main.js`, embedded adapters) with OTEL_EXPORTER_OTLP_ENDPOINT
 * pointing at a receiver in this test: one upload becomes one exported trace of ingest → processor →
 * indexer spans, and the services' log lines of that image carry its trace id.
 */
describe('spans exported over OTLP/HTTP by the running product', () => {
  let receiver: Server;
  const exported: OtlpSpan[] = [];
  let dir: string;
  let product: ServiceProcess;
  let ftpPort: number;
  let httpUrl: string;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The exporter POSTs OTLP JSON to <endpoint>/v1/traces.
        if (req.method === 'POST' && req.url === '/v1/traces') {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
          exported.push(...body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));

    dir = mkdtempSync(path.join(tmpdir(), 'tracing-'));
    const config = path.join(dir, 'site.yaml');
    writeFileSync(config, stringify({ accounts: [{ name: 'cam1', passwordHash: await hashPassword(PASSWORD) }] }));
    ftpPort = await freePort();
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    const pasv = 40_000 + Math.floor(Math.random() * 200) * 100;
    product = startService('product', null, {
      ADAPTERS: 'embedded',
      CONFIG_FILE: config,
      DATA_DIR: path.join(dir, 'data'),
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      FTP_PASV_MIN_PORT: String(pasv),
      FTP_PASV_MAX_PORT: String(pasv + 99),
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    });
    await awaitStarted([product], 60_000);
  }, 90_000);

  afterAll(async () => {
    await product?.stop();
    await new Promise((resolve) => receiver.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("exports one trace per upload, ingest → processor → indexer, and logs the image's lines with its trace id", async () => {
    const jpeg = await cameraJpeg({ seed: 9001 });
    const id = sha256(jpeg);
    const client = new Client(10_000);
    try {
      await client.access({ host: '127.0.0.1', port: ftpPort, user: 'cam1', password: PASSWORD });
      await client.uploadFrom(Readable.from([jpeg]), 'traced.jpg');
    } finally {
      client.close();
    }
    await waitFor(async () => (await fetch(`${httpUrl}/api/images/${id}`)).status === 200, 30_000, 'image searchable');
    // SIGTERM: the app stops (its consumers finish), then the tracer sends what it still buffers.
    expect(await product.stop()).toBe(0);

    const ingest = exported.find((s) => s.name === 'ingest images.ingested');
    expect(ingest).toBeDefined();
    const trace = exported.filter((s) => s.traceId === ingest!.traceId);
    const processor = trace.find((s) => s.name === 'processor images.ingested');
    const indexer = trace.find((s) => s.name === 'indexer images.processed');
    expect(processor).toMatchObject({ parentSpanId: ingest!.spanId });
    expect(indexer).toMatchObject({ parentSpanId: processor!.spanId });

    const lines = product
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; imageId?: string; traceId?: string });
    const logged = (msg: string) => lines.find((l) => l.msg === msg && l.imageId === id);
    for (const msg of ['image ingested', 'image processed', 'image indexed']) expect(logged(msg)).toMatchObject({ traceId: ingest!.traceId });
  });
});
