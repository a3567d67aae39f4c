import { loadConfig } from '../shared/config/config.loader';
import { errorMessage } from '../shared/errors';
import { createLogger } from '../shared/logging';
import { startTracing } from '../shared/tracing';
import { startApp } from './app';

/**
 * `npm start`: every configured service in this process. `node dist/services/main.js processor`
 * runs only the named services (as the service:* scripts do). SIGTERM/SIGINT shut down in order.
 */
async function main(): Promise<void> {
  let config;
  const named = process.argv.slice(2);
  try {
    config = loadConfig(named.length > 0 ? { overrides: { services: named } } : {});
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  // Before any service starts, so the first upload's spans are exported too.
  const tracing = startTracing(process.env);
  const app = await startApp(config, logger);
  logger.info(
    {
      services: config.services,
      adapters: config.adapters,
      ftp: `${config.ftp.host}:${app.ftpPort}`,
      http: app.httpPort && `http://${config.http.host}:${app.httpPort}/`,
      ops: app.opsPort && `http://${config.ops.host}:${app.opsPort}/metrics`,
      tracesTo: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null,
      dataDir: config.dataDir,
    },
    'image ingest started',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app
      .stop()
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: errorMessage(error) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Node's default for SIGHUP ends the process; here it means "certificates were renewed".
  process.on('SIGHUP', () => logger.info({ reloaded: app.reloadTls() }, 'SIGHUP: TLS certificate reload'));
}

main().catch((error: unknown) => {
  process.stderr.write(`start-up failed: ${errorMessage(error)}\n`);
  process.exit(1);
});
