import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { FTPError } from 'basic-ftp';
import pino from 'pino';
import sharp from 'sharp';
import { createAdapters } from '../../shared/adapters/adapters.factory';
import type { BusMessage } from '../../shared/ports/event-bus.port';
import type { TopicRole } from '../../shared/contracts/events';
import { AccountDirectory } from '../../shared/accounts';
import { backfill } from '../../services/ingest/backfill';
import { IngestService } from '../../services/ingest/ingest.service';
import { Spool } from '../../services/ingest/spool';
import { cameraJpeg, pixelBombPng, plainPng, truncate } from '../helpers/fixtures';
import { heicFromJpeg } from '../helpers/heic';
import { PASSWORD, startTestApp, type TestApp } from '../helpers/app';
import { RawFtp } from '../helpers/raw-ftp';
import { assertEvent } from '../helpers/schemas';
import { undecodableJpeg } from '../helpers/undecodable';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Item {
  id: string;
  capturedAt: string | null;
  camera: { make: string | null; model: string | null };
  gps: { lat: number; lon: number } | null;
  width: number;
  height: number;
  sources: { account: string; path: string; receivedAt: string; count: number }[];
  renditions: { name: string; width: number; height: number; url: string }[];
}
interface Page {
  total: number;
  items: Item[];
}
interface Failure {
  id: string | null;
  stage: string;
  error: { code: string; message: string };
  source: { path: string };
}

