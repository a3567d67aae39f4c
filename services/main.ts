import { loadConfig } from '../shared/config/config.loader';
import { errorMessage } from '../shared/errors';
import { createLogger } from '../shared/logging';
import { startApp } from './app';

/** `npm start`: every configured service in this process; SIGTERM/SIGINT shut down in order. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  const app = await startApp(config, logger);
  logger.info(
    { services: config.services, adapters: config.adapters, ftp: `${config.ftp.host}:${app.ftpPort}`, http: app.httpPort && `http://${config.http.host}:${app.httpPort}/`, dataDir: config.dataDir },
    'image ingest started',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: errorMessage(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`start-up failed: ${errorMessage(error)}\n`);
  process.exit(1);
});
