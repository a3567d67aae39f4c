import pino, { type Logger } from 'pino';

export type { Logger };

/** The root logger; components take `logger.child({ component })` so every line says who wrote it. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } });
}
