// The functions handed to page.evaluate run in the browser: they are typed against the DOM.
/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { keysCommand } from '../../services/cli/keys.command';
import { PACKAGE_ROOT } from '../../shared/paths';
import { cameraJpeg } from '../helpers/fixtures';
import { startTestApp, type TestApp } from '../helpers/app';
import { undecodableJpeg } from '../helpers/undecodable';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const SHOTS = path.join(PACKAGE_ROOT, 'test-results', 'screenshots');
const CHROMIUM = execFileSync('sh', ['-c', 'command -v chromium || echo /usr/bin/chromium']).toString().trim();

/** A folder of camera uploads: four makes, two accounts, four places, three years, one undecodable. */
interface Upload {
  user: string;
  path: string;
  options: Parameters<typeof cameraJpeg>[0];
  corrupt?: boolean;
}
const UPLOADS: Upload[] = [
  { user: 'cam1', path: '/berlin/IMG_0001.JPG', options: { make: 'Canon', model: 'EOS R5', dateTimeOriginal: '2022:05:01 10:00:00', gps: { lat: 52.52, lon: 13.405 }, keywords: ['harbour'], caption: 'Spree bridge', seed: 1001 } },
  { user: 'cam1', path: '/paris/IMG_0002.JPG', options: { make: 'Canon', model: 'EOS R5', dateTimeOriginal: '2022:06:10 12:00:00', gps: { lat: 48.8566, lon: 2.3522 }, seed: 1002 } },
  { user: 'cam1', path: '/nyc/DSC_0003.JPG', options: { make: 'NIKON', model: 'Z 6', dateTimeOriginal: '2023:03:05 09:30:00', gps: { lat: 40.7128, lon: -74.006 }, keywords: ['harbour', 'ferry'], caption: 'Morning ferry', seed: 1003 } },
  { user: 'cam1', path: '/studio/DSC_0004.JPG', options: { make: 'NIKON', model: 'Z 6', dateTimeOriginal: '2023:07:01 15:00:00', seed: 1004 } },
  { user: 'cropper', path: '/field/DSCF0005.JPG', options: { make: 'FUJIFILM', model: 'X-T4', dateTimeOriginal: '2024:01:15 08:00:00', seed: 1005 } },
  { user: 'cropper', path: '/tokyo/IMG_0006.JPG', options: { make: 'Apple', model: 'iPhone 15 Pro', dateTimeOriginal: '2024:08:20 18:00:00', gps: { lat: 35.6762, lon: 139.6503 }, seed: 1006 } },
  { user: 'cam1', path: '/broken/garbled.jpg', options: { make: 'Olympus', model: 'D-320L', dateTimeOriginal: '2024:02:02 02:02:02', seed: 1007 }, corrupt: true },
];

