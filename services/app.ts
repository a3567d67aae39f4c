import path from 'node:path';
import { AccountDirectory } from '../shared/accounts';
import { ApiKeyDirectory } from '../shared/api-keys';
import { createAdapters, type Adapters } from '../shared/adapters/adapters.factory';
import type { Config } from '../shared/config/config.schema';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logging';
import { countedIndex, countedStore, watchLag, watchReadiness, watchSpool } from '../shared/metrics';
import { ConsumerRunner } from '../shared/consumer/consumer.runner';
import type { Subscription } from '../shared/ports/event-bus.port';
import { DropFolderWatcher } from './ingest/drop-folder.watcher';
import { FtpDefender } from './ingest/ftp-defender';
import { FtpIngestServer } from './ingest/ftp.server';
import { IngestService } from './ingest/ingest.service';
import { recoverOrphanUploads } from './ingest/orphan-uploads';
import { Spool } from './ingest/spool';
import { IndexerService } from './indexer/indexer.service';
import { ProcessorService } from './processor/processor.service';
import { ReplicatorService } from './replicator/replicator.service';
import { OpsEndpoints, OpsHttpServer, type ReadinessPart } from './ops.http';
import { Eraser } from './privacy/eraser';
import { RetentionSweep } from './privacy/retention.sweep';
import { SearchHttpServer } from './search/search.http';
import { UrlSigner, loadUrlSecret } from './search/signed-urls';
import { SourceHealth } from './search/source-health';
import { StoreHealth } from './search/store-health';

export interface App {
  adapters: Adapters;
  /** Bound ports (useful when the config asked for 0). */
  ftpPort: number | null;
  httpPort: number | null;
  /** The ops port (/metrics, /readyz), when `ops.port` asks for one. */
  opsPort: number | null;
  /** Re-reads the FTPS certificate and key (SIGHUP); false when FTP is not served here or they did not load. */
  reloadTls(): boolean;
  stop(): Promise<void>;
}

/** After the FTP sessions are closed, how long shutdown waits for hand-overs to ingest (an RNTO) that were still running. */
const HANDOVER_DRAIN_MS = 30_000;

