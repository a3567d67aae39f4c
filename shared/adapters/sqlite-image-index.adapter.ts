import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ImageFailedEvent, ImageProcessedEvent } from '../contracts/events';
import { captureInstant, documentTerms, failureKey, mergeDocument, normalizeKeyword, searchTerms } from '../index-document';
import type { ImageDocument, ImageIndex, ImageQuery, SearchResult, SortField } from '../ports/image-index.port';

const SORT_COLUMNS: Record<SortField, string> = { capturedAt: 'captured_ms', receivedAt: 'received_ms' };

/** The embedded search index: documents as JSON rows, filters on columns, words in an FTS5 table. */
export class SqliteImageIndex implements ImageIndex {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY, doc TEXT NOT NULL, captured_ms INTEGER, received_ms INTEGER NOT NULL,
        make TEXT, model TEXT, lat REAL, lon REAL);
      CREATE INDEX IF NOT EXISTS images_by_received ON images (received_ms);
      CREATE INDEX IF NOT EXISTS images_by_captured ON images (captured_ms);
      CREATE TABLE IF NOT EXISTS image_accounts (id TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (account, id));
      -- Terms are pre-split by searchTerms() so this index and Elasticsearch match the same words.
      CREATE VIRTUAL TABLE IF NOT EXISTS image_terms USING fts5 (terms, id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0');
      CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, failed_at TEXT NOT NULL, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS failures_by_time ON failures (failed_at);
    `);
  }

  async upsert(event: ImageProcessedEvent): Promise<void> {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT doc FROM images WHERE id = ?').get(event.id) as { doc: string } | undefined;
      const doc = mergeDocument(row ? (JSON.parse(row.doc) as ImageDocument) : null, event);
      this.db
        .prepare(
          `INSERT INTO images (id, doc, captured_ms, received_ms, make, model, lat, lon)
           VALUES (@id, @doc, @captured, @received, @make, @model, @lat, @lon)
           ON CONFLICT (id) DO UPDATE SET doc = @doc, captured_ms = @captured, received_ms = @received,
             make = @make, model = @model, lat = @lat, lon = @lon`,
        )
        .run({
          id: doc.id,
          doc: JSON.stringify(doc),
          captured: captureInstant(doc.capturedAt),
          received: Date.parse(doc.receivedAt),
          make: normalizeKeyword(doc.camera.make),
          model: normalizeKeyword(doc.camera.model),
          lat: doc.gps?.lat ?? null,
          lon: doc.gps?.lon ?? null,
        });
      const addAccount = this.db.prepare('INSERT OR IGNORE INTO image_accounts (id, account) VALUES (?, ?)');
      for (const source of doc.sources) addAccount.run(doc.id, source.account);
      this.db.prepare('DELETE FROM image_terms WHERE id = ?').run(doc.id);
      this.db.prepare('INSERT INTO image_terms (terms, id) VALUES (?, ?)').run(documentTerms(doc).join(' '), doc.id);
    })();
  }

  async get(id: string): Promise<ImageDocument | null> {
    const row = this.db.prepare('SELECT doc FROM images WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as ImageDocument) : null;
  }

  async search(query: ImageQuery): Promise<SearchResult> {
    const where: string[] = [];
    const params: unknown[] = [];
    const terms = query.text ? searchTerms(query.text) : [];
    if (terms.length > 0) {
      where.push('id IN (SELECT id FROM image_terms WHERE image_terms MATCH ?)');
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
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const { total } = this.db.prepare(`SELECT COUNT(*) AS total FROM images ${clause}`).get(...params) as { total: number };
    const column = SORT_COLUMNS[query.sort.field];
    const order = query.sort.order === 'asc' ? 'ASC' : 'DESC';
    // Missing values sort last in either direction, and id breaks ties, as on Elasticsearch.
    const rows = this.db
      .prepare(`SELECT doc FROM images ${clause} ORDER BY ${column} IS NULL, ${column} ${order}, id LIMIT ? OFFSET ?`)
      .all(...params, query.size, (query.page - 1) * query.size) as { doc: string }[];
    return { total, items: rows.map((r) => JSON.parse(r.doc) as ImageDocument) };
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
}