describe('the analysts\' page in a real browser, against the embedded app', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let analyst: string;
  let operator: string;
  /** The key the page's prompt is answered with. */
  let typedKey = '';
  const problems: string[] = [];
  const ids = new Map<string, string>();
  const started = Date.now();
  // A tile server of our own on 127.0.0.1 stands for http.mapTileUrl's: every tile a plain square.
  let tiles: Server;
  const tilesServed: string[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const status = () => page.locator('#status').innerText();
  const query = () => new URL(page.url()).searchParams;
  /** Waits until the page has answered the search its URL holds. */
  const settled = () => page.waitForFunction(() => /^(?!Searching).+/.test(document.getElementById('status')!.textContent ?? ''));
  const statusIs = (expected: string) => page.waitForFunction((text) => document.getElementById('status')!.textContent === text, expected);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const tile = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#b9d3a6' } }).png().toBuffer();
    tiles = createServer((req, res) => {
      tilesServed.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': tile.length });
      res.end(tile);
    });
    await new Promise<void>((resolve) => tiles.listen(0, '127.0.0.1', resolve));
    const mapTileUrl = `http://127.0.0.1:${(tiles.address() as AddressInfo).port}/tiles/{z}/{x}/{y}.png`;
    t = await startTestApp({ http: { auth: 'key', mapTileUrl } });
    analyst = (await keysCommand(t.app.adapters.store, ['add', 'page-analyst', '--role', 'analyst'])).stdout[0];
    operator = (await keysCommand(t.app.adapters.store, ['add', 'page-operator', '--role', 'operator'])).stdout[0];
    for (const upload of UPLOADS) {
      const jpeg = await cameraJpeg({ width: 640, height: 480, ...upload.options });
      const data = upload.corrupt ? undecodableJpeg(jpeg) : jpeg;
      ids.set(upload.path, sha256(data));
      const client = await t.ftp(upload.user);
      await client.ensureDir(path.posix.dirname(upload.path));
      await client.uploadFrom(Readable.from([data]), path.posix.basename(upload.path));
      client.close();
    }
    await waitFor(async () => {
      const { body } = await t.api<{ total: number }>('/api/images?size=1', { authorization: `Bearer ${analyst}` });
      return body.total === UPLOADS.length;
    }, 60_000, 'every upload searchable');

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    // Nothing may leave this machine: the page, its libraries and its map are all served by the app.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      problems.push(`request left 127.0.0.1: ${url.href}`);
      return route.abort();
    });
    page = await context.newPage();
    // Each step takes well under a second: a broken page fails in seconds, not minutes.
    page.setDefaultTimeout(10_000);
    page.on('console', (message) => {
      // A refused request is logged by the browser too: the response listener below judges it, by its URL.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => {
      // Leaflet cancels the tiles a move or zoom left behind, and leaving a page cancels its images: not failures.
      if (request.resourceType() === 'image' && request.failure()?.errorText === 'net::ERR_ABORTED') return;
      problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`);
    });
    page.on('response', (response) => {
      // 401 asks for the key and 403 is the Sources view's refusal for an analyst: both answered on the page.
      if (response.status() >= 400 && ![401, 403].includes(response.status())) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('dialog', (dialog) => void dialog.accept(typedKey));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await new Promise((resolve) => tiles?.close(resolve));
    console.log(`browser suite: ${Date.now() - started} ms`);
  });

  afterEach(() => {
    expect(problems).toEqual([]);
  });

  it('serves the map\'s country outlines as GeoJSON and no file it does not list', async () => {
    const outlines = await fetch(`${t.baseUrl}/assets/countries.geojson`);
    expect(outlines.headers.get('content-type')).toBe('application/geo+json');
    const geojson = (await outlines.json()) as { type: string; features: unknown[] };
    expect(geojson.type).toBe('FeatureCollection');
    expect(geojson.features.length).toBeGreaterThan(150);
    for (const name of ['constructor', '__proto__', 'search.page.html', '..%2Fpage-assets.ts']) {
      expect((await fetch(`${t.baseUrl}/assets/${name}`)).status).toBe(404);
    }
    expect(await (await fetch(`${t.baseUrl}/page-config.json`)).json()).toEqual({ mapTileUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/tiles\/\{z\}/) });
  });

  it('asks for the API key once and shows every image with facets and a capture-time histogram', async () => {
    typedKey = analyst;
    await page.goto(`${t.baseUrl}/`);
    await settled();
    expect(await status()).toMatch(/of 7 images/);
    expect(await page.evaluate(() => sessionStorage.getItem('image-search.apiKey'))).toBe(analyst);
    await expect(page.locator('.card').count()).resolves.toBe(7);
    const makes = await page.locator('[data-facet=make] li').allInnerTexts();
    expect(makes.map((m) => m.replace(/\s+/g, ' '))).toEqual(expect.arrayContaining(['canon 2', 'nikon 2', 'fujifilm 1', 'apple 1', 'olympus 1']));
    expect(await page.locator('[data-facet=account] li').allInnerTexts()).toHaveLength(2);
    expect((await page.locator('[data-facet=status] li').allInnerTexts()).join(' ')).toMatch(/failed\s+1/);
    expect((await page.locator('[data-facet=gps] li').allInnerTexts()).join(' ')).toMatch(/with GPS\s+4.*without\s+3/s);
    expect(await page.locator('#histogram h3').textContent()).toMatch(/Captured \(by month\)/);
    await shot('01-all-images');
  });

  it('searches by text and narrows by a facet value, the URL holding the search', async () => {
    await page.fill('#search input[name=q]', 'harbour');
    await page.press('#search input[name=q]', 'Enter');
    await page.waitForURL(/q=harbour/);
    await settled();
    expect(await status()).toMatch(/of 2 images/);
    await page.locator('[data-facet=make] button', { hasText: 'nikon' }).click();
    await page.waitForURL(/make=nikon/);
    await settled();
    expect(await status()).toMatch(/of 1 images/);
    expect(await page.locator('.card').innerText()).toContain('/nyc/DSC_0003.JPG');
    expect(query().get('q')).toBe('harbour');
    await shot('02-text-and-facet');

    await page.goBack();
    await statusIs('1–2 of 2 images');
    expect(query().get('make')).toBeNull();
    // The shared URL alone restores the search in a fresh tab.
    const shared = await context.newPage();
    // A new tab has its own session: it asks for the key again.
    shared.on('dialog', (dialog) => void dialog.accept(analyst));
    await shared.goto(`${t.baseUrl}/?q=harbour&make=canon`);
    await shared.waitForFunction(() => /of 1 images/.test(document.getElementById('status')!.textContent ?? ''));
    await shared.close();
  });

  it('brushes the histogram to set from and to', async () => {
    await page.goto(`${t.baseUrl}/`);
    await settled();
    const box = (await page.locator('svg.histogram').boundingBox())!;
    // From the first bar (May 2022) to about the middle of the span (mid 2023).
    await page.mouse.move(box.x + 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/from=/);
    await settled();
    expect(query().get('from')).toBe('2022-05-01T00:00:00Z');
    expect(query().get('to')).toMatch(/^2023-\d\d-\d\dT23:59:59Z$/);
    expect(await status()).toMatch(/of [1-4] images/);
    expect(await page.locator('#active-filters').innerText()).toMatch(/from: 2022-05-01/);
    await shot('03-histogram-brush');
  });

  it('searches the area of the map fitted to the markers, and a marker opens its image', async () => {
    await page.goto(`${t.baseUrl}/`);
    await settled();
    expect(await page.locator('#map').getAttribute('data-markers')).toBe('4');
    await page.locator('.fit-markers').click();
    await page.locator('.search-area').click();
    await page.waitForURL(/bbox=/);
    await settled();
    expect(await status()).toMatch(/of 4 images/);
    // Over the offline outlines, the tiles of the configured http.mapTileUrl.
    expect(tilesServed.filter((url) => /^\/tiles\/\d+\/\d+\/\d+\.png$/.test(url)).length).toBeGreaterThan(0);
    expect(await page.locator('#map .leaflet-tile-loaded').count()).toBeGreaterThan(0);
    await shot('04-map-area');
    // Reloaded from its URL, the map opens on the searched area.
    await page.reload();
    await settled();
    expect(await page.locator('#map').getAttribute('data-markers')).toBe('4');
    expect(await page.locator('#map path[stroke="#2f6fd6"]').count()).toBe(1);
    // Markers near each other are clustered: open clusters until a single marker shows.
    const tokyo = page.locator('.photo-marker[title="/tokyo/IMG_0006.JPG"]');
    await waitFor(async () => (await tokyo.count()) > 0 || (await page.locator('.marker-cluster').first().click(), false), 10_000, 'a marker');
    await tokyo.click();
    await page.waitForURL(/image=/);
    expect(query().get('image')).toBe(ids.get('/tokyo/IMG_0006.JPG'));
    await expect(page.locator('#detail h2').innerText()).resolves.toBe('/tokyo/IMG_0006.JPG');
    await page.keyboard.press('Escape');
    await page.waitForURL((url) => !url.searchParams.has('image'));
  });

  it('shows an image\'s metadata, sources, storage and downloads, and a failed one\'s error', async () => {
    await page.goto(`${t.baseUrl}/?q=ferry`);
    await settled();
    await page.locator('.card').first().click();
    const detail = page.locator('#detail');
    await expect(detail.locator('h2').innerText()).resolves.toBe('/nyc/DSC_0003.JPG');
    const meta = await detail.locator('.detail-meta').innerText();
    for (const value of ['NIKON Z 6', '2023-03-05T09:30:00', 'harbour, ferry', 'Morning ferry', '40.712800, -74.006000', 'processed']) expect(meta).toContain(value);
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#detail img.preview')).every((img) => img.complete && img.naturalWidth > 0));
    expect(await detail.locator('.mini-map.leaflet-container').count()).toBe(1);
    expect(await detail.locator('table.sources').innerText()).toMatch(/cam1\s+\/nyc\/DSC_0003\.JPG\s+ftp/);
    expect(await detail.locator('table.locations tbody tr').count()).toBe(3);
    const downloads = await detail.locator('.downloads a').allInnerTexts();
    expect(downloads.map((d) => d.split(' ')[0])).toEqual(['thumb', 'preview', 'original']);
    // The signed links work without the key.
    const original = await detail.locator('a.original').getAttribute('href');
    expect((await fetch(`${t.baseUrl}${original}`)).status).toBe(200);
    await shot('05-detail');
    await page.keyboard.press('Escape');

    await page.goto(`${t.baseUrl}/?status=failed`);
    await settled();
    await page.locator('.card').first().click();
    await expect(detail.locator('.status').innerText()).resolves.toMatch(/^failed: CORRUPT_IMAGE/);
    expect(await detail.locator('.downloads a').allInnerTexts()).toEqual([expect.stringMatching(/^original/)]);
    await shot('06-detail-failed');
    await page.keyboard.press('Escape');
  });

  it('pages with the cursor, and back returns to the page before', async () => {
    await page.goto(`${t.baseUrl}/?size=3`);
    await settled();
    expect(await status()).toBe('1–3 of 7 images');
    const first = await page.locator('.card').allInnerTexts();
    await page.click('#next');
    await page.waitForURL(/cursor=/);
    await settled();
    expect(await status()).toBe('4–6 of 7 images');
    await page.click('#next');
    await statusIs('7–7 of 7 images');
    expect(await page.locator('#next').isDisabled()).toBe(true);
    await shot('07-last-page');
    await page.click('#prev');
    await statusIs('4–6 of 7 images');
    await page.goBack();
    await statusIs('7–7 of 7 images');
    await page.goBack();
    await statusIs('4–6 of 7 images');
    await page.goBack();
    await statusIs('1–3 of 7 images');
    expect(await page.locator('.card').allInnerTexts()).toEqual(first);
  });

  it('moves between results with the arrow keys, opens with Enter and closes with Esc', async () => {
    await page.goto(`${t.baseUrl}/?sort=capturedAt`);
    await settled();
    // The first arrow selects the first result.
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('.card[aria-selected=true]').innerText()).toContain('/nyc/DSC_0003.JPG');
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('.card[aria-selected=true]').innerText()).toContain('/paris/IMG_0002.JPG');
    await page.keyboard.press('Enter');
    await page.waitForURL(/image=/);
    await expect(page.locator('#detail h2').innerText()).resolves.toBe('/paris/IMG_0002.JPG');
    await page.keyboard.press('Escape');
    await page.waitForURL((url) => !url.searchParams.has('image'));
    expect(await page.locator('#detail').evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
  });

  it('says when the facets count a sample and when the total is capped', async () => {
    // Thousands of images would take minutes to ingest: the answer is the app's, with the counts of a big archive.
    await page.route('**/api/images?*', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.total = 10_000;
      body.totalRelation = 'gte';
      body.facets.scope = 'newest';
      body.facets.images = 2_000;
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${t.baseUrl}/?q=harbour`);
    await settled();
    expect(await status()).toBe('1–2 of more than 10,000 images');
    expect(await page.locator('#facets .scope').innerText()).toBe('Counts of the newest 2,000 matches');
    expect(await page.locator('#histogram h3').textContent()).toBe('Captured (by month) of the newest 2,000');
    await page.unroute('**/api/images?*');
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${t.baseUrl}/`);
    await settled();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('08-phone');
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('shows operators the sources and the dead letters, and an analyst why not', async () => {
    await page.goto(`${t.baseUrl}/?view=sources`);
    await page.locator('#dead-letters .notice').waitFor();
    expect(await page.locator('#dead-letters').innerText()).toMatch(/needs an operator key/);
    expect(await page.locator('#search-view').isVisible()).toBe(false);
    await shot('09-sources-analyst');
    typedKey = operator;
    // None of these fresh accounts has the history to be quiet: the report says cropper has gone silent.
    await page.route('**/api/sources/health', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      // The first try goes without a key (the page then asks for one): answered as it is.
      if (response.ok()) for (const item of body.items) if (item.account === 'cropper' && item.serial === null) Object.assign(item, { quiet: true, cadence: 'configured', expectedEveryMs: 900_000 });
      await route.fulfill({ response, json: body });
    });
    await page.locator('#dead-letters .notice button').click();
    await page.locator('#dead-letters table.failures').waitFor();
    expect(await page.locator('#dead-letters').innerText()).toMatch(/CORRUPT_IMAGE.*\/broken\/garbled\.jpg/s);
    await page.locator('#sources-health table.health').waitFor();
    expect(await page.locator('#sources-health').innerText()).toMatch(/1 quiet of \d+/);
    expect(await page.locator('#sources-health tbody tr').first().innerText()).toMatch(/^cropper\s+\(all\)/);
    expect(await page.locator('#sources-health tr.quiet').count()).toBe(1);
    expect(await page.locator('#sources-health').innerText()).toMatch(/^cam1\s/m);
    await shot('10-sources-operator');
    await page.unroute('**/api/sources/health');
  });
});
