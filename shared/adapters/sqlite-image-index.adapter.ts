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
import { TOTAL_HITS_CAP, type ImageDocument, type ImageIndex, type ImageQuery, type SearchResult, type SortField } from '../ports/image-index.port';

/**
 * The indexed column each order walks. Images without the value come last in either direction:
 * SQLite orders NULL first, so a descending walk of `captured_ms` already ends with them and the
 * ascending one walks `captured_last`, where they are the largest integer.
 */
const SORT_COLUMNS: Record<SortField, Record<'asc' | 'desc', string>> = {
  capturedAt: { asc: 'captured_last', desc: 'captured_ms' },
  receivedAt: { asc: 'received_ms', desc: 'received_ms' },
};

/** A piece of SQL and the values of its placeholders. */
interface Sql {
  sql: string;
  params: unknown[];
}

/**
 * One search condition in its two forms. `join`/`where` let the query start from the condition's
 * own index (the FTS table, the R*Tree, the account table, an indexed column): cheap when few images
 * match. `probe` tests one image met while walking a sort index: cheap when many match, as the walk
 * stops once the page is full.
 */
interface Condition {
  join?: Sql;
  where?: Sql;
  probe: Sql;
}

const sql = (text: string, ...params: unknown[]): Sql => ({ sql: text, params });

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
  // At a million images: documents move to their own table, so that reading a filter or sort column
  // no longer walks the overflow pages of a 3 KB document; indexes every search order can walk,
  // alone and after a make (`ORDER BY col IS NULL, col` sorted the archive for every page); an
  // R*Tree for boxes. seq values are kept, so FTS rows stay tied to their images.
  `
  CREATE TABLE images_v3 (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, captured_ms INTEGER, received_ms INTEGER NOT NULL,
    make TEXT, model TEXT, lat REAL, lon REAL, status TEXT NOT NULL,
    captured_last INTEGER GENERATED ALWAYS AS (coalesce(captured_ms, 9007199254740991)) VIRTUAL);
  CREATE TABLE image_docs (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL);
  INSERT INTO images_v3 (seq, id, captured_ms, received_ms, make, model, lat, lon, status)
    SELECT seq, id, captured_ms, received_ms, make, model, lat, lon, status FROM images;
  INSERT INTO image_docs (seq, doc) SELECT seq, doc FROM images;
  DROP TABLE images;
  ALTER TABLE images_v3 RENAME TO images;
  CREATE INDEX images_by_received ON images (received_ms);
  CREATE INDEX images_by_captured ON images (captured_ms);
  CREATE INDEX images_by_captured_last ON images (captured_last);
  CREATE INDEX images_by_make_received ON images (make, received_ms);
  CREATE INDEX images_by_make_captured ON images (make, captured_ms);
  CREATE INDEX images_by_make_captured_last ON images (make, captured_last);
  -- R*Tree boxes are 32-bit floats rounded outwards: a candidate list, checked against lat/lon.
  CREATE VIRTUAL TABLE image_places USING rtree (seq, min_lat, max_lat, min_lon, max_lon);
  INSERT INTO image_places SELECT seq, lat, lat, lon, lon FROM images WHERE lat IS NOT NULL AND lon IS NOT NULL;
  `,
];

