import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OPENAPI_DOCUMENT } from '../../services/search/openapi';
import { SearchHttpServer } from '../../services/search/search.http';
import { SEARCH_PARAMETERS } from '../../services/search/search.query';
import { SourceHealth } from '../../services/search/source-health';
import { UrlSigner } from '../../services/search/signed-urls';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import { ApiKeyDirectory } from '../../shared/api-keys';
import { loadConfig } from '../../shared/config/config.loader';
import type { ImageProcessedEvent } from '../../shared/contracts/events';
import { failedEvent, failedImageEvent, processedEvent, source } from '../helpers/events';
import { testAccount } from '../helpers/ftp-server';
import { OpenApiChecker, type Exchange } from '../helpers/openapi';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const search = (params: Record<string, string> = {}) => `/api/images?${new URLSearchParams(params)}`;
/** A copy to break on purpose. */
const copy = <T>(value: T): T => structuredClone(value);

/** Four processed images (three with GPS, lenses and ISO speeds), one failed image and one dead letter of an unreadable upload. */
function images(): { processed: ImageProcessedEvent[]; failed: ReturnType<typeof failedImageEvent>; deadLetter: ReturnType<typeof failedEvent> } {
  const shot = (account: string, file: string, receivedAt: string, overrides: Partial<ImageProcessedEvent>) =>
    processedEvent({ source: source({ account, path: `/DCIM/${file}`, receivedAt }), ...overrides });
  const exposure = (iso: number, lensModel: string | null) => ({ exposureTime: 0.004, fNumber: 2.8, iso, focalLength: 50, lensModel, software: null });
  return {
    processed: [
      shot('north', 'harbour.jpg', '2025-03-01T10:00:00.000Z', {
        capturedAt: '2024-06-01T08:00:00+02:00',
        camera: { make: 'Canon', model: 'EOS R5', serial: '0042' },
        gps: { lat: 52.52, lon: 13.405, alt: 34 },
        exposure: exposure(400, 'RF24-70mm F2.8 L IS USM'),
        keywords: ['harbour'],
        caption: 'Ferries in the harbour',
      }),
      shot('south', 'ferry.jpg', '2025-03-02T10:00:00.000Z', {
        capturedAt: '2024-06-03T09:30:00',
        camera: { make: 'NIKON CORPORATION', model: 'NIKON Z 6', serial: null },
        gps: { lat: 52.39, lon: 13.06, alt: null },
        exposure: exposure(1600, 'NIKKOR Z 50mm f/1.8 S'),
      }),
      shot('north', 'night.jpg', '2025-03-03T10:00:00.000Z', { capturedAt: null, gps: null, exposure: exposure(6400, null) }),
      shot('south', 'dock.jpg', '2025-03-04T10:00:00.000Z', {
        capturedAt: '2024-07-15T12:00:00Z',
        camera: { make: 'FUJIFILM', model: 'X-T5', serial: null },
        gps: { lat: 53.55, lon: 9.99, alt: 5 },
        exposure: exposure(200, 'XF16-55mmF2.8 R LM WR'),
      }),
    ],
    failed: failedImageEvent({ source: source({ account: 'south', path: '/DCIM/broken.jpg', receivedAt: '2025-03-05T10:00:00.000Z' }), failedAt: '2025-03-05T10:00:01.000Z' }),
    deadLetter: failedEvent({
      id: null,
      stage: 'ingest',
      error: { code: 'UNSUPPORTED_TYPE', message: 'not an image: text/plain' },
      source: source({ path: '/notes.txt', receivedAt: '2025-03-06T10:00:00.000Z' }),
      failedAt: '2025-03-06T10:00:00.500Z',
      origin: { topic: 'images.ingested', partition: 0, offset: '42' },
    }),
  };
}

