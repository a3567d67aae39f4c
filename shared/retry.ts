import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable } from './errors';

export interface RetryOptions {
  /** First delay; each further attempt doubles it up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Give up after this many attempts; Infinity retries until `signal` aborts. */
  maxAttempts: number;
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The wait before try `attempt + 1`: doubling from `initialDelayMs` up to `maxDelayMs`, then a random
 * point in its upper half, so replicas that failed together do not retry together.
 */
export function backoffDelay(attempt: number, initialDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Runs `fn` until it succeeds, retrying only retriable errors with exponential backoff and full
 * jitter (so replicas that failed together do not retry together).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!isRetriable(error) || attempt >= options.maxAttempts || options.signal?.aborted) throw error;
      const delayMs = backoffDelay(attempt, options.initialDelayMs, options.maxDelayMs);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal?.aborted) throw error;
    }
  }
}