/** Starts the services the configuration names, wired to the configured adapters. */
export async function startApp(config: Readonly<Config>, logger: Logger): Promise<App> {
  const adapters = createAdapters(config, logger);
  const accounts = new AccountDirectory(config, adapters.store, { refreshMs: config.accountSync.refreshMs, logger });
  const runner = new ConsumerRunner({ bus: adapters.bus, failedTopic: config.bus.topics.failed, retry: config.consumers.retry, logger });
  // Services see the store and index through counters of their failures (image_ingest_*_errors_total).
  const deps = { config, accounts, runner, logger, ...adapters, store: countedStore(adapters.store), index: countedIndex(adapters.index) };
  // The one path by which an image is erased: the API's DELETE and the retention sweep.
  const eraser = new Eraser(deps);
  const closers: (() => Promise<void>)[] = [];
  const subscriptions: Subscription[] = [];
  let ftpPort: number | null = null;
  let httpPort: number | null = null;
  let opsPort: number | null = null;
  let reloadTls = () => false;
  const runs = (service: Config['services'][number]) => config.services.includes(service);
  // With no replica store there is nothing to copy: the service is listed by default.
  const replicates = runs('replicator') && adapters.stores.some((s) => s.role === 'replica');
  const { topics, groups } = config.bus;
  // The lag of the consumer groups this process is a member of, read from the bus on scrape.
  const consumers = [
    ...(runs('processor') ? [{ group: groups.processor, topics: [topics.ingested] }] : []),
    ...(runs('indexer') ? [{ group: groups.indexer, topics: [topics.processed] }, { group: groups.failures, topics: [topics.failed] }] : []),
    ...(runs('indexer') ? [{ group: groups.replicas, topics: [topics.replicated] }] : []),
    ...(replicates ? [{ group: groups.replicator, topics: [topics.processed] }] : []),
  ];
  const unwatchLag = watchLag(adapters.bus, consumers);
  closers.push(async () => unwatchLag());
  // Ready when what this process uses answers: every service publishes or consumes and reads the store; indexer and search need the index.
  // Search reads whichever copy answers: it watches every store and, on its own, is ready while one of them is up. Writers need the primary.
  const storeHealth = runs('search') ? new StoreHealth({ ...config.storeHealth, stores: adapters.stores, logger }) : null;
  const readsOnly = storeHealth && config.services.every((s) => s === 'search');
  const checks: Partial<Record<ReadinessPart, () => Promise<void>>> = {
    bus: () => adapters.bus.ping(),
    store: readsOnly ? () => storeHealth.anyReadable() : () => adapters.store.ping(),
  };
  if (runs('indexer') || runs('search')) checks.index = () => adapters.index.ping();
  const ops = new OpsEndpoints({ checks, timeoutMs: config.ops.readyTimeoutMs, logger });
  const unwatchReadiness = watchReadiness(async () => (await ops.readiness()).checks);
  closers.push(async () => unwatchReadiness());

  try {
    await accounts.start();
    closers.push(() => accounts.stop());
    if (config.ops.port !== null) {
      const server = new OpsHttpServer(ops, { host: config.ops.host, port: config.ops.port });
      opsPort = (await server.listen()).port;
      closers.push(() => server.close());
    }
    if (config.services.includes('ingest')) {
      const spool = new Spool(path.join(config.dataDir, 'spool'), { leaseMs: config.spool.leaseMs });
      const unwatchSpool = watchSpool(spool);
      closers.push(async () => unwatchSpool());
      const ingest = new IngestService({ ...deps, spool });
      const defender = new FtpDefender(config.ftp, { accounts, logger });
      closers.push(() => defender.close());
      const ftp = new FtpIngestServer({ ...deps, ingest, gate: defender });
      await ftp.listen();
      ftpPort = ftp.port;
      reloadTls = () => ftp.reloadTls();
      // After listen: a full spool during an outage must not keep the FTP port closed. A broken
      // entry costs a log line, not the process (an unhandled rejection would end it).
      const redrive = () => {
        ingest
          .recover()
          .then((recovered) => recovered > 0 && logger.info({ recovered }, 'spool re-driven'))
          .catch((error: unknown) => logger.error({ err: errorMessage(error) }, 'spool re-drive failed'));
      };
      redrive();
      recoverOrphanUploads({ ...deps, ingest }).catch((error: unknown) => logger.error({ err: errorMessage(error) }, 'orphaned uploads not recovered'));
      const redriveTimer = setInterval(redrive, config.spool.redriveIntervalMs);
      const drops = new DropFolderWatcher({ ...deps, ingest });
      await drops.start();
      closers.push(async () => {
        clearInterval(redriveTimer);
        await drops.stop();
        // New connections and transfers are refused; running transfers get drainMs, then 421.
        await ftp.shutdown(config.ftp.limits.drainMs);
        if (!(await ingest.drain(HANDOVER_DRAIN_MS))) logger.warn('uploads still in flight at shutdown; their spool files re-drive at next start');
      });
    }
    if (config.services.includes('processor')) subscriptions.push(await new ProcessorService(deps).start());
    if (config.services.includes('indexer')) subscriptions.push(...(await new IndexerService(deps).start()));
    // The indexer owns the retention sweep: every deployment runs one, and several sweeping at once do no harm.
    if (runs('indexer')) closers.push(new RetentionSweep({ ...deps, accounts: () => accounts.list(), eraser }).start(config.retention.sweepIntervalMs));
    if (replicates) subscriptions.push(await new ReplicatorService({ ...deps, stores: adapters.stores.map((s) => ({ ...s, store: countedStore(s.store) })) }).start());
    if (config.services.includes('search')) {
      const keys = new ApiKeyDirectory(adapters.store, { refreshMs: config.accountSync.refreshMs, logger });
      await keys.start();
      closers.push(() => keys.stop());
      const signer = new UrlSigner(await loadUrlSecret(adapters.store, process.env, logger), config.http.signedUrlTtlSeconds);
      const sourceHealth = new SourceHealth({ accounts, index: adapters.index, logger });
      storeHealth!.start();
      closers.push(() => storeHealth!.stop());
      const stores = adapters.stores.map((s) => ({ ...s, store: countedStore(s.store) }));
      const http = new SearchHttpServer({ ...deps, keys, signer, sourceHealth, ops, eraser, stores, storeMarks: storeHealth! });
      httpPort = (await http.listen()).port;
      closers.push(() => http.close());
    }
  } catch (error) {
    await Promise.allSettled(closers.reverse().map((c) => c()));
    await Promise.allSettled(subscriptions.map((s) => s.stop()));
    await adapters.close();
    throw error;
  }

  return {
    adapters,
    ftpPort,
    httpPort,
    opsPort,
    reloadTls: () => reloadTls(),
    async stop() {
      // Front doors first, then consumers finish what they hold, then the adapters close.
      for (const close of [...closers].reverse()) await close().catch((error) => logger.error({ err: errorMessage(error) }, 'close failed'));
      await Promise.all(subscriptions.map((s) => s.stop()));
      await adapters.close();
    },
  };
}
