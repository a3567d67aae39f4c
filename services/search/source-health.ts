/**
 * Quiet cameras: which accounts (and camera serials) have gone silent for longer than their expected
 * cadence. The report's shape is the `/api/sources/health` answer.
 */

export interface SourceHealthEntry {
  account: string;
  /** The camera's serial number when the images carry one; null for the account as a whole. */
  serial: string | null;
  /** The last image received from it, ISO 8601; null when it never sent one. */
  lastSeenAt: string | null;
  /** How often it is expected to send at most, in ms: configured, or learned from its history. */
  expectedEveryMs: number | null;
  cadence: 'configured' | 'learned' | 'unknown';
  /** Silent for longer than expected. */
  quiet: boolean;
  /** Time since lastSeenAt, ms; null when never seen. */
  silentForMs: number | null;
  /** Images received since 00:00 UTC today. */
  imagesToday: number;
  /** Median of receive time minus capture instant over its recent images, ms; null without capture times. */
  clockDriftMs: number | null;
}

export interface SourceHealthReport {
  checkedAt: string;
  items: SourceHealthEntry[];
}

export interface SourceHealthReporter {
  report(): Promise<SourceHealthReport>;
}