describe('the OpenAPI document of the search API', () => {
  const checker = new OpenApiChecker(OPENAPI_DOCUMENT);
  let dir: string;
  let index: SqliteImageIndex;
  let server: SearchHttpServer;
  let base: string;
  let analyst: string;
  let operator: string;
  const data = images();

  async function call(url: string, headers: Record<string, string> = {}): Promise<Exchange> {
    const response = await fetch(`${base}${url}`, { headers });
    return { method: 'GET', url, status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'search-openapi-'));
    const store = new LocalObjectStore(path.join(dir, 'store'));
    index = new SqliteImageIndex(path.join(dir, 'index.sqlite'));
    for (const event of data.processed) {
      await index.upsert(event);
      await store.put(event.original.key, randomBytes(event.original.bytes), event.original.contentType);
      for (const r of event.renditions) await store.put(r.key, randomBytes(r.bytes), r.contentType);
    }
    // The first image's file was renamed after delivery: its source keeps the former path internally.
    const first = data.processed[0];
    await index.upsert({ ...first, source: { ...first.source, path: `${first.source.path}.renamed`, renamedFrom: first.source.path, receivedAt: '2025-03-07T10:00:00.000Z' } });
    await index.upsertFailed(data.failed);
    await store.put(data.failed.image!.original.key, randomBytes(data.failed.image!.original.bytes), 'image/jpeg');
    await index.recordFailure(data.failed);
    await index.recordFailure(data.deadLetter);
    const keys = new ApiKeyDirectory(store);
    analyst = (await keys.add('analyst1', 'analyst')).key;
    operator = (await keys.add('operator1', 'operator')).key;
    const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' }, http: { port: 0, auth: 'key' } } });
    // north is expected daily, south learns its cadence, idle never sent an image.
    const accounts = [testAccount(dir, 'north', { expectEvery: '1d' }), testAccount(dir, 'south'), testAccount(dir, 'idle')];
    const sourceHealth = new SourceHealth({ accounts: { list: () => accounts }, index });
    server = new SearchHttpServer({ config, index, store, logger: pino({ level: 'silent' }), keys, signer: new UrlSigner(randomBytes(32), 3600), sourceHealth });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
  });

  afterAll(async () => {
    await server.close();
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is served at /api/openapi.json without a key, as the code exports it', async () => {
    const answer = await call('/api/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  });

  it('is OpenAPI 3.1: its objects have their fields, every schema compiles under Ajv strict mode, every $ref resolves', () => {
    expect(checker.documentProblems()).toEqual([]);
  });

  it('lists exactly the search parameters the server parses', () => {
    expect(checker.queryParameters('get', '/api/images')).toEqual([...SEARCH_PARAMETERS]);
  });

  it('describes every answer of the real server: each status is documented and each body and header fits its schema', async () => {
    const problems: string[] = [];
    const seen: Exchange[] = [];
    const key = bearer(analyst);
    /** Calls, checks the answer against the document, and against the status the request should get. */
    const check = async (url: string, status: number, headers: Record<string, string> = key): Promise<Exchange> => {
      const answer = await call(url, headers);
      seen.push(answer);
      if (answer.status !== status) problems.push(`GET ${url}: expected ${status}, got ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`);
      problems.push(...checker.responseProblems(answer));
      if (answer.status < 300) problems.push(...checker.requestProblems('GET', url));
      return answer;
    };
    const body = (answer: Exchange) => JSON.parse(answer.body.toString('utf8'));
    const [harbour] = data.processed;

    // Open routes, and the keys.
    await check('/api/openapi.json', 200, {});
    await check('/healthz', 200, {});
    await check('/', 200, {});
    await check('/api/images', 401, {});
    await check('/api/images', 401, bearer('iik_not-a-key'));
    await check(`/api/images/${harbour.id}`, 401, { 'x-api-key': 'iik_not-a-key' });
    await check('/api/failures', 403, key);
    await check('/api/images', 200, { 'x-api-key': analyst });

    // Every search parameter, each sort, facets, distances and cursors.
    await check(search({ q: 'harbour' }), 200);
    await check(search({ account: 'north', make: 'canon', model: 'eos r5' }), 200);
    await check(search({ lens: 'RF24-70mm F2.8 L IS USM', isoMin: '400', isoMax: '1600' }), 200);
    await check(search({ from: '2024-06-01', to: '2024-12-31T23:59:59Z' }), 200);
    await check(search({ receivedFrom: '2025-03-02T00:00:00', receivedTo: '2025-03-04' }), 200);
    await check(search({ bbox: '13,52,14,53' }), 200);
    await check(search({ status: 'failed' }), 200);
    for (const sort of ['capturedAt', '-capturedAt', 'receivedAt', '-receivedAt']) await check(search({ sort, status: 'processed' }), 200);
    const faceted = body(await check(search({ facets: 'make,model,account,lens,status,gps,captured' }), 200));
    expect(Object.keys(faceted.facets).sort()).toEqual(['account', 'captured', 'gps', 'images', 'lens', 'make', 'model', 'scope', 'status']);
    const near = { near: '52.5,13.4', radius: '50km', sort: 'distance' };
    const nearest = body(await check(search({ ...near, size: '1' }), 200));
    expect(nearest.items[0].distanceMeters).toEqual(expect.any(Number));
    await check(search({ ...near, size: '1', cursor: nearest.nextCursor }), 200);
    await check(search({ near: '52.5,13.4', radius: '2500' }), 200);
    const first = body(await check(search({ size: '2' }), 200));
    expect(first.nextCursor).toEqual(expect.any(String));
    await check(search({ size: '2', cursor: first.nextCursor }), 200);
    const byCapture = body(await check(search({ sort: 'capturedAt', size: '3' }), 200));
    await check(search({ sort: 'capturedAt', size: '3', cursor: byCapture.nextCursor }), 200);
    await check(search({ page: '2', size: '2' }), 200);
    await check(search({ size: '100', page: '100' }), 200);

    // Refused parameters.
    const refused: Record<string, string>[] = [
      { colour: 'red' },
      { size: '0' },
      { size: '101' },
      { page: '0' },
      { page: '5001', size: '2' },
      { sort: 'name' },
      { sort: 'distance' },
      { facets: 'colour' },
      { near: '52.5,13.4' },
      { radius: '5km' },
      { near: '95,0', radius: '1km' },
      { near: '52.5,13.4', radius: '20001km' },
      { cursor: 'not a cursor' },
      { cursor: first.nextCursor, page: '2' },
      { cursor: first.nextCursor, sort: 'capturedAt' },
      { bbox: '1,2,3' },
      { isoMin: '1600', isoMax: '400' },
      { isoMin: '-1' },
      { from: '2025-01-02', to: '2025-01-01' },
      { receivedFrom: 'yesterday' },
      { status: 'done' },
      { q: 'x'.repeat(501) },
    ];
    for (const params of refused) await check(search(params), 400);

    // One image, processed and failed.
    const detail = body(await check(`/api/images/${harbour.id}`, 200));
    await check(`/api/images/${data.failed.id}`, 200);
    await check(`/api/images/${'0'.repeat(64)}`, 404);
    await check('/api/images/not-an-id', 404);

    // Dead letters, for operators.
    const failures = body(await check('/api/failures', 200, bearer(operator)));
    expect(failures.items).toHaveLength(2);
    await check('/api/failures?limit=1', 200, bearer(operator));
    await check('/api/failures?limit=1000', 200, bearer(operator));
    await check('/api/failures?limit=0', 400, bearer(operator));
    await check('/api/failures?limit=1001', 400, bearer(operator));

    // Quiet cameras, for operators.
    const sources = body(await check('/api/sources/health', 200, bearer(operator)));
    expect(sources.items.map((item: { account: string; serial: string | null }) => [item.account, item.serial])).toEqual([
      ['north', null],
      ['north', '0042'],
      ['south', null],
      ['idle', null],
    ]);
    expect(sources.items[0]).toMatchObject({ cadence: 'configured', expectedEveryMs: 86_400_000, quiet: true });
    await check('/api/sources/health', 403, key);
    await check('/api/sources/health', 401, {});

    // Image bytes, by key and by signed URL, whole, in a range, revalidated.
    const original = `/api/images/${harbour.id}/original`;
    const whole = await check(original, 200);
    await check(detail.original.url, 200, {});
    await check(detail.renditions[0].url, 200, {});
    await check(`/api/images/${data.failed.id}/original`, 200);
    await check(original, 206, { ...key, range: 'bytes=0-9' });
    await check(detail.original.url, 206, { range: 'bytes=-100' });
    await check(original, 304, { ...key, 'if-none-match': whole.headers.get('etag')! });
    await check(original, 416, { ...key, range: `bytes=${harbour.original.bytes}-` });
    await check(`/api/images/${harbour.id}/renditions/poster`, 404);
    await check(`/api/images/${'0'.repeat(64)}/original`, 404);
    await check(original, 401, {});
    await check(detail.original.url.replace(/sig=(.)/, (_: string, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`), 403, {});

    expect(problems).toEqual([]);
    // Every operation was called and every search parameter was sent in an accepted request.
    const called = (o: { template: string }) => seen.some((e) => new RegExp(`^${o.template.replace(/\{[^}]+\}/g, '[^/?]+')}(\\?|$)`).test(e.url));
    expect(checker.operations().filter((o) => !called(o)).map((o) => o.template)).toEqual([]);
    const sent = new Set(seen.filter((e) => e.status === 200 && e.url.startsWith('/api/images?')).flatMap((e) => [...new URL(e.url, base).searchParams.keys()]));
    expect(SEARCH_PARAMETERS.filter((name) => !sent.has(name))).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(70);
  });

  it('fails answers that do not fit, with the schema error', async () => {
    const answer = await call(search({ near: '52.5,13.4', radius: '50km', facets: 'gps,captured' }), bearer(analyst));
    const real = JSON.parse(answer.body.toString('utf8'));
    expect(checker.schemaProblems('GET', '/api/images', 200, real)).toEqual([]);

    const withoutOriginal = copy(real);
    delete withoutOriginal.items[0].original;
    expect(checker.schemaProblems('GET', '/api/images', 200, withoutOriginal).join()).toMatch(/body\/items\/0 must have required property 'original'/);
    const textTotal = { ...copy(real), total: String(real.total) };
    expect(checker.schemaProblems('GET', '/api/images', 200, textTotal).join()).toMatch(/body\/total must be integer/);
    const extra = copy(real);
    extra.items[0].sharpness = 0.9;
    expect(checker.schemaProblems('GET', '/api/images', 200, extra).join()).toMatch(/body\/items\/0 must NOT have additional properties: sharpness/);
    const badHistogram = copy(real);
    badHistogram.facets.captured.interval = 'week';
    expect(checker.schemaProblems('GET', '/api/images', 200, badHistogram).join()).toMatch(/body\/facets\/captured\/interval must be equal to one of the allowed values/);

    const detail = JSON.parse((await call(`/api/images/${data.processed[0].id}`, bearer(analyst))).body.toString('utf8'));
    const uncounted = copy(detail);
    delete uncounted.sources[0].count;
    expect(checker.schemaProblems('GET', `/api/images/${detail.id}`, 200, uncounted).join()).toMatch(/body\/sources\/0 must have required property 'count'/);
    const unsigned = copy(detail);
    unsigned.renditions[0].url = `/api/images/${detail.id}/renditions/thumb`;
    expect(checker.schemaProblems('GET', `/api/images/${detail.id}`, 200, unsigned).join()).toMatch(/body\/renditions\/0\/url must match pattern/);

    const failures = JSON.parse((await call('/api/failures', bearer(operator))).body.toString('utf8'));
    failures.items[0].stage = 'uploader';
    expect(checker.schemaProblems('GET', '/api/failures', 200, failures).join()).toMatch(/body\/items\/0\/stage must be equal to one of the allowed values/);

    const sources = JSON.parse((await call('/api/sources/health', bearer(operator))).body.toString('utf8'));
    expect(checker.schemaProblems('GET', '/api/sources/health', 200, sources)).toEqual([]);
    sources.items[0].cadence = 'guessed';
    delete sources.items[1].clockDriftMs;
    const sourceProblems = checker.schemaProblems('GET', '/api/sources/health', 200, sources).join();
    expect(sourceProblems).toMatch(/body\/items\/0\/cadence must be equal to one of the allowed values/);
    expect(sourceProblems).toMatch(/body\/items\/1 must have required property 'clockDriftMs'/);

    // The whole answer: an undocumented status, a JSON body where bytes belong, a missing header.
    const teapot = { ...answer, status: 418 };
    expect(checker.responseProblems(teapot)).toEqual([expect.stringMatching(/status 418 is not documented for GET \/api\/images/)]);
    const ranged = await call(`/api/images/${detail.id}/original`, { ...bearer(analyst), range: 'bytes=0-9' });
    const headers = new Headers(ranged.headers);
    headers.delete('content-range');
    expect(checker.responseProblems({ ...ranged, headers })).toEqual([expect.stringMatching(/header Content-Range is documented as always sent but is missing/)]);
    headers.set('content-type', 'application/json');
    expect(checker.responseProblems({ ...ranged, headers }).join()).toMatch(/content type "application\/json" is not documented/);
  });

  it('fails a document with a misspelt field, a dangling $ref, keywords outside JSON Schema 2020-12 or an undeclared path parameter', () => {
    const broken = copy(OPENAPI_DOCUMENT) as any;
    broken.components.schemas.SearchResult.properties.items.items = { $ref: '#/components/schemas/Summary' };
    broken.paths['/healthz'].get.respones = broken.paths['/healthz'].get.responses;
    broken.components.schemas.ImageId.nullable = true;
    broken.components.schemas.ImageStatus.example = 'processed';
    broken.paths['/api/images/{id}/renditions/{name}'].get.parameters = [{ $ref: '#/components/parameters/ImageIdPath' }];
    const problems = new OpenApiChecker(broken).documentProblems().join('\n');
    expect(problems).toMatch(/document\/paths\/~1healthz\/get must NOT have additional properties: respones/);
    expect(problems).toMatch(/\$ref #\/components\/schemas\/Summary resolves to nothing/);
    expect(problems).toMatch(/ImageId: nullable is OpenAPI 3.0/);
    expect(problems).toMatch(/ImageStatus: strict mode: unknown keyword: "example"/);
    expect(problems).toMatch(/path parameters \[id\] differ from the template's \[id, name\]/);
  });
});
