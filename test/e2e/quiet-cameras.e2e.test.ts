import { Readable } from 'node:stream';
import { register } from 'prom-client';
import { SOURCE_LAST_SEEN_METRIC, SOURCE_QUIET_METRIC, type SourceHealthReport } from '../../services/search/source-health';
import { hashPassword } from '../../shared/accounts';
import { PASSWORD, startTestApp, type TestApp } from '../helpers/app';
import { cameraJpeg } from '../helpers/fixtures';
import { waitFor } from '../helpers/wait';

describe('a camera gone quiet, in the running product', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Expected every 2 s: silent for longer, the alert fires while the test watches.
    t = await startTestApp({ accounts: [{ name: 'gatecam', passwordHash: await hashPassword(PASSWORD), expectEvery: '2s' }] });
  });
  afterAll(async () => {
    await t.stop();
  });

  /** What Prometheus would scrape: the app's /metrics once it serves one, else the default registry it would serve. */
  async function scrape(): Promise<string> {
    const response = await fetch(`${t.baseUrl}/metrics`);
    return response.status === 200 ? response.text() : register.metrics();
  }

  it('shows the account and its camera quiet in /api/sources/health and as image_ingest_source_quiet 1 once it is silent past expectEvery', async () => {
    const client = await t.ftp('gatecam');
    await client.uploadFrom(Readable.from([await cameraJpeg({ make: 'Axis', model: 'P1468', serial: 'GATE-1', dateTimeOriginal: '2025:03:01 10:00:00' })]), 'gate.jpg');
    client.close();
    // Read the report only once the image is indexed: the index reads behind it are reused for 30 s.
    await waitFor(async () => (await t.api<{ total: number }>('/api/images?account=gatecam')).body.total === 1, 30_000, 'image indexed');

    const report = await waitFor(async () => {
      const { status, body } = await t.api<SourceHealthReport>('/api/sources/health');
      return status === 200 && body.items.find((item) => item.account === 'gatecam' && item.serial === null)?.quiet ? body : undefined;
    }, 30_000, 'gatecam quiet');
    const [account, camera] = report.items;
    expect(account).toMatchObject({ account: 'gatecam', serial: null, cadence: 'configured', expectedEveryMs: 2000, quiet: true, imagesToday: 1 });
    expect(account.silentForMs).toBeGreaterThan(2000);
    expect(camera).toMatchObject({ account: 'gatecam', serial: 'GATE-1', cadence: 'configured', quiet: true, imagesToday: 1 });

    const metrics = await scrape();
    expect(metrics).toContain(`${SOURCE_QUIET_METRIC}{account="gatecam",serial=""} 1`);
    expect(metrics).toContain(`${SOURCE_QUIET_METRIC}{account="gatecam",serial="GATE-1"} 1`);
    expect(metrics).toContain(`${SOURCE_LAST_SEEN_METRIC}{account="gatecam",serial=""} ${Date.parse(account.lastSeenAt!) / 1000}`);
  });
});