describe('the one-process pipeline, from FTP upload to search', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  const searchable = (id: string) =>
    waitFor(async () => {
      const { status, body } = await t.api<Item & { original: { url: string } }>(`/api/images/${id}`);
      return status === 200 ? body : undefined;
    }, 30_000, `image ${id} searchable`);

  const failure = (predicate: (f: Failure) => boolean) =>
    waitFor(async () => (await t.api<{ items: Failure[] }>('/api/failures?limit=100')).body.items.find(predicate), 30_000, 'dead letter');

  async function upload(name: string, data: Buffer, user = 'cam1'): Promise<void> {
    const client = await t.ftp(user);
    try {
      await client.ensureDir(path.posix.dirname(name));
      await client.uploadFrom(Readable.from([data]), path.posix.basename(name));
    } finally {
      client.close();
    }
  }

  async function rejected(name: string, data: Buffer): Promise<FTPError> {
    const error = await upload(name, data).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(FTPError);
    return error as FTPError;
  }

  it('makes an uploaded camera JPEG findable by camera, time, place and words, with its renditions', async () => {
    const jpeg = await cameraJpeg({
      make: 'Canon', model: 'EOS R5', serial: 'SN-77', dateTimeOriginal: '2024:05:01 12:34:56', offsetTimeOriginal: '+02:00',
      gps: { lat: 52.520094, lon: -13.415772, alt: 34.5 }, keywords: ['harbour', 'ferry'], caption: 'Morning ferry', seed: 1,
    });
    await upload('/DCIM/100CANON/IMG_0001.JPG', jpeg);
    const id = sha256(jpeg);
    const doc = await searchable(id);

    expect(doc.capturedAt).toBe('2024-05-01T12:34:56+02:00');
    expect(doc.camera).toMatchObject({ make: 'Canon', model: 'EOS R5', serial: 'SN-77' });
    expect(doc.gps!.lat).toBeCloseTo(52.520094, 5);
    expect(doc.gps!.lon).toBeCloseTo(-13.415772, 5);
    expect(Math.abs(doc.gps!.lat - 52.520094)).toBeLessThan(1e-5);
    expect(Math.abs(doc.gps!.lon + 13.415772)).toBeLessThan(1e-5);
    expect(doc.sources).toEqual([expect.objectContaining({ account: 'cam1', path: '/DCIM/100CANON/IMG_0001.JPG' })]);
    expect(doc.renditions.map((r) => [r.name, r.width, r.height])).toEqual([['thumb', 256, 256], ['preview', 1280, 960]]);

    const found = async (query: string) => (await t.api<Page>(`/api/images?${query}`)).body.items.map((i) => i.id);
    expect(await found('make=canon&model=EOS%20R5')).toContain(id);
    expect(await found('q=ferry%20img_0001')).toContain(id);
    expect(await found('from=2024-05-01T10:00:00Z&to=2024-05-01T11:00:00Z')).toContain(id);
    expect(await found('from=2024-05-01T11:00:00Z')).not.toContain(id);
    expect(await found('bbox=-14,52,-13,53')).toContain(id);
    expect(await found('bbox=13,52,14,53')).not.toContain(id);

    const thumb = await fetch(`${t.baseUrl}${doc.renditions[0].url}`);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
    const original = await fetch(`${t.baseUrl}${doc.original.url}`);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(id);
  });

  it('waits for the final RNTO of a temp name before ingesting', async () => {
    const jpeg = await cameraJpeg({ make: 'NIKON', model: 'Z 6', seed: 2 });
    const client = await t.ftp();
    await client.uploadFrom(Readable.from([jpeg]), 'DSC_0002.JPG.part');
    // A final name is stored before its 226; a temp name's 226 must come with nothing stored.
    expect(await t.app.adapters.store.head(`originals/${sha256(jpeg).slice(0, 2)}/${sha256(jpeg).slice(2, 4)}/${sha256(jpeg)}.jpg`)).toBeNull();
    expect((await client.list()).map((f) => f.name)).toContain('DSC_0002.JPG.part');
    await client.rename('DSC_0002.JPG.part', 'DSC_0002.JPG');
    client.close();
    const doc = await searchable(sha256(jpeg));
    expect(doc.sources[0].path).toBe('/DSC_0002.JPG');
  });

  it('accepts a plain STOR from curl', async () => {
    const jpeg = await cameraJpeg({ make: 'FUJIFILM', seed: 3 });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'curl-')), 'DSCF0003.JPG');
    writeFileSync(file, jpeg);
    await run('curl', ['-sS', '--fail', '-T', file, `ftp://127.0.0.1:${t.app.ftpPort}/curl/DSCF0003.JPG`, '--ftp-create-dirs', '--user', `cam1:${PASSWORD}`]);
    const doc = await searchable(sha256(jpeg));
    expect(doc.sources[0].path).toBe('/curl/DSCF0003.JPG');
  });

  it('takes an iPhone HEIC (HEVC) to a searchable image with its camera, time, place and renditions', async () => {
    const heic = await heicFromJpeg(await cameraJpeg({
      width: 2016, height: 1512, make: 'Apple', model: 'iPhone 15 Pro', dateTimeOriginal: '2024:07:04 18:30:00', offsetTimeOriginal: '-04:00',
      gps: { lat: 40.712776, lon: -74.005974 }, seed: 30,
    }));
    await upload('/iphone/IMG_4032.HEIC', heic);
    const doc = await searchable(sha256(heic));
    expect(doc.camera).toMatchObject({ make: 'Apple', model: 'iPhone 15 Pro' });
    expect(doc.capturedAt).toBe('2024-07-04T18:30:00-04:00');
    expect(Math.abs(doc.gps!.lat - 40.712776)).toBeLessThan(1e-5);
    expect([doc.width, doc.height]).toEqual([2016, 1512]);
    expect(doc.renditions.map((r) => [r.name, r.width, r.height])).toEqual([['thumb', 256, 256], ['preview', 1280, 960]]);
    const original = await fetch(`${t.baseUrl}${doc.original.url}`);
    expect(original.headers.get('content-type')).toBe('image/heic');
  });

  it('keeps the same bytes sent twice as one image with both sources', async () => {
    const jpeg = await cameraJpeg({ seed: 4 });
    await upload('/a/first.jpg', jpeg);
    await searchable(sha256(jpeg));
    await upload('/b/again.jpg', jpeg, 'cropper');
    const doc = await waitFor(async () => {
      const d = await searchable(sha256(jpeg));
      return d.sources.length === 2 ? d : undefined;
    }, 30_000, 'second source');
    expect(doc.sources.map((s) => `${s.account}:${s.path}`)).toEqual(['cam1:/a/first.jpg', 'cropper:/b/again.jpg']);
    const { body } = await t.api<Page>('/api/images?q=again');
    expect(body.items.map((i) => i.id)).toEqual([sha256(jpeg)]);
  });

  it("rotates by the camera's orientation and crops to the account's box", async () => {
    const rotated = await cameraJpeg({ width: 1600, height: 1200, orientation: 6, seed: 5 });
    await upload('/rotated.jpg', rotated);
    const doc = await searchable(sha256(rotated));
    expect([doc.width, doc.height]).toEqual([1200, 1600]);
    expect(doc.renditions.find((r) => r.name === 'preview')).toMatchObject({ width: 960, height: 1280 });

    const wide = await cameraJpeg({ width: 1600, height: 1200, seed: 6 });
    await upload('/cropped.jpg', wide, 'cropper');
    const cropped = await searchable(sha256(wide));
    expect(cropped.renditions.find((r) => r.name === 'preview')).toMatchObject({ width: 800, height: 600 });
  });

  it('refuses bad uploads with a 5xx that says why, and keeps serving', async () => {
    const jpeg = await cameraJpeg({ seed: 7 });
    expect((await rejected('/empty.jpg', Buffer.alloc(0))).message).toMatch(/^550 EMPTY_FILE/);
    expect((await rejected('/notes.jpg', Buffer.from('not an image at all'))).message).toMatch(/^550 UNSUPPORTED_TYPE/);
    expect((await rejected('/cut.jpg', truncate(jpeg))).message).toMatch(/^550 TRUNCATED_IMAGE/);
    const big = path.join(mkdtempSync(path.join(tmpdir(), 'big-')), 'big.jpg');
    writeFileSync(big, await cameraJpeg({ seed: 70, width: 1200, height: 900 }));
    const curl = await run('curl', ['-sS', '-T', big, `ftp://127.0.0.1:${t.app.ftpPort}/big.jpg`, '--user', `small:${PASSWORD}`]).catch((e: { stderr: string }) => e);
    expect(curl.stderr).toMatch(/got 550/);
    expect(existsSync(path.join(t.dataDir, 'ftp', 'small', 'big.jpg'))).toBe(false);
    const client = await t.ftp();
    const escape = await client.uploadFrom(Readable.from([jpeg]), '../../escape.jpg').then(() => null, (e: unknown) => e);
    client.close();
    expect(escape).toBeInstanceOf(FTPError);
    expect((escape as FTPError).code).toBe(550);
    expect((escape as FTPError).message).toMatch(/NAME_NOT_ALLOWED/);
    expect(existsSync(path.join(t.dataDir, 'escape.jpg'))).toBe(false);

    expect(await failure((f) => f.source.path === '/notes.jpg')).toMatchObject({ stage: 'ingest', error: { code: 'UNSUPPORTED_TYPE' } });
    expect(readdirSync(path.join(t.dataDir, 'quarantine')).some((f) => f.endsWith('-notes.jpg'))).toBe(true);

    await upload('/still-fine.jpg', jpeg);
    await searchable(sha256(jpeg));
  });

  it('dead-letters images that upload fine but cannot be decoded', async () => {
    await upload('/bomb.png', pixelBombPng());
    expect(await failure((f) => f.source.path === '/bomb.png')).toMatchObject({ stage: 'processor', error: { code: 'PIXEL_LIMIT' } });

    const garbled = undecodableJpeg(await cameraJpeg({ seed: 8, make: 'Olympus', model: 'D-320L' }));
    await upload('/garbled.jpg', garbled);
    expect(await failure((f) => f.source.path === '/garbled.jpg')).toMatchObject({ stage: 'processor', error: { code: 'CORRUPT_IMAGE' }, attempts: 1 });
    // Stored, so findable: by its camera, with the failure, and by status.
    const doc = await searchable(sha256(garbled));
    expect(doc).toMatchObject({ status: 'failed', error: { code: 'CORRUPT_IMAGE' }, camera: { make: 'Olympus', model: 'D-320L' }, renditions: [] });
    const { body } = await t.api<Page>('/api/images?status=failed&make=olympus');
    expect(body.items.map((i) => i.id)).toEqual([sha256(garbled)]);
  });

  it('counts a resend of the same bytes to the same path as the same source', async () => {
    const jpeg = await cameraJpeg({ seed: 23 });
    await upload('/sync/IMG_0023.JPG', jpeg);
    await searchable(sha256(jpeg));
    await upload('/sync/IMG_0023.JPG', jpeg);
    const doc = await waitFor(async () => {
      const d = await searchable(sha256(jpeg));
      return d.sources[0].count === 2 ? d : undefined;
    }, 30_000, 'second delivery counted');
    expect(doc.sources).toEqual([expect.objectContaining({ account: 'cam1', path: '/sync/IMG_0023.JPG', count: 2 })]);
  });

  it('refuses logins with a wrong password or from a network the account does not allow', async () => {
    await expect(t.ftp().then(async (c) => c)).resolves.toBeDefined();
    const wrong = await RawFtp.connect(t.app.ftpPort!);
    await wrong.send('USER cam1');
    expect(await wrong.send('PASS nope')).toMatch(/^530/);
    wrong.socket.destroy();
    const office = await RawFtp.connect(t.app.ftpPort!);
    await office.send('USER office');
    expect(await office.send(`PASS ${PASSWORD}`)).toMatch(/^530/);
    office.socket.destroy();
  });

  it('ingests nothing from a client that vanished mid-transfer, and takes the resumed upload', async () => {
    const jpeg = await cameraJpeg({ seed: 9, width: 2400, height: 1800 });
    const half = Math.floor(jpeg.length / 2);
    const ftp = await RawFtp.connect(t.app.ftpPort!);
    await ftp.login('cam1', PASSWORD);
    await ftp.send('TYPE I');
    const data = await ftp.passive();
    ftp.socket.write('STOR vanish.jpg\r\n');
    expect(await ftp.reply()).toMatch(/^150/);
    await new Promise<void>((resolve) => data.write(jpeg.subarray(0, half), () => resolve()));
    ftp.socket.destroy();
    data.end();
    const home = path.join(t.dataDir, 'ftp', 'cam1');
    // What arrived before the connection died is kept for the client to resume from, once the
    // server has written the last of it: the size must hold across two looks 200 ms apart.
    let seen = -1;
    let since = 0;
    const size = await waitFor(() => {
      const now = existsSync(path.join(home, 'vanish.jpg')) ? statSync(path.join(home, 'vanish.jpg')).size : -1;
      if (now !== seen) [seen, since] = [now, Date.now()];
      return now >= 0 && Date.now() - since >= 200 && now;
    }, 5_000, 'partial file kept for resume');
    expect(size).toBeLessThanOrEqual(half);
    const client = await t.ftp();
    if (size > 0) expect(await client.size('vanish.jpg')).toBe(size);
    await client.appendFrom(Readable.from([jpeg.subarray(size)]), 'vanish.jpg');
    client.close();
    const doc = await searchable(sha256(jpeg));
    expect(doc.sources).toEqual([expect.objectContaining({ path: '/vanish.jpg', count: 1 })]);
    // The broken-off half was never taken: not ingested, not refused as truncated.
    const { body } = await t.api<{ items: Failure[] }>('/api/failures?limit=100');
    expect(body.items.filter((f) => f.source.path === '/vanish.jpg')).toEqual([]);
    const quarantine = path.join(t.dataDir, 'quarantine');
    expect(existsSync(quarantine) ? readdirSync(quarantine).filter((name) => name.includes('vanish')) : []).toEqual([]);
  });

  it('ingests a complete file dropped into a watched folder and removes it from there', async () => {
    const jpeg = await cameraJpeg({ seed: 10, make: 'SONY' });
    const folder = path.join(t.dataDir, 'drop', 'sub');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'part.jpg.tmp'), jpeg.subarray(0, 100));
    writeFileSync(path.join(folder, 'DSC0010.JPG'), jpeg);
    const doc = await searchable(sha256(jpeg));
    expect(doc.sources[0]).toMatchObject({ account: 'dropper', path: '/sub/DSC0010.JPG' });
    await waitFor(() => !existsSync(path.join(folder, 'DSC0010.JPG')), 5_000, 'dropped file taken away');
    expect(existsSync(path.join(folder, 'part.jpg.tmp'))).toBe(true);
  });

  it('backfills a local folder through the same path from another process', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'backfill-'));
    const images = await Promise.all([11, 12, 13].map((seed) => cameraJpeg({ seed, width: 800, height: 600 })));
    images.forEach((img, i) => writeFileSync(path.join(dir, `IMG_${i}.JPG`), img));
    writeFileSync(path.join(dir, 'README.txt'), 'not an image');
    // A second set of adapters on the same data folder, as `npm run cli -- ingest` opens them.
    const adapters = createAdapters(t.config, pino({ level: 'silent' }));
    const accounts = new AccountDirectory(t.config, adapters.store);
    await accounts.refresh();
    const ingest = new IngestService({ config: t.config, logger: pino({ level: 'silent' }), accounts, ...adapters, spool: new Spool(path.join(t.dataDir, 'spool'), { leaseMs: 30_000 }) });
    const progress: number[] = [];
    const report = await backfill({
      ingest,
      account: accounts.find('cam1')!,
      root: dir,
      concurrency: 2,
      onProgress: (done) => progress.push(done),
    }).finally(() => adapters.close());
    expect(report).toMatchObject({ files: 4, ingested: 3, rejected: [expect.objectContaining({ code: 'UNSUPPORTED_TYPE' })] });
    expect(progress).toEqual([0, 1, 2, 3, 4]);
    for (const img of images) await searchable(sha256(img));
    expect(readdirSync(dir)).toHaveLength(4);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers bad query parameters with a 400 naming the parameter', async () => {
    for (const [query, name] of [['bbox=1,2,3', 'bbox'], ['from=yesterday', 'from'], ['size=1000', 'size'], ['sort=name', 'sort'], ['colour=red', 'colour']]) {
      const { status, body } = await t.api<{ error: string }>(`/api/images?${query}`);
      expect(status).toBe(400);
      expect(body.error.startsWith(`${name}:`)).toBe(true);
    }
    expect((await t.api('/api/images/not-an-id')).status).toBe(404);
    expect((await t.api('/healthz')).body).toEqual({ status: 'ok' });
  });

  it('publishes only events that validate against the published JSON Schemas', async () => {
    // Its own uploads put an event on every topic, so the test holds when run alone; earlier tests' events are checked too.
    const good = await cameraJpeg({ seed: 21, make: 'Nikon', gps: { lat: 48.1, lon: 11.5 } });
    const garbled = undecodableJpeg(await cameraJpeg({ seed: 22 }));
    await upload('/schema/good.jpg', good);
    await upload('/schema/garbled.jpg', garbled);
    const ids = { good: sha256(good), garbled: sha256(garbled) };

    const roles = Object.fromEntries(Object.entries(t.config.bus.topics).map(([role, topic]) => [topic, role as TopicRole]));
    const seen: BusMessage<unknown>[] = [];
    const subscription = await t.app.adapters.bus.subscribe({
      group: `schema-check-${Date.now()}`,
      topics: Object.values(t.config.bus.topics),
      handle: async (m) => {
        seen.push(m);
      },
    });
    const has = (role: TopicRole, id: string) => seen.some((m) => m.topic === t.config.bus.topics[role] && m.key === id);
    try {
      await waitFor(() => has('ingested', ids.good) && has('processed', ids.good) && has('ingested', ids.garbled) && has('failed', ids.garbled), 30_000, 'events of both uploads on every topic');
    } finally {
      await subscription.stop();
    }
    for (const message of seen) {
      assertEvent(roles[message.topic], message.value);
      expect(message.key).toBe((message.value as { id: string | null }).id ?? message.key);
    }
  });
});

