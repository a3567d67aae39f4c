import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import type { ImageFailedEvent, ImageProcessedEvent } from '../contracts/events';
import {
  captureInstant,
  documentTerms,
  failedImage,
  failureKey,
  mergeFailed,
  mergeProcessed,
  normalizeKeyword,
  searchTerms,
  upgradeDocument,
  type StoredDocument,
} from '../index-document';
import type { ImageDocument, ImageIndex, ImageQuery, SearchResult, SortField } from '../ports/image-index.port';

const SORT_COLUMNS: Record<SortField, string> = { capturedAt: 'captured_ms', receivedAt: 'received_ms' };

/** The layout of the first release; files made by it are brought forward by MIGRATIONS. */
const BASE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL, captured_ms INTEGER, received_ms INTEGER NOT NULL,
    make TEXT, model TEXT, lat REAL, lon REAL);
  CREATE INDEX IF NOT EXISTS images_by_received ON images (received_ms);
  CREATE INDEX IF NOT EXISTS images_by_captured ON images (captured_ms);
  CREATE TABLE IF NOT EXISTS image_accounts (id TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (account, id));
  CREATE VIRTUAL TABLE IF NOT EXISTS image_terms USING fts5 (terms, id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0');
  CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, failed_at TEXT NOT NULL, event TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS failures_by_time ON failures (failed_at);
`;

/** Applied in order, each in its own transaction; `PRAGMA user_version` counts those applied. */
const MIGRATIONS: string[] = [
  // FTS rows are tied to the image's rowid: an UNINDEXED id made `DELETE ... WHERE id = ?` scan the
  // whole FTS table (348 ms a delete at 100k images). The rowid needs an INTEGER PRIMARY KEY alias,
  // as VACUUM may renumber an implicit one; the terms are copied over, already split.
  `
  CREATE TABLE images_v1 (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, captured_ms INTEGER, received_ms INTEGER NOT NULL,
    make TEXT, model TEXT, lat REAL, lon REAL);
  INSERT INTO images_v1 (id, doc, captured_ms, received_ms, make, model, lat, lon)
    SELECT id, doc, captured_ms, received_ms, make, model, lat, lon FROM images ORDER BY rowid;
  DROP TABLE images;
  ALTER TABLE images_v1 RENAME TO images;
  CREATE INDEX images_by_received ON images (received_ms);
  CREATE INDEX images_by_captured ON images (captured_ms);
  -- Terms are pre-split by searchTerms() so this index and Elasticsearch match the same words.
  CREATE VIRTUAL TABLE image_terms_v1 USING fts5 (terms, tokenize = 'unicode61 remove_diacritics 0');
  INSERT INTO image_terms_v1 (rowid, terms) SELECT images.seq, old.terms FROM image_terms AS old JOIN images ON images.id = old.id;
  DROP TABLE image_terms;
  ALTER TABLE image_terms_v1 RENAME TO image_terms;
  `,
  // Images indexed before failed ones were are all processed.
  `ALTER TABLE images ADD COLUMN status TEXT NOT NULL DEFAULT 'processed';`,
];

/** The embedded search index: documents as JSON rows, filters on columns, words in an FTS5 table. */
export class SqliteImageIndex implements ImageIndex {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(BASE_SCHEMA);
    this.migrate();
  }

  async upsert(event: ImageProcessedEvent): Promise<void> {
    this.write(event.id, (existing) => mergeProcessed(existing, event));
  }

  async upsertFailed(event: ImageFailedEvent): Promise<void> {
    this.write(failedImage(event).id, (existing) => mergeFailed(existing, event));
  }

  async get(id: string): Promise<ImageDocument | null> {
    const row = this.db.prepare('SELECT doc FROM images WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? upgradeDocument(JSON.parse(row.doc) as StoredDocument) : null;
  }

  async search(query: ImageQuery): Promise<SearchResult> {
    const where: string[] = [];
    const params: unknown[] = [];
    const terms = query.text ? searchTerms(query.text) : [];
    if (terms.length > 0) {
      where.push('seq IN (SELECT rowid FROM image_terms WHERE image_terms MATCH ?)');
      params.push(terms.map((t) => `"${t}"`).join(' '));
    }
    if (query.account) {
      where.push('id IN (SELECT id FROM image_accounts WHERE account = ?)');
      params.push(query.account);
    }
    if (query.make) {
      where.push('make = ?');
      params.push(normalizeKeyword(query.make));
    }
    if (query.model) {
      where.push('model = ?');
      params.push(normalizeKeyword(query.model));
    }
    if (query.from) {
      where.push('captured_ms >= ?');
      params.push(query.from.getTime());
    }
    if (query.to) {
      where.push('captured_ms <= ?');
      params.push(query.to.getTime());
    }
    if (query.bbox) {
      const { minLon, minLat, maxLon, maxLat } = query.bbox;
      // A box whose west edge is east of its east edge crosses the antimeridian.
      where.push(minLon <= maxLon ? 'lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?' : 'lat BETWEEN ? AND ? AND (lon >= ? OR lon <= ?)');
      params.push(minLat, maxLat, minLon, maxLon);
    }
    if (query.status) {
      where.push('status = ?');
      params.push(query.status);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const { total } = this.db.prepare(`SELECT COUNT(*) AS total FROM images ${clause}`).get(...params) as { total: number };
    const column = SORT_COLUMNS[query.sort.field];
    const order = query.sort.order === 'asc' ? 'ASC' : 'DESC';
    // Missing values sort last in either direction, and id breaks ties, as on Elasticsearch.
    const rows = this.db
      .prepare(`SELECT doc FROM images ${clause} ORDER BY ${column} IS NULL, ${column} ${order}, id LIMIT ? OFFSET ?`)
      .all(...params, query.size, (query.page - 1) * query.size) as { doc: string }[];
    return { total, items: rows.map((r) => upgradeDocument(JSON.parse(r.doc) as StoredDocument)) };
  }

  async recordFailure(event: ImageFailedEvent): Promise<void> {
    this.db
      .prepare('INSERT OR IGNORE INTO failures (key, failed_at, event) VALUES (?, ?, ?)')
      .run(failureKey(event), event.failedAt, JSON.stringify(event));
  }

  async failures(limit: number): Promise<ImageFailedEvent[]> {
    const rows = this.db
      .prepare('SELECT event FROM failures ORDER BY failed_at DESC, key LIMIT ?')
      .all(limit) as { event: string }[];
    return rows.map((r) => JSON.parse(r.event) as ImageFailedEvent);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Reads, merges and writes one image in a transaction; a merge that changes nothing writes nothing. */
  private write(id: string, merge: (existing: ImageDocument | null) => ImageDocument): void {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT doc FROM images WHERE id = ?').get(id) as { doc: string } | undefined;
      const stored = row ? (JSON.parse(row.doc) as StoredDocument) : null;
      const doc = merge(stored ? upgradeDocument(stored) : null);
      if (isDeepStrictEqual(doc, stored)) return;
      const { seq } = this.db
        .prepare(
          `INSERT INTO images (id, doc, captured_ms, received_ms, make, model, lat, lon, status)
           VALUES (@id, @doc, @captured, @received, @make, @model, @lat, @lon, @status)
           ON CONFLICT (id) DO UPDATE SET doc = @doc, captured_ms = @captured, received_ms = @received,
             make = @make, model = @model, lat = @lat, lon = @lon, status = @status
           RETURNING seq`,
        )
        .get({
          id: doc.id,
          doc: JSON.stringify(doc),
          captured: captureInstant(doc.capturedAt),
          received: Date.parse(doc.receivedAt),
          make: normalizeKeyword(doc.camera.make),
          model: normalizeKeyword(doc.camera.model),
          lat: doc.gps?.lat ?? null,
          lon: doc.gps?.lon ?? null,
          status: doc.status,
        }) as { seq: number };
      const addAccount = this.db.prepare('INSERT OR IGNORE INTO image_accounts (id, account) VALUES (?, ?)');
      for (const source of doc.sources) addAccount.run(doc.id, source.account);
      this.db.prepare('DELETE FROM image_terms WHERE rowid = ?').run(seq);
      this.db.prepare('INSERT INTO image_terms (rowid, terms) VALUES (?, ?)').run(seq, documentTerms(doc).join(' '));
    })();
  }

  private migrate(): void {
    const version = () => this.db.pragma('user_version', { simple: true }) as number;
    MIGRATIONS.forEach((sql, i) => {
      if (version() > i) return;
      // IMMEDIATE takes the write lock before re-reading the version: another process may have migrated.
      this.db.transaction(() => {
        if (version() > i) return;
        this.db.exec(sql);
        this.db.pragma(`user_version = ${i + 1}`);
      }).immediate();
    });
  }
}
