import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FTPError } from 'basic-ftp';
import { parse as parseYaml } from 'yaml';
import { PACKAGE_ROOT } from '../../shared/paths';
import { SOURCE_LAST_SEEN_METRIC, SOURCE_QUIET_METRIC } from '../../services/search/source-health';
import { cameraJpeg } from '../helpers/fixtures';
import { startTestApp, type TestApp } from '../helpers/app';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format: the declared metric names (histograms with their series) and every sample. */
function parseExposition(text: string): { names: Set<string>; samples: Sample[] } {
  const names = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === 'histogram') ['_bucket', '_sum', '_count'].forEach((s) => names.add(name + s));
      if (kind === 'summary') ['_sum', '_count'].forEach((s) => names.add(name + s));
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
    names.add(sample[1]);
  }
  return { names, samples };
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Metric names in PromQL: ours, and prom-client's default process metrics. Prometheus's own `up` is not a registry's. */
function metricNames(expressions: string[]): string[] {
  return [...new Set(expressions.flatMap((e) => e.match(/\b(?:image_ingest|process|nodejs)_[a-z0-9_]+\b/g) ?? []))].sort();
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'ops', 'grafana-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function alertExpressions(): string[] {
  const rules = parseYaml(readFileSync(path.join(PACKAGE_ROOT, 'ops', 'prometheus-alerts.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

describe('operators watch a running app through /metrics, /readyz and the dashboard and alerts in ops/', () => {
  let t: TestApp;
  let opsUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ ops: { port: 0 } });
    opsUrl = `http://127.0.0.1:${t.app.opsPort}`;
  });
  afterAll(async () => {
    await t.stop();
  });

  const scrape = async (base = t.baseUrl) => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  };

  it('counts an upload from FTP to search: bytes, its 226, processing stages, time to searchable, and no lag left', async () => {
    const jpeg = await cameraJpeg({ seed: 4242, make: 'Canon' });
    await t.upload('ops.jpg', jpeg);
    await waitFor(async () => (await t.api(`/api/images/${sha256(jpeg)}`)).status === 200, 30_000, 'image searchable');
    const { processor, indexer } = t.config.bus.groups;
    const { ingested, processed } = t.config.bus.topics;
    // Consumers commit after their handler returns; the image can be searchable a moment before.
    const { samples } = await waitFor(async () => {
      const scraped = await scrape();
      const lag = scraped.samples.filter((s) => s.name === 'image_ingest_consumer_lag_messages');
      const settled = lag.length >= 2 && lag.every((s) => s.value === 0) && valueOf(scraped.samples, 'image_ingest_ftp_sessions_open') === 0;
      return settled && scraped;
    }, 30_000, 'consumers caught up and FTP session closed');

    expect(valueOf(samples, 'image_ingest_uploads_total', { account: 'cam1', protocol: 'ftp' })).toBe(1);
    expect(valueOf(samples, 'image_ingest_upload_bytes_total', { account: 'cam1', protocol: 'ftp' })).toBe(jpeg.length);
    expect(valueOf(samples, 'image_ingest_last_upload_timestamp_seconds', { account: 'cam1' })).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(valueOf(samples, 'image_ingest_ftp_upload_reply_seconds_count', { reply: '226' })).toBe(1);
    expect(valueOf(samples, 'image_ingest_upload_to_searchable_seconds_count')).toBe(1);
    for (const stage of ['read', 'metadata', 'render', 'write', 'total']) {
      expect(valueOf(samples, 'image_ingest_processing_seconds_count', { stage })).toBe(1);
    }
    expect(valueOf(samples, 'image_ingest_consumer_lag_messages', { group: processor, topic: ingested, partition: '0' })).toBe(0);
    expect(valueOf(samples, 'image_ingest_consumer_lag_messages', { group: indexer, topic: processed, partition: '0' })).toBe(0);
    expect(valueOf(samples, 'image_ingest_spool_depth')).toBe(0);
    for (const part of ['bus', 'store', 'index']) expect(valueOf(samples, 'image_ingest_ready', { part })).toBe(1);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts a refused upload by its reply and code, and its dead letter', async () => {
    const error = await t.upload('empty.jpg', Buffer.alloc(0)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(FTPError);
    expect((error as FTPError).code).toBe(550);
    const { samples } = await scrape();
    expect(valueOf(samples, 'image_ingest_ftp_refusals_total', { reply: '550', code: 'EMPTY_FILE' })).toBe(1);
    expect(valueOf(samples, 'image_ingest_dead_letters_total', { stage: 'ingest', code: 'EMPTY_FILE' })).toBe(1);
    expect(valueOf(samples, 'image_ingest_ftp_upload_reply_seconds_count', { reply: '550' })).toBe(1);
  });

  it('serves the same metrics, /readyz and /healthz on the ops port', async () => {
    const [search, ops] = await Promise.all([scrape(), scrape(opsUrl)]);
    expect([...ops.names].sort()).toEqual([...search.names].sort());
    for (const base of [t.baseUrl, opsUrl]) {
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', failing: [], checks: { bus: 'ok', store: 'ok', index: 'ok' } });
    }
    expect(await (await fetch(`${opsUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${opsUrl}/api/search`)).status).toBe(404);
  });

  it('has every metric that the Grafana dashboard and the alert rules query', async () => {
    const { names } = await scrape();
    const dashboard = metricNames(dashboardExpressions());
    const alerts = metricNames(alertExpressions());
    // The quiet-camera gauges come from the source-health module, registered in the same registry.
    expect(alerts).toEqual(expect.arrayContaining([SOURCE_QUIET_METRIC]));
    expect(dashboard).toEqual(expect.arrayContaining([SOURCE_QUIET_METRIC, SOURCE_LAST_SEEN_METRIC]));
    expect(dashboard.filter((name) => !names.has(name))).toEqual([]);
    expect(alerts.filter((name) => !names.has(name))).toEqual([]);
  });

  // Last: it breaks the app's index.
  it('answers /readyz 503 naming the part that does not answer, while /healthz stays 200', async () => {
    await t.app.adapters.index.close();
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready', failing: ['index'], checks: { bus: 'ok', store: 'ok', index: 'INDEX_UNAVAILABLE' } });
    expect((await fetch(`${t.baseUrl}/healthz`)).status).toBe(200);
    const { samples } = await scrape();
    expect(valueOf(samples, 'image_ingest_ready', { part: 'index' })).toBe(0);
    expect(valueOf(samples, 'image_ingest_ready', { part: 'bus' })).toBe(1);
  });
});

describe('/metrics on the search port when API keys are needed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ http: { auth: 'key' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('needs a key for /metrics (its labels name accounts and cameras) but not for /readyz', async () => {
    expect((await fetch(`${t.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
  });
});