describe('restarts', () => {
  it('ingests a complete upload a crash left in the FTP home before its 226, and leaves a broken-off one for resume', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ingest-orphan-'));
    const complete = await cameraJpeg({ seed: 31, width: 600, height: 400 });
    const partial = truncate(await cameraJpeg({ seed: 32, width: 600, height: 400 }));
    const home = path.join(dataDir, 'ftp', 'cam1', 'DCIM');
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'IMG_0031.JPG'), complete);
    writeFileSync(path.join(home, 'IMG_0032.JPG'), partial);
    writeFileSync(path.join(home, 'IMG_0033.JPG.part'), complete);
    const old = new Date(Date.now() - 10 * 60_000);
    for (const name of ['IMG_0031.JPG', 'IMG_0032.JPG', 'IMG_0033.JPG.part']) utimesSync(path.join(home, name), old, old);
    const t = await startTestApp({}, dataDir);
    try {
      const doc = await waitFor(async () => {
        const { status, body } = await t.api<Item>(`/api/images/${sha256(complete)}`);
        return status === 200 ? body : undefined;
      }, 30_000, 'orphaned upload searchable');
      expect(doc.sources).toEqual([expect.objectContaining({ account: 'cam1', path: '/DCIM/IMG_0031.JPG' })]);
      expect(readdirSync(home).sort()).toEqual(['IMG_0032.JPG', 'IMG_0033.JPG.part']);
    } finally {
      await t.stop();
    }
  });

  it('re-drives a spooled upload that a crash left behind', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ingest-restart-'));
    const png = await plainPng(400, 300, 42);
    const home = path.join(dataDir, 'ftp', 'cam1');
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'left.png'), png);
    // The crash: the upload was claimed into the spool but never stored or announced.
    const claimed = await new Spool(path.join(dataDir, 'spool'), { leaseMs: 30_000 }).claim(path.join(home, 'left.png'), {
      protocol: 'ftp', account: 'cam1', path: '/left.png', remoteAddress: '127.0.0.1', receivedAt: new Date().toISOString(),
    }, { maxFileBytes: 1 << 30 });
    // The process died: its lease is no longer renewed or held.
    await claimed.lease.release();
    const t = await startTestApp({}, dataDir);
    try {
      const doc = await waitFor(async () => {
        const { status, body } = await t.api<Item>(`/api/images/${sha256(png)}`);
        return status === 200 ? body : undefined;
      }, 30_000, 'spooled image searchable');
      expect(doc.sources[0].path).toBe('/left.png');
      expect(readdirSync(path.join(dataDir, 'spool'))).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});