/** The embedded search index: filter and sort columns in a narrow table, documents as JSON beside it, words in FTS5, places in an R*Tree. */
export class SqliteImageIndex implements ImageIndex {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    // The default 2 MB cache re-reads index pages on every write once the indexes outgrow it.
    this.db.pragma('cache_size = -65536');
    this.db.exec(BASE_SCHEMA);
    this.migrate();
    this.statements = {
      docById: this.db.prepare('SELECT doc FROM images JOIN image_docs USING (seq) WHERE id = ?'),
      docBySeq: this.db.prepare('SELECT doc FROM image_docs WHERE seq = ?'),
      upsert: this.db.prepare(
        `INSERT INTO images (id, captured_ms, received_ms, make, model, lat, lon, status)
         VALUES (@id, @captured, @received, @make, @model, @lat, @lon, @status)
         ON CONFLICT (id) DO UPDATE SET captured_ms = @captured, received_ms = @received,
           make = @make, model = @model, lat = @lat, lon = @lon, status = @status
         RETURNING seq`,
      ),
      putDoc: this.db.prepare('INSERT OR REPLACE INTO image_docs (seq, doc) VALUES (?, ?)'),
      addAccount: this.db.prepare('INSERT OR IGNORE INTO image_accounts (id, account) VALUES (?, ?)'),
      deleteTerms: this.db.prepare('DELETE FROM image_terms WHERE rowid = ?'),
      insertTerms: this.db.prepare('INSERT INTO image_terms (rowid, terms) VALUES (?, ?)'),
      putPlace: this.db.prepare('INSERT OR REPLACE INTO image_places (seq, min_lat, max_lat, min_lon, max_lon) VALUES (?, ?, ?, ?, ?)'),
      deletePlace: this.db.prepare('DELETE FROM image_places WHERE seq = ?'),
    };
  }

  async upsert(event: ImageProcessedEvent): Promise<void> {
    this.write(event.id, (existing) => mergeProcessed(existing, event));
  }

  async upsertFailed(event: ImageFailedEvent): Promise<void> {
    this.write(failedImage(event).id, (existing) => mergeFailed(existing, event));
  }

  /** Bulk loads (the search bench): the events in one transaction, instead of one each. */
  upsertMany(events: ImageProcessedEvent[]): void {
    this.db.transaction(() => events.forEach((event) => this.write(event.id, (existing) => mergeProcessed(existing, event))))();
  }

  async get(id: string): Promise<ImageDocument | null> {
    const row = this.statements.docById.get(id) as { doc: string } | undefined;
    return row ? upgradeDocument(JSON.parse(row.doc) as StoredDocument) : null;
  }

  /**
   * Counts matches up to TOTAL_HITS_CAP + 1 from the most selective index. When at most the cap
   * match, they are sorted whole (at most the cap's worth of rowids); when more match, the sort
   * index is walked and each image probed, which stops once the page is full.
   */
  async search(query: ImageQuery): Promise<SearchResult> {
    const conditions = this.conditions(query);
    const joins = conditions.flatMap((c) => (c.join ? [c.join] : []));
    const wheres = conditions.flatMap((c) => (c.where ? [c.where] : []));
    const probes = conditions.map((c) => c.probe);
    const where = (parts: Sql[]) => (parts.length > 0 ? `WHERE ${parts.map((p) => p.sql).join(' AND ')}` : '');
    const from = `FROM images ${joins.map((j) => j.sql).join(' ')} ${where(wheres)}`;
    const drivenParams = [...joins, ...wheres].flatMap((p) => p.params);
    const { n } = this.db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 ${from} LIMIT ?)`).get(...drivenParams, TOTAL_HITS_CAP + 1) as { n: number };

    const column = SORT_COLUMNS[query.sort.field][query.sort.order];
    const order = query.sort.order === 'asc' ? 'ASC' : 'DESC';
    const page = [query.size, (query.page - 1) * query.size];
    // id breaks ties, as on Elasticsearch. `+` keeps SQLite from walking the sort index over few matches.
    const seqs = (
      n <= TOTAL_HITS_CAP
        ? this.db.prepare(`SELECT images.seq ${from} ORDER BY +images.${column} ${order}, images.id LIMIT ? OFFSET ?`).all(...drivenParams, ...page)
        : this.db
            .prepare(`SELECT seq FROM images ${where(probes)} ORDER BY ${column} ${order}, id LIMIT ? OFFSET ?`)
            .all(...probes.flatMap((p) => p.params), ...page)
    ) as { seq: number }[];
    const items = seqs.map(({ seq }) => {
      const { doc } = this.statements.docBySeq.get(seq) as { doc: string };
      return upgradeDocument(JSON.parse(doc) as StoredDocument);
    });
    return n > TOTAL_HITS_CAP ? { total: TOTAL_HITS_CAP, totalRelation: 'gte', items } : { total: n, totalRelation: 'eq', items };
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

  /** Each filter of the query in its two forms. */
  private conditions(query: ImageQuery): Condition[] {
    const conditions: Condition[] = [];
    const column = (text: string, ...params: unknown[]): Condition => ({ where: sql(text, ...params), probe: sql(text, ...params) });
    const terms = query.text ? searchTerms(query.text) : [];
    if (terms.length > 0) {
      const match = terms.map((t) => `"${t}"`).join(' ');
      conditions.push({
        join: sql('JOIN image_terms ON image_terms.rowid = images.seq AND image_terms MATCH ?', match),
        probe: sql('EXISTS (SELECT 1 FROM image_terms WHERE image_terms MATCH ? AND rowid = images.seq)', match),
      });
    }
    if (query.account) {
      conditions.push({
        join: sql('JOIN image_accounts ON image_accounts.id = images.id AND image_accounts.account = ?', query.account),
        probe: sql('EXISTS (SELECT 1 FROM image_accounts WHERE account = ? AND id = images.id)', query.account),
      });
    }
    if (query.make) conditions.push(column('images.make = ?', normalizeKeyword(query.make)));
    if (query.model) conditions.push(column('images.model = ?', normalizeKeyword(query.model)));
    if (query.from) conditions.push(column('images.captured_ms >= ?', query.from.getTime()));
    if (query.to) conditions.push(column('images.captured_ms <= ?', query.to.getTime()));
    if (query.bbox) {
      const { minLon, minLat, maxLon, maxLat } = query.bbox;
      // A box whose west edge is east of its east edge crosses the antimeridian: two boxes.
      const crosses = minLon > maxLon;
      const box = 'SELECT seq FROM image_places WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ?';
      const exact = crosses
        ? sql('images.lat BETWEEN ? AND ? AND (images.lon >= ? OR images.lon <= ?)', minLat, maxLat, minLon, maxLon)
        : sql('images.lat BETWEEN ? AND ? AND images.lon BETWEEN ? AND ?', minLat, maxLat, minLon, maxLon);
      conditions.push({
        join: crosses
          ? sql(`JOIN (${box} UNION ALL ${box}) AS places ON places.seq = images.seq`, minLat, maxLat, minLon, 180, minLat, maxLat, -180, maxLon)
          : sql(`JOIN (${box}) AS places ON places.seq = images.seq`, minLat, maxLat, minLon, maxLon),
        // R*Tree boxes are 32-bit floats rounded outwards: its matches are candidates.
        where: exact,
        probe: exact,
      });
    }
    if (query.status) conditions.push(column('images.status = ?', query.status));
    return conditions;
  }

  /** Reads, merges and writes one image in a transaction; a merge that changes nothing writes nothing. */
  private write(id: string, merge: (existing: ImageDocument | null) => ImageDocument): void {
    this.db.transaction(() => {
      const { statements } = this;
      const row = statements.docById.get(id) as { doc: string } | undefined;
      const stored = row ? (JSON.parse(row.doc) as StoredDocument) : null;
      const doc = merge(stored ? upgradeDocument(stored) : null);
      if (isDeepStrictEqual(doc, stored)) return;
      const lat = doc.gps?.lat ?? null;
      const lon = doc.gps?.lon ?? null;
      const { seq } = statements.upsert.get({
        id: doc.id,
        captured: captureInstant(doc.capturedAt),
        received: Date.parse(doc.receivedAt),
        make: normalizeKeyword(doc.camera.make),
        model: normalizeKeyword(doc.camera.model),
        lat,
        lon,
        status: doc.status,
      }) as { seq: number };
      statements.putDoc.run(seq, JSON.stringify(doc));
      for (const source of doc.sources) statements.addAccount.run(doc.id, source.account);
      statements.deleteTerms.run(seq);
      statements.insertTerms.run(seq, documentTerms(doc).join(' '));
      if (lat === null || lon === null) statements.deletePlace.run(seq);
      else statements.putPlace.run(seq, lat, lat, lon, lon);
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
