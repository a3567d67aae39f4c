import { EmbeddedProduct, Scenario, imageBatch, killDuringUploads, largeUpload, printTable, recordStartFailure, runScenario, searchTotal, type Row } from '../helpers/faults';
import { waitFor } from '../helpers/wait';

/**
 * The embedded product as one process (SQLite log, SQLite index, local store) SIGKILLed at three
 * moments of a batch and started again on the same data folder. Same verdict as the distributed
 * fault suite (test/integration/faults.test.ts), rows in the same .cache/reliability table.
 */

const GOOD = 24;
const SCENARIO_TIMEOUT_MS = 300_000;

describe('the embedded product SIGKILLed mid-batch and restarted on the same data folder', () => {
  const accounts = ['kill-during-uploads', 'kill-while-processing', 'kill-while-indexing'];
  let product: EmbeddedProduct | undefined;

  afterAll(async () => {
    await product?.close();
    printTable();
  }, 60_000);

  async function crash(id: string, fault: string, seed: number, script: (s: Scenario, product: EmbeddedProduct) => Promise<void>, options: { large?: boolean } = {}): Promise<Row> {
    const uploads = await imageBatch(id, seed, GOOD);
    if (options.large) uploads.push(await largeUpload(id, seed + 500));
    const since = Date.now();
    // Started by the first scenario, so a product that does not start fails that row rather than the whole file.
    // A process that died on its own in an earlier scenario is that scenario's finding; this one starts on a live one.
    try {
      product ??= await EmbeddedProduct.start(accounts);
      if (!product.running()) await product.start();
    } catch (error) {
      recordStartFailure('embedded', id, fault, since, error);
    }
    const running = product;
    const s = new Scenario('embedded', id, fault, id, uploads, running, 'injection', since);
    const first = running.processes().length - 1;
    s.phase('product start');
    return runScenario(s, () => script(s, running), () => running.processes().slice(first));
  }

  /** Kills when `ready` says so (it returns a description of the moment), restarts, resends what got no reply. */
  async function killWhen(s: Scenario, product: EmbeddedProduct, what: string, ready: () => Promise<string | false>): Promise<void> {
    const uploading = s.sender.sendAll(s.uploads, 2);
    const moment = await waitFor(ready, 90_000, what);
    s.phase(`uploads until ${what}`);
    s.injected();
    await product.kill();
    s.notes.push(`killed ${moment}`);
    await uploading;
    s.phase('kill');
    await product.start();
    s.phase('restart');
    await s.sender.resendUnanswered(s.uploads);
    s.phase('resend what got no reply');
  }

  it(
    'killed during uploads (one cut half-way, two just answered): every 226 searchable once, the cut file not ingested, its resend one source',
    async () => {
      const row = await crash(
        'kill-during-uploads',
        'SIGKILL with a large upload half-way and right after two 226 replies; restart; the camera resends',
        7000,
        (s, product) => killDuringUploads(s, () => product.kill(), () => product.start()),
        { large: true },
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'killed while processing: every accepted image searchable once, nothing lost, no dead letters for good images',
    async () => {
      const row = await crash('kill-while-processing', 'SIGKILL while images are being processed', 8000, (s, product) =>
        killWhen(s, product, '6 processed', async () => {
          const processed = await product.processedCount(s.ids);
          return processed >= 6 && `with ${processed} of ${s.uploads.length} processed, ${s.ledger.count((r) => r === 226)} answered 226`;
        }),
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'killed while indexing: every accepted image searchable once, nothing lost, the index holds no duplicates',
    async () => {
      const row = await crash('kill-while-indexing', 'SIGKILL while processed images are being indexed', 9000, (s, product) =>
        killWhen(s, product, 'half of the batch indexed', async () => {
          const indexed = await searchTotal(product, s.account);
          if (indexed < GOOD / 2) return false;
          return `with ${indexed} indexed, ${await product.processedCount(s.ids)} of ${s.uploads.length} processed`;
        }),
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
