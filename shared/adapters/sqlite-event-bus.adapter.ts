import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { Logger } from '../logging';
import { IngestError, errorMessage } from '../errors';
import type { BusMessage, DeliveryContext, EventBus, PartitionLag, SubscribeOptions, Subscription } from '../ports/event-bus.port';
import { deliverUntilHandled } from './redelivery';

export interface SqliteEventBusOptions {
  file: string;
  logger: Logger;
  /** How often consumers look for messages appended by other processes (the CLI backfill). */
  pollIntervalMs?: number;
  retentionHours?: number;
}

interface Row {
  offset: number;
  key: string;
  value: string;
  headers: string | null;
}

/** Compiled once: consumers run these on every poll and every commit. */
function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare('INSERT INTO messages (topic, key, value, published_at, headers) VALUES (?, ?, ?, ?, ?)'),
    fetch: db.prepare('SELECT "offset", key, value, headers FROM messages WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?'),
    // Offsets are one sequence over all topics, so a topic's lag is a count, not a difference.
    topicLag: db.prepare(
      `SELECT (SELECT next_offset FROM consumer_offsets WHERE grp = @grp AND topic = @topic) AS committed,
              (SELECT MAX("offset") FROM messages WHERE topic = @topic) AS last,
              (SELECT COUNT(*) FROM messages WHERE topic = @topic AND "offset" >= COALESCE(
                 (SELECT next_offset FROM consumer_offsets WHERE grp = @grp AND topic = @topic), 0)) AS lag`,
    ),
    committed: db.prepare('SELECT next_offset AS n FROM consumer_offsets WHERE grp = ? AND topic = ?'),
    lastOffset: db.prepare('SELECT MAX("offset") AS m FROM messages'),
    commit: db.prepare(
      `INSERT INTO consumer_offsets (grp, topic, next_offset) VALUES (?, ?, ?)
       ON CONFLICT (grp, topic) DO UPDATE SET next_offset = excluded.next_offset`,
    ),
    prune: db.prepare(
      `DELETE FROM messages WHERE published_at < ? AND "offset" < COALESCE(
         (SELECT MIN(next_offset) FROM consumer_offsets c WHERE c.topic = messages.topic), 0)`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * A durable local log with Kafka's consumer semantics: one partition per topic, offsets per
 * consumer group committed after the handler succeeds, redelivery of what was not committed.
 */
export class SqliteEventBus implements EventBus {
  private readonly db: Database.Database;
  private readonly statements: Statements;
  private readonly published = new EventEmitter();
  private readonly subscriptions = new Set<Subscription>();
  private readonly active = new Set<string>();
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger;

  constructor(private readonly options: SqliteEventBusOptions) {
    mkdirSync(path.dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a publish that returned survives a power cut, which the 226 reply promises.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, published_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, "offset");
      CREATE TABLE IF NOT EXISTS consumer_offsets (
        grp TEXT NOT NULL, topic TEXT NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic));
    `);
    // Logs written before messages had headers gain the column; their messages read as headerless.
    const columns = this.db.prepare('PRAGMA table_info(messages)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'headers')) this.db.exec('ALTER TABLE messages ADD COLUMN headers TEXT');
    this.statements = prepareStatements(this.db);
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.logger = options.logger.child({ component: 'sqlite-event-bus' });
    this.published.setMaxListeners(0);
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), 3_600_000).unref();
  }

  async publish(topic: string, key: string, value: object, headers?: Record<string, string>): Promise<void> {
    const stored = headers && Object.keys(headers).length > 0 ? JSON.stringify(headers) : null;
    this.statements.insert.run(topic, key, JSON.stringify(value), Date.now(), stored);
    this.published.emit(topic);
  }

  async subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription> {
    const consumers = options.topics.map((topic) => {
      const id = `${options.group}\u0000${topic}`;
      if (this.active.has(id)) throw new Error(`group ${options.group} already consumes ${topic} here`);
      this.active.add(id);
      const consumer = new TopicConsumer<T>(this.statements, topic, options, this.published, this.pollIntervalMs, this.logger);
      consumer.start();
      return { id, consumer };
    });
    const subscription: Subscription = {
      stop: async () => {
        await Promise.all(consumers.map((c) => c.consumer.stop()));
        consumers.forEach((c) => this.active.delete(c.id));
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    try {
      this.statements.lastOffset.get();
    } catch (error) {
      throw new IngestError('BUS_UNAVAILABLE', `embedded log ${this.options.file} does not answer: ${errorMessage(error)}`, { retriable: true, cause: error });
    }
  }

  /** One partition per topic; a topic with neither messages nor a commit of the group has none. */
  async lag(group: string, topics: string[]): Promise<PartitionLag[]> {
    const rows: PartitionLag[] = [];
    for (const topic of topics) {
      const row = this.statements.topicLag.get({ grp: group, topic }) as { committed: number | null; last: number | null; lag: number };
      if (row.committed === null && row.last === null) continue;
      const end = row.last === null ? row.committed! : Math.max(row.last + 1, row.committed ?? 0);
      rows.push({ topic, partition: 0, committed: row.committed === null ? null : String(row.committed), end: String(end), lag: row.lag });
    }
    return rows;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    clearInterval(this.pruneTimer);
    this.db.close();
  }

  /** Drops old messages that every consumer group has already committed. */
  private prune(): void {
    const cutoff = Date.now() - (this.options.retentionHours ?? 168) * 3_600_000;
    const { changes } = this.statements.prune.run(cutoff);
    if (changes > 0) this.logger.info({ pruned: changes }, 'pruned old messages');
  }
}

class TopicConsumer<T> {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly busyKeys = new Set<string>();
  /** Started offsets in order; the commit point advances over the done prefix. */
  private readonly started: { offset: number; done: boolean }[] = [];
  private readonly abort = new AbortController();
  private wake: () => void = () => undefined;

  constructor(
    private readonly statements: Statements,
    private readonly topic: string,
    private readonly options: SubscribeOptions<T>,
    private readonly published: EventEmitter,
    private readonly pollIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.supervise();
  }

  /** A failing poll (a locked or damaged database) must not leave a live process that consumes nothing. */
  private async supervise(): Promise<void> {
    for (let failures = 0; this.running; ) {
      try {
        await this.run();
        return;
      } catch (error) {
        failures++;
        this.logger.error({ group: this.options.group, topic: this.topic, failures, err: errorMessage(error) }, 'consumer crashed; restarting it');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wake();
    await this.loop;
  }

  private committedOffset(): number {
    const row = this.statements.committed.get(this.options.group, this.topic) as { n: number } | undefined;
    if (row) return row.n;
    const start =
      this.options.fromBeginning === false
        ? ((this.statements.lastOffset.get() as { m: number | null }).m ?? 0) + 1
        : 0;
    this.commit(start);
    return start;
  }

  private commit(nextOffset: number): void {
    this.statements.commit.run(this.options.group, this.topic, nextOffset);
  }

  private async run(): Promise<void> {
    // Restarted after a crash: what was started but not committed is fetched again from the commit point.
    this.started.length = 0;
    const concurrency = this.options.concurrency ?? 1;
    let cursor = this.committedOffset();
    const onPublish = () => this.wake();
    this.published.on(this.topic, onPublish);
    try {
      while (this.running) {
        let blocked = false;
        if (this.inFlight.size < concurrency) {
          const rows = this.statements.fetch.all(this.topic, cursor, concurrency) as Row[];
          for (const row of rows) {
            // A later message of a busy key must wait: per-key order is part of the contract.
            if (this.inFlight.size >= concurrency || this.busyKeys.has(row.key)) {
              blocked = true;
              break;
            }
            this.dispatch(row);
            cursor = row.offset + 1;
          }
          if (rows.length === concurrency && !blocked) continue;
        }
        const signal = new Promise<void>((resolve) => (this.wake = resolve));
        const waits: Promise<unknown>[] = [signal, ...this.inFlight.values()];
        if (this.inFlight.size < concurrency && !blocked) waits.push(sleep(this.pollIntervalMs));
        await Promise.race(waits);
      }
    } finally {
      this.published.off(this.topic, onPublish);
      await Promise.allSettled(this.inFlight.values());
    }
  }

  private dispatch(row: Row): void {
    const entry = { offset: row.offset, done: false };
    this.started.push(entry);
    this.busyKeys.add(row.key);
    const task = this.deliver(row).then((delivered) => {
      this.inFlight.delete(row.offset);
      this.busyKeys.delete(row.key);
      if (!delivered) return;
      entry.done = true;
      let next: number | null = null;
      while (this.started.length > 0 && this.started[0].done) next = this.started.shift()!.offset + 1;
      if (next !== null) this.commit(next);
    });
    this.inFlight.set(row.offset, task);
  }

  /** False: the consumer stopped before the handler succeeded, so the message stays uncommitted. */
  private deliver(row: Row): Promise<boolean> {
    const message: BusMessage<T> = {
      topic: this.topic,
      partition: 0,
      offset: String(row.offset),
      key: row.key,
      value: JSON.parse(row.value) as T,
      headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
    };
    // One process holds the whole topic: there is no group to keep alive, so a heartbeat is a no-op.
    const context: DeliveryContext = { signal: this.abort.signal, heartbeat: async () => undefined };
    return deliverUntilHandled(message, this.options, context, this.logger);
  }
}
