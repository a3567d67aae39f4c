import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import type { ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent } from '../contracts/events';
import { IngestError, errorMessage } from '../errors';
import {
  documentTerms,
  failedImage,
  failureKey,
  mergeFailed,
  mergeProcessed,
  mergeReplicated,
  notYetIndexed,
  normalizeKeyword,
  predatesErasure,
  searchFields,
  searchTerms,
  upgradeDocument,
  type StoredDocument,
} from '../index-document';
import {
  FACET_SAMPLE,
  MISSING_LAST,
  TOTAL_HITS_CAP,
  type BoundingBox,
  type FacetCounts,
  type FacetName,
  type ImageDocument,
  type ImageIndex,
  type ImageQuery,
  type SearchResult,
  type SortField,
  type SortPosition,
} from '../ports/image-index.port';
import { captureHistogram, circleBoxes, dayOf, distanceMeters, nextPosition, topBuckets } from '../search-results';

/**
 * The indexed column each order walks; its values are the sort positions of the port. Images
 * without a capture time come last in either direction: `captured_last` holds MISSING_LAST.asc
 * for them, `captured_last_desc` MISSING_LAST.desc.
 */
const SORT_COLUMNS: Record<Exclude<SortField, 'distance'>, Record<'asc' | 'desc', string>> = {
  capturedAt: { asc: 'images.captured_last', desc: 'images.captured_last_desc' },
  receivedAt: { asc: 'images.received_ms', desc: 'images.received_ms' },
};


/**
 * How far conditions that all have more than the cap are counted to find the smallest. Counting
 * 100,000 rows of an index costs about 5 ms (15 ms in the R*Tree) at 1M images.
 */
const DRIVER_COUNT_LIMIT = 100_000;

/**
 * A box with fewer candidates than this is read into a set to probe images by seq; a larger one is
 * checked on each image's row (at 1M images: 80,000 candidates cost 15 ms to read, 850,000 130 ms).
 */
const BOX_SET_LIMIT = 30_000;

/** The columns image_facets holds as facet_values ids. */
const FACET_VALUE_COLUMNS = ['make', 'model', 'lens', 'status'] as const;

/** The facet_values ids of an images row's make, model, lens and status (`row`: a table or `new`). */
function facetIds(row: string): string {
  return FACET_VALUE_COLUMNS.map((column) => `(SELECT id FROM facet_values WHERE value = ${row}.${column})`).join(', ');
}

/**
 * In a trigger on images: the new row's facet values, added to facet_values where they are new. Not
 * with OR IGNORE: the upsert that fires the trigger imposes its own conflict policy on it.
 */
const FACET_VALUES_OF_NEW = FACET_VALUE_COLUMNS.map(
  (column) => `INSERT INTO facet_values (value) SELECT new.${column} WHERE new.${column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM facet_values WHERE value = new.${column});`,
).join('\n    ');

/** image_blocks holds the newest receive time of each run of 2^SEQ_BLOCK_BITS seqs. */
const SEQ_BLOCK_BITS = 10;

/** In a trigger on images: the new row's receive time, kept in its block's if newer. */
const BLOCK_OF_NEW = `INSERT INTO image_blocks (block, newest) VALUES (new.seq >> ${SEQ_BLOCK_BITS}, new.received_ms)
      ON CONFLICT (block) DO UPDATE SET newest = max(newest, excluded.newest);`;

/** A piece of SQL and the values of its placeholders. */
interface Sql {
  sql: string;
  params: unknown[];
}

/**
 * One search condition. `seqs` reads its images from its own index (the FTS table, the R*Tree, the
 * account table, an indexed column): the outer loop when it has the fewest. `bySeq` tests an image
 * by its seq alone, before its row is read (a set read once from the condition's index, or a
 * primary-key lookup); `byRow` tests the image's row. Either tests an image met another way: from
 * another condition's index, or walking a sort index, which stops once the page is full.
 */
interface Condition {
  seqs?: Sql;
  /** `seqs` are exactly its images; otherwise candidates that `byRow` checks. */
  exact?: boolean;
  bySeq?: (seq: string) => Sql;
  byRow?: Sql;
  /** A box or circle: the seqs of its R*Tree entries, each `sure` 1 (certainly among its matches), -1 (certainly not) or 0 (its row decides). */
  placed?: Sql;
  /** Of an inexact condition: a SELECT of the `seq` of images certainly among its matches. */
  certain?: Sql;
  /** What probing one image costs, relative to reading its row (1 when the probe reads it). */
  walkCost?: number;
  /** What reading one of its images into a set for `bySeq` costs, relative to reading a row from the page cache. */
  setCost?: number;
  /** `byRow` on the image's row of image_facets, which stays in the page cache. */
  byFacets?: Sql;
}

/** make, model, lens, status, has GPS, captured_ms, and the account when it has only one (null: look it up). */
type FacetRow = [make: string | null, model: string | null, lens: string | null, status: string, located: number, captured: number | null, account: string | null];

/**
 * A match as the search reads it: seq, received_ms, id, the value of the query's sort key, then
 * the columns the facets count, read with the rest since the row is read anyway. Read from
 * image_facets, the id is '' unless another match was received at the same instant (withTiedIds).
 */
type Match = [seq: number, received: number, id: string, key: number, ...facets: FacetRow];

const FACET_COLUMNS = 'images.make, images.model, images.lens, images.status, images.lat IS NOT NULL, images.captured_ms, NULL';

/**
 * Where a query's matches come from. Up to the cap they are read whole, in one pass from the
 * smallest condition's index, and sorted here; beyond, a sort index is walked.
 */
type Plan =
  | { n: number; matches: Match[] }
  | {
      n: number;
      walk: (extra: Sql[]) => Sql;
      all: (extra: Sql[]) => Sql;
      /** What probing one walked image costs, relative to reading an image's row. */
      walkCost: number;
      /** The matches' seqs, read without their rows (all of them: n may be past the cap). */
      seqs?: () => number[];
    };

const sql = (text: string, ...params: unknown[]): Sql => ({ sql: text, params });

/**
 * Candidates from the R*Tree for boxes (two when a box crosses the antimeridian). R*Tree boxes are
 * 32-bit floats rounded outwards: its matches are candidates, checked exactly after.
 */
function places(boxes: BoundingBox[], columns: Sql = sql('seq')): Sql {
  const box = `SELECT ${columns.sql} FROM image_places WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ?`;
  return sql(boxes.map(() => box).join(' UNION '), ...boxes.flatMap((b) => [...columns.params, b.minLat, b.maxLat, b.minLon, b.maxLon]));
}

/**
 * More than float32 rounding moves a coordinate (180 × 2^-24 ≈ 1.1e-5 degrees): an R*Tree entry
 * this far inside a box is certainly in it.
 */
const ROUNDING_DEGREES = 2e-5;

/** R*Tree entries certainly inside the boxes, without reading their rows. */
function certainlyIn(boxes: BoundingBox[]): Sql {
  const inside = isCertainlyIn(boxes);
  return sql(boxes.map(() => `SELECT seq FROM image_places WHERE ${inside.sql}`).join(' UNION '), ...boxes.flatMap(() => inside.params));
}

/** Whether an R*Tree entry is certainly inside one of the boxes. */
function isCertainlyIn(boxes: BoundingBox[]): Sql {
  const e = ROUNDING_DEGREES;
  return sql(
    boxes.map(() => '(min_lat >= ? AND max_lat <= ? AND min_lon >= ? AND max_lon <= ?)').join(' OR '),
    ...boxes.flatMap((b) => [b.minLat + e, b.maxLat - e, b.minLon + e, b.maxLon - e]),
  );
}

const where = (probes: Sql[]) => sql(probes.length > 0 ? `WHERE ${probes.map((p) => p.sql).join(' AND ')}` : '', ...probes.flatMap((p) => p.params));

/**
 * A box or circle: candidates from the R*Tree, checked exactly on the row. Probing another
 * condition's images, the candidates are read into a set first, so that only those in it are read.
 * `sureness` tells from an R*Tree entry alone whether it is certainly a match (see `placed`);
 * `certain` selects a box's certain matches, to count them (a circle has none to count: its
 * bounding boxes also hold images outside it).
 */
function spatial(boxes: BoundingBox[], exact: Sql, sureness: Sql, certain?: Sql): Condition {
  const candidates = places(boxes);
  return {
    seqs: candidates,
    placed: places(boxes, sql(`seq, ${sureness.sql} AS sure`, ...sureness.params)),
    ...(certain ? { certain } : {}),
    byRow: exact,
    bySeq: (seq) => sql(`${seq} IN (${candidates.sql})`, ...candidates.params),
    // An R*Tree entry costs about 0.35 µs, a row from the page cache 1 µs.
    setCost: 0.35,
  };
}

/** The tests of a condition for an image whose seq is `seq`, cheapest first. */
function probes(condition: Condition, seq: string, row = byRow): Sql[] {
  return [...(condition.bySeq ? [condition.bySeq(seq)] : []), ...row(condition)];
}

/** A condition's test on the image's row. */
const byRow = (c: Condition): Sql[] => (c.byRow ? [c.byRow] : []);

/** A condition's test on image_facets where it has one, else on the image's row. */
const byFacetsOrRow = (c: Condition): Sql[] => (c.byFacets ? [c.byFacets] : byRow(c));

/** The images of the driver's index, each probed by the other conditions: CROSS JOIN keeps that loop order. */
function driven(driver: Condition, others: Condition[], extra: Sql[]): Sql {
  // `+` keeps SQLite from looking the driver's rows up from the other conditions' seq sets. Tests
  // on image_facets run before the image's row is read, which then happens only for the images
  // that pass them (at 1M images the rows of a combined query's outer loop, few of them in the
  // page cache, cost 75 to 135 ms).
  const own = driver.exact ? [] : byFacetsOrRow(driver);
  const filter = where([...own, ...others.flatMap((c) => probes(c, '+driver.seq', byFacetsOrRow)), ...extra]);
  return sql(
    `FROM (${driver.seqs!.sql}) AS driver CROSS JOIN image_facets ON image_facets.seq = driver.seq CROSS JOIN images ON images.seq = driver.seq ${filter.sql}`,
    ...driver.seqs!.params,
    ...filter.params,
  );
}

/**
 * Matches met while walking a sort index, each probed: cheap when many images match. `+` keeps
 * SQLite from driving from the seq sets instead of walking.
 */
function walked(conditions: Condition[], extra: Sql[]): Sql {
  const filter = where([...conditions.flatMap((c) => probes(c, '+images.seq')), ...extra]);
  return sql(`FROM images ${filter.sql}`, ...filter.params);
}

/** Orders matches by the sort key, then id (in code point order, as SQLite and Elasticsearch compare ids). */
function byKey(order: 'asc' | 'desc'): (a: Match, b: Match) => number {
  const sign = order === 'asc' ? 1 : -1;
  return (a, b) => sign * (a[3] - b[3]) || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

/** The matches after a position, as afterPosition selects them. */
function afterInMemory(order: 'asc' | 'desc', [value, id]: SortPosition): (m: Match) => boolean {
  return order === 'asc' ? (m) => m[3] > value || (m[3] === value && m[2] > id) : (m) => m[3] < value || (m[3] === value && m[2] > id);
}

const newestFirst = (a: Match, b: Match) => b[1] - a[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

/**
 * The images after a position in (key, id) order. The first comparison alone lets SQLite seek in
 * the sort index; the second settles ties.
 */
function afterPosition(key: Sql, order: 'ASC' | 'DESC', [value, id]: SortPosition): Sql {
  const [cmp, strict] = order === 'ASC' ? ['>=', '>'] : ['<=', '<'];
  return sql(`${key.sql} ${cmp} ? AND (${key.sql} ${strict} ? OR images.id > ?)`, ...key.params, value, ...key.params, value, id);
}

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
  // Lens and ISO filters and facets; an order for descending capture times whose values are the
  // port's sort positions (so that a cursor can seek in it), replacing the plain capture index;
  // accounts tied to the image's seq, to probe and count them without the 64-character id.
  `
  ALTER TABLE images ADD COLUMN lens TEXT;
  ALTER TABLE images ADD COLUMN iso INTEGER;
  ALTER TABLE images ADD COLUMN captured_last_desc INTEGER GENERATED ALWAYS AS (coalesce(captured_ms, -9007199254740991)) VIRTUAL;
  UPDATE images SET lens = normalize_keyword(json_extract(d.doc, '$.exposure.lensModel')),
    iso = CAST(round(json_extract(d.doc, '$.exposure.iso')) AS INTEGER)
    FROM image_docs AS d WHERE d.seq = images.seq;
  DROP INDEX images_by_captured;
  DROP INDEX images_by_make_captured;
  -- With the receive time, the newest images of a capture range come from the index alone.
  CREATE INDEX images_by_captured_desc ON images (captured_last_desc, received_ms);
  CREATE INDEX images_by_make_captured_desc ON images (make, captured_last_desc);
  CREATE INDEX images_by_lens_received ON images (lens, received_ms);
  CREATE INDEX images_by_iso ON images (iso);
  CREATE TABLE image_accounts_v4 (account TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (account, seq)) WITHOUT ROWID;
  INSERT INTO image_accounts_v4 (account, seq) SELECT a.account, i.seq FROM image_accounts AS a JOIN images AS i ON i.id = a.id;
  DROP TABLE image_accounts;
  ALTER TABLE image_accounts_v4 RENAME TO image_accounts;
  CREATE INDEX image_accounts_by_image ON image_accounts (seq, account);
  `,
  // SQLite reads the row of every entry of an index on a VIRTUAL generated column, even for columns
  // the index holds (a capture-time range read 45,000 rows, 28 ms at 1M images, to sort by receive
  // time): the capture orders become plain columns the writes fill. Both capture indexes hold the
  // receive time, so that the facets' newest matches of a capture range come from either alone; the
  // lens index holds the ISO, so that a lens and ISO filter is answered from the index alone.
  `
  DROP INDEX images_by_captured_last;
  DROP INDEX images_by_make_captured_last;
  DROP INDEX images_by_captured_desc;
  DROP INDEX images_by_make_captured_desc;
  DROP INDEX images_by_lens_received;
  ALTER TABLE images DROP COLUMN captured_last;
  ALTER TABLE images DROP COLUMN captured_last_desc;
  ALTER TABLE images ADD COLUMN captured_last INTEGER;
  ALTER TABLE images ADD COLUMN captured_last_desc INTEGER;
  UPDATE images SET captured_last = coalesce(captured_ms, ${MISSING_LAST.asc}), captured_last_desc = coalesce(captured_ms, ${MISSING_LAST.desc});
  CREATE INDEX images_by_captured_last ON images (captured_last, received_ms);
  CREATE INDEX images_by_make_captured_last ON images (make, captured_last);
  CREATE INDEX images_by_captured_desc ON images (captured_last_desc, received_ms);
  CREATE INDEX images_by_make_captured_desc ON images (make, captured_last_desc);
  CREATE INDEX images_by_lens_received ON images (lens, received_ms, iso);
  `,
  // Reading every match's row to find the newest (up to 10,000 rows at random, 37-68 ms at 1M
  // images) is avoided where images arrive in receive order, as they mostly do: the newest receive
  // time of each block of 1,024 seqs bounds what an image below can hold (see newestBySeq). Triggers
  // keep it for every writer; a block's value only grows, which keeps the bound true. Statuses other
  // than 'processed' are few: a partial index finds them without scanning every image.
  `
  CREATE TABLE image_blocks (block INTEGER PRIMARY KEY, newest INTEGER NOT NULL);
  INSERT INTO image_blocks (block, newest) SELECT seq >> ${SEQ_BLOCK_BITS}, max(received_ms) FROM images GROUP BY 1;
  CREATE TRIGGER image_blocks_on_insert AFTER INSERT ON images BEGIN ${BLOCK_OF_NEW} END;
  CREATE TRIGGER image_blocks_on_update AFTER UPDATE OF received_ms ON images BEGIN ${BLOCK_OF_NEW} END;
  CREATE INDEX images_by_rare_status ON images (status, received_ms) WHERE status <> 'processed';
  -- Created again by every open until now (the first release's schema ran before the migrations).
  DROP INDEX IF EXISTS images_by_captured;
  -- What the facets count, for each image in about 50 bytes, values as numbers: at 1M images 50 MB
  -- that stay in the page cache, where the facets' 2,000 rows at random from the 175 MB of images
  -- were read from the OS (30 µs each when evicted). Triggers keep it for every writer.
  CREATE TABLE facet_values (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
  INSERT OR IGNORE INTO facet_values (value)
    SELECT make FROM images WHERE make IS NOT NULL UNION SELECT model FROM images WHERE model IS NOT NULL
    UNION SELECT lens FROM images WHERE lens IS NOT NULL UNION SELECT status FROM images UNION SELECT account FROM image_accounts;
  CREATE TABLE image_facets (
    seq INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, make INTEGER, model INTEGER, lens INTEGER,
    status INTEGER NOT NULL, located INTEGER NOT NULL, captured_ms INTEGER,
    -- Its account, when it has only one; otherwise counted from image_accounts.
    account INTEGER,
    -- To sort a circle's matches by distance without reading their rows.
    lat REAL, lon REAL);
  INSERT INTO image_facets (seq, received_ms, make, model, lens, status, located, captured_ms, lat, lon)
    SELECT seq, received_ms, ${facetIds('images')}, lat IS NOT NULL, captured_ms, lat, lon FROM images;
  UPDATE image_facets SET account = (SELECT v.id FROM image_accounts AS a JOIN facet_values AS v ON v.value = a.account WHERE a.seq = image_facets.seq)
    WHERE (SELECT count(*) FROM image_accounts AS a WHERE a.seq = image_facets.seq) = 1;
  CREATE TRIGGER image_facets_on_insert AFTER INSERT ON images BEGIN
    ${FACET_VALUES_OF_NEW}
    INSERT OR REPLACE INTO image_facets (seq, received_ms, make, model, lens, status, located, captured_ms, lat, lon)
      VALUES (new.seq, new.received_ms, ${facetIds('new')}, new.lat IS NOT NULL, new.captured_ms, new.lat, new.lon);
  END;
  CREATE TRIGGER image_facets_on_update AFTER UPDATE ON images BEGIN
    ${FACET_VALUES_OF_NEW}
    UPDATE image_facets SET (received_ms, make, model, lens, status, located, captured_ms, lat, lon) =
      (new.received_ms, ${facetIds('new')}, new.lat IS NOT NULL, new.captured_ms, new.lat, new.lon) WHERE seq = new.seq;
  END;
  CREATE TRIGGER image_facets_on_delete AFTER DELETE ON images BEGIN
    DELETE FROM image_facets WHERE seq = old.seq;
  END;
  -- INSERT OR IGNORE of an account the image has already fires nothing.
  CREATE TRIGGER image_facets_on_account AFTER INSERT ON image_accounts BEGIN
    INSERT INTO facet_values (value) SELECT new.account WHERE new.account NOT IN (SELECT value FROM facet_values);
    UPDATE image_facets SET account = CASE WHEN (SELECT count(*) FROM image_accounts WHERE seq = new.seq) = 1
      THEN (SELECT id FROM facet_values WHERE value = new.account) END WHERE seq = new.seq;
  END;
  `,
];

/**
 * Tombstones of erased images: events received before erased_at are ignored (predatesErasure). A
 * table of its own that no migration touches, so it is simply created where it is missing.
 */
const ERASURES_SCHEMA = 'CREATE TABLE IF NOT EXISTS erasures (id TEXT PRIMARY KEY, erased_at TEXT NOT NULL) WITHOUT ROWID;';

/** The embedded search index: filter and sort columns in a narrow table, documents as JSON beside it, words in FTS5, places in an R*Tree. */
export class SqliteImageIndex implements ImageIndex {
  private readonly db: Database.Database;
  /**
   * Reads the pages' documents. A connection of its own, with SQLite's small default cache: a
   * document fills a 4 KB page, and through the search's cache 40 of them a page pushed out the
   * rows and indexes every search reads (at 1M images a cold row costs 30 µs, a cached one 3).
   */
  private readonly docs: Database.Database;
  private readonly statements;
  /** facet_values' names by id, read as new ones are met. */
  private readonly valueNames = new Map<number, string>();

  /** `cacheMB`: SQLite's page cache; pages are cached as they are used, so a small index uses little. */
  constructor(file: string, { cacheMB = 512 }: { cacheMB?: number } = {}) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    // The default 2 MB cache re-reads index pages on every write once the indexes outgrow it; at 1M
    // images the searches read about 600 MB of rows and indexes at random, and a page from SQLite's
    // cache costs a fraction of a read from the OS, which may have evicted it (p95 of text searches,
    // before image_facets: 62 ms with 256 MB, 147 ms with 64 MB).
    this.db.pragma(`cache_size = -${cacheMB * 1024}`);
    // Only a new file or one of the first release: on a migrated file its IF NOT EXISTS put back an
    // index migration 4 had dropped, written with every image since.
    if (this.db.pragma('user_version', { simple: true }) === 0) this.db.exec(BASE_SCHEMA);
    // Migrations and searches compute with the same functions as the rest of the code.
    this.db.function('normalize_keyword', { deterministic: true }, (value: unknown) => normalizeKeyword(typeof value === 'string' ? value : null));
    this.db.function('distance_m', { deterministic: true }, (lat1: unknown, lon1: unknown, lat2: unknown, lon2: unknown) =>
      typeof lat1 === 'number' && typeof lon1 === 'number' ? distanceMeters(lat1, lon1, lat2 as number, lon2 as number) : null,
    );
    this.migrate();
    this.docs = new Database(file, { readonly: true });
    this.docs.pragma('busy_timeout = 10000');
    this.db.exec(ERASURES_SCHEMA);
    this.statements = {
      // The image's document and its row's search columns, as written (named as searchFields names them).
      storedById: this.db.prepare(
        `SELECT doc, images.seq, captured_ms AS captured, received_ms AS received, make, model, lens, iso, lat, lon, status
         FROM images JOIN image_docs USING (seq) WHERE id = ?`,
      ),
      docBySeq: this.docs.prepare('SELECT doc FROM image_docs WHERE seq = ?').pluck(),
      upsert: this.db.prepare(
        `INSERT INTO images (id, captured_ms, captured_last, captured_last_desc, received_ms, make, model, lens, iso, lat, lon, status)
         VALUES (@id, @captured, coalesce(@captured, ${MISSING_LAST.asc}), coalesce(@captured, ${MISSING_LAST.desc}), @received, @make, @model, @lens, @iso, @lat, @lon, @status)
         ON CONFLICT (id) DO UPDATE SET captured_ms = excluded.captured_ms, captured_last = excluded.captured_last,
           captured_last_desc = excluded.captured_last_desc, received_ms = @received,
           make = @make, model = @model, lens = @lens, iso = @iso, lat = @lat, lon = @lon, status = @status
         RETURNING seq`,
      ),
      // Images are removed only when erased, so the last seq is (near enough) how many there are, without counting.
      lastSeq: this.db.prepare('SELECT coalesce(max(seq), 0) FROM images').pluck(),
      putDoc: this.db.prepare('INSERT OR REPLACE INTO image_docs (seq, doc) VALUES (?, ?)'),
      addAccount: this.db.prepare('INSERT OR IGNORE INTO image_accounts (account, seq) VALUES (?, ?)'),
      deleteTerms: this.db.prepare('DELETE FROM image_terms WHERE rowid = ?'),
      insertTerms: this.db.prepare('INSERT INTO image_terms (rowid, terms) VALUES (?, ?)'),
      putPlace: this.db.prepare('INSERT OR REPLACE INTO image_places (seq, min_lat, max_lat, min_lon, max_lon) VALUES (?, ?, ?, ?, ?)'),
      deletePlace: this.db.prepare('DELETE FROM image_places WHERE seq = ?'),
      facetRows: this.db
        .prepare(
          `SELECT seq, received_ms, '', 0, make, model, lens, status, located, captured_ms, account
           FROM image_facets WHERE seq IN (SELECT value FROM json_each(?))`,
        )
        .raw(),
      facetValues: this.db.prepare('SELECT id, value FROM facet_values').raw(),
      idsOf: this.db.prepare('SELECT seq, id FROM images WHERE seq IN (SELECT value FROM json_each(?))').raw(),
      placesOf: this.db.prepare('SELECT seq, lat, lon FROM image_facets WHERE seq IN (SELECT value FROM json_each(?))').raw(),
      newestUpTo: this.db.prepare('SELECT max(newest) FROM image_blocks WHERE block <= ?').pluck(),
      accountCounts: this.db.prepare('SELECT account, COUNT(*) FROM image_accounts WHERE seq IN (SELECT value FROM json_each(?)) GROUP BY account').raw(),
      erasedAt: this.db.prepare('SELECT erased_at FROM erasures WHERE id = ?').pluck(),
      // ISO 8601 instants written by toISOString compare as text in time order.
      tombstone: this.db.prepare(
        `INSERT INTO erasures (id, erased_at) VALUES (?, ?)
         ON CONFLICT (id) DO UPDATE SET erased_at = max(erased_at, excluded.erased_at)`,
      ),
      seqById: this.db.prepare('SELECT seq FROM images WHERE id = ?').pluck(),
      deleteImage: this.db.prepare('DELETE FROM images WHERE seq = ?'),
      deleteDoc: this.db.prepare('DELETE FROM image_docs WHERE seq = ?'),
      deleteAccounts: this.db.prepare('DELETE FROM image_accounts WHERE seq = ?'),
      // A dead letter's key starts with "<id>|" (failureKey); "}" follows "|", so this is a range of the primary key.
      deleteFailuresOf: this.db.prepare('DELETE FROM failures WHERE key >= ? AND key < ?'),
    };
  }

  async upsert(event: ImageProcessedEvent): Promise<void> {
    this.write(event.id, (existing, erasedAt) => (predatesErasure(event.source.receivedAt, erasedAt) ? existing : mergeProcessed(existing, event)));
  }

  async upsertFailed(event: ImageFailedEvent): Promise<void> {
    this.write(failedImage(event).id, (existing, erasedAt) => (predatesErasure(event.source.receivedAt, erasedAt) ? existing : mergeFailed(existing, event)));
  }

  /** Bulk loads (the search bench): the events in one transaction, instead of one each. */
  upsertMany(events: ImageProcessedEvent[]): void {
    this.db.transaction(() => events.forEach((event) => this.write(event.id, (existing) => mergeProcessed(existing, event))))();
  }

  async addLocations(event: ImageReplicatedEvent): Promise<void> {
    let indexed = true;
    this.write(event.id, (existing, erasedAt) => {
      if (predatesErasure(event.replicatedAt, erasedAt)) return existing;
      indexed = existing !== null;
      return existing && mergeReplicated(existing, event);
    });
    if (!indexed) throw notYetIndexed(event.id);
  }

  async get(id: string): Promise<ImageDocument | null> {
    const row = this.statements.storedById.get(id) as { doc: string } | undefined;
    return row ? upgradeDocument(JSON.parse(row.doc) as StoredDocument) : null;
  }

  /**
   * Matches are counted up to TOTAL_HITS_CAP + 1 (see plan()). Matches read in one pass are sorted
   * here; otherwise each read (the page, the facets' sample) walks a sort index, probing each image,
   * or reads the matches and sorts them, whichever costs less. A cursor seeks in the sort index, so
   * a page costs the same at any depth.
   */
  async search(query: ImageQuery): Promise<SearchResult> {
    const key = this.sortKey(query);
    const plan = this.plan(this.conditions(query), key);
    const { n } = plan;
    const offset = query.after ? 0 : (query.page - 1) * query.size;
    let seqs: number[] = [];
    let sample: Match[] | null = null;
    if ('matches' in plan) {
      const after = query.after && afterInMemory(query.sort.order, query.after);
      seqs = plan.matches
        .filter((m) => !after || after(m))
        .sort(byKey(query.sort.order))
        .slice(offset, offset + query.size)
        .map((m) => m[0]);
      if (query.facets?.length) sample = [...plan.matches].sort(newestFirst).slice(0, FACET_SAMPLE);
    } else {
      const order = query.sort.order === 'asc' ? 'ASC' : 'DESC';
      const after = query.after ? [afterPosition(key, order, query.after)] : [];
      // Walking a sort index meets `want` matches after about want × images / n images, each probed;
      // reading the matches costs a row each. Beyond the cap, n is unknown and large: walk.
      const images = n > TOTAL_HITS_CAP ? 0 : this.statements.lastSeq.get() as number;
      const walks = (want: number) => n > TOTAL_HITS_CAP || ((want * images) / Math.max(n, 1)) * plan.walkCost < n;
      // The first pages newest first are the start of the facets' sample: read once.
      const newest = query.sort.field === 'receivedAt' && query.sort.order === 'desc' && !query.after;
      let found: Match[] | null = null;
      if (plan.seqs && (query.facets?.length || newest)) {
        found = this.newestBySeq(plan.seqs(), Math.max(query.facets?.length ? FACET_SAMPLE : 0, newest ? offset + query.size : 0));
        if (query.facets?.length) sample = found.slice(0, FACET_SAMPLE);
      } else if (query.facets?.length) found = sample = this.newest(walks(FACET_SAMPLE) ? plan.walk : plan.all, !walks(FACET_SAMPLE));
      if (found && newest && (offset + query.size <= found.length || found.length === n)) seqs = found.slice(offset, offset + query.size).map((m) => m[0]);
      else if (plan.seqs && query.near && query.sort.field === 'distance' && !query.after) seqs = this.nearestBySeq(plan.seqs(), query.near).slice(offset, offset + query.size);
      else {
        // No index holds distances: every match in the circle is sorted, read from the smallest index.
        const walking = query.sort.field !== 'distance' && walks(offset + query.size);
        const from = walking ? plan.walk(after) : plan.all(after);
        const rows = this.select('images.seq', from, `ORDER BY ${walking ? '' : '+'}${key.sql} ${order}, images.id LIMIT ? OFFSET ?`, [...key.params, query.size, offset]);
        seqs = rows.map(([seq]) => seq as number);
      }
    }
    // An image erased by another process since its seq was read is left out.
    const items = seqs.flatMap((seq) => {
      const doc = this.statements.docBySeq.get(seq) as string | undefined;
      return doc === undefined ? [] : [upgradeDocument(JSON.parse(doc) as StoredDocument)];
    });
    const result: SearchResult = n > TOTAL_HITS_CAP ? { total: TOTAL_HITS_CAP, totalRelation: 'gte', items, next: null } : { total: n, totalRelation: 'eq', items, next: null };
    result.next = nextPosition(query, items);
    if (query.facets?.length) result.facets = this.facets(query.facets, sample!, n);
    return result;
  }

  async erase(id: string, erasedAt: string): Promise<boolean> {
    const { statements } = this;
    return this.db.transaction(() => {
      statements.tombstone.run(id, erasedAt);
      statements.deleteFailuresOf.run(`${id}|`, `${id}}`);
      const seq = statements.seqById.get(id) as number | undefined;
      if (seq === undefined) return false;
      for (const remove of [statements.deleteImage, statements.deleteDoc, statements.deleteAccounts, statements.deleteTerms, statements.deletePlace]) remove.run(seq);
      return true;
    })();
  }

  async recordFailure(event: ImageFailedEvent): Promise<void> {
    // A dead letter of an erased image would keep what was read of it (camera, GPS, caption).
    if (event.id && predatesErasure(event.source.receivedAt, (this.statements.erasedAt.get(event.id) as string | undefined) ?? null)) return;
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

  async deleteFailures(before: Date): Promise<number> {
    // failedAt is written by toISOString everywhere, so text order is time order.
    return this.db.prepare('DELETE FROM failures WHERE failed_at < ?').run(before.toISOString()).changes;
  }

  async ping(): Promise<void> {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (error) {
      throw new IngestError('INDEX_UNAVAILABLE', `embedded index ${this.db.name} does not answer: ${errorMessage(error)}`, { retriable: true, cause: error });
    }
  }

  async close(): Promise<void> {
    this.docs.close();
    this.db.close();
  }

  /** Each filter of the query in its forms. */
  private conditions(query: ImageQuery): Condition[] {
    const conditions: Condition[] = [];
    // An indexed column also tests an image by seq, in a set read once from its index (dropped by
    // plan() when the condition is broad).
    const column = (text: string, indexed: boolean, ...params: unknown[]): Condition => {
      const seqs = sql(`SELECT seq FROM images WHERE ${text}`, ...params);
      return {
        byRow: sql(text, ...params),
        // Measured at 1M images: 0.1 to 0.15 µs an index entry, a row from the page cache 1 µs.
        ...(indexed ? { seqs, exact: true, bySeq: (seq: string) => sql(`${seq} IN (${seqs.sql})`, ...params), setCost: 0.15 } : {}),
      };
    };
    const terms = query.text ? searchTerms(query.text) : [];
    if (terms.length > 0) {
      const match = terms.map((t) => `"${t}"`).join(' ');
      conditions.push({
        seqs: sql('SELECT rowid AS seq FROM image_terms WHERE image_terms MATCH ?', match),
        exact: true,
        // Measured at 1M images: 70 ns a walked image against 2.5 to 4.7 µs a row read at random.
        walkCost: 0.02,
        // The matches are read once into a set (with a Bloom filter) that each image is looked up
        // in; a per-image MATCH costs a full-text query each (600 ms a page at 1M).
        bySeq: (seq) => sql(`${seq} IN (SELECT rowid FROM image_terms WHERE image_terms MATCH ?)`, match),
      });
    }
    if (query.account) {
      conditions.push({
        seqs: sql('SELECT seq FROM image_accounts WHERE account = ?', query.account),
        exact: true,
        walkCost: 0.25,
        // One primary-key lookup per image; reading a large account's images into a set first costs more.
        bySeq: (seq) => sql(`EXISTS (SELECT 1 FROM image_accounts WHERE account = ? AND seq = ${seq})`, query.account),
      });
    }
    const facet = (name: (typeof FACET_VALUE_COLUMNS)[number], value: string | null) =>
      sql(`image_facets.${name} = (SELECT id FROM facet_values WHERE value = ?)`, value);
    if (query.make) conditions.push({ ...column('images.make = ?', true, normalizeKeyword(query.make)), byFacets: facet('make', normalizeKeyword(query.make)) });
    if (query.model) conditions.push({ ...column('images.model = ?', false, normalizeKeyword(query.model)), byFacets: facet('model', normalizeKeyword(query.model)) });
    const iso = query.iso && [query.iso.min ?? 0, query.iso.max ?? Number.MAX_SAFE_INTEGER];
    // Together, one condition: the lens index holds the ISO, so both are tested on its entries
    // (as two, proving that more than the cap match read 10,001 rows: 41 ms at 1M images).
    if (query.lens && iso) conditions.push(column('images.lens = ? AND images.iso BETWEEN ? AND ?', true, normalizeKeyword(query.lens), ...iso));
    else if (query.lens) conditions.push({ ...column('images.lens = ?', true, normalizeKeyword(query.lens)), byFacets: facet('lens', normalizeKeyword(query.lens)) });
    else if (iso) conditions.push(column('images.iso BETWEEN ? AND ?', true, ...iso));
    if (query.from || query.to) {
      // Both capture columns hold the capture instant, or a MISSING_LAST value outside any range
      // without one. The range is taken on the column the query sorts by, so that one index both
      // finds and orders the page (on the other one, every match was read and sorted: 56 ms at 1M).
      const from = query.from?.getTime() ?? MISSING_LAST.desc + 1;
      const to = query.to?.getTime() ?? MISSING_LAST.asc - 1;
      const ascending = query.sort.field === 'capturedAt' && query.sort.order === 'asc';
      conditions.push({
        ...column(`${ascending ? 'images.captured_last' : 'images.captured_last_desc'} BETWEEN ? AND ?`, true, from, to),
        byFacets: sql('image_facets.captured_ms BETWEEN ? AND ?', from, to),
      });
    }
    if (query.receivedFrom || query.receivedTo) {
      const from = query.receivedFrom?.getTime() ?? -Number.MAX_SAFE_INTEGER;
      const to = query.receivedTo?.getTime() ?? Number.MAX_SAFE_INTEGER;
      conditions.push({ ...column('images.received_ms BETWEEN ? AND ?', true, from, to), byFacets: sql('image_facets.received_ms BETWEEN ? AND ?', from, to) });
    }
    if (query.bbox) {
      const { minLon, minLat, maxLon, maxLat } = query.bbox;
      // A box whose west edge is east of its east edge crosses the antimeridian: two boxes.
      const boxes = minLon > maxLon ? [{ minLat, maxLat, minLon, maxLon: 180 }, { minLat, maxLat, minLon: -180, maxLon }] : [query.bbox];
      const exact = minLon > maxLon
        ? sql('images.lat BETWEEN ? AND ? AND (images.lon >= ? OR images.lon <= ?)', minLat, maxLat, minLon, maxLon)
        : sql('images.lat BETWEEN ? AND ? AND images.lon BETWEEN ? AND ?', minLat, maxLat, minLon, maxLon);
      const inside = isCertainlyIn(boxes);
      conditions.push(spatial(boxes, exact, sql(`CASE WHEN ${inside.sql} THEN 1 ELSE 0 END`, ...inside.params), certainlyIn(boxes)));
    }
    if (query.near) {
      const { lat, lon, radiusMeters } = query.near;
      const boxes = circleBoxes(query.near);
      const inBoxes = boxes.map(() => '(images.lat BETWEEN ? AND ? AND images.lon BETWEEN ? AND ?)').join(' OR ');
      const exact = sql(
        `(${inBoxes}) AND distance_m(?, ?, images.lat, images.lon) <= ?`,
        ...boxes.flatMap((b) => [b.minLat, b.maxLat, b.minLon, b.maxLon]),
        lat,
        lon,
        radiusMeters,
      );
      // An R*Tree entry's middle is within 1.2 m of the image (float32 rounding at 180°): one 5 m
      // inside or outside the circle is certainly in or out, without reading its row.
      const middle = 'distance_m(?, ?, (min_lat + max_lat) / 2, (min_lon + max_lon) / 2)';
      const sureness = sql(`CASE WHEN ${middle} <= ? THEN 1 WHEN ${middle} > ? THEN -1 ELSE 0 END`, lat, lon, radiusMeters - 5, lat, lon, radiusMeters + 5);
      conditions.push(spatial(boxes, exact, sureness));
    }
    // Only the rare statuses are indexed (images_by_rare_status); SQLite uses a partial index only
    // when the query repeats its condition.
    if (query.status === 'processed') conditions.push({ ...column('images.status = ?', false, query.status), byFacets: facet('status', query.status) });
    else if (query.status) conditions.push({ ...column(`images.status = ? AND images.status <> 'processed'`, true, query.status), byFacets: facet('status', query.status) });
    return conditions;
  }

  /**
   * Chooses where the matches come from. Each condition with an index of its own is counted there
   * (up to the cap + 1, cheap) and the smallest is the outer loop, each of its images probed by the
   * other conditions (SQLite's planner, without statistics, drove a text + make + box + time query
   * from the make's index and ran a full-text query per row). Up to the cap, the matches are read
   * in that one pass; beyond, a sort index is walked and each image probed, which stops once the
   * page is full.
   */
  private plan(all: Condition[], key: Sql): Plan {
    const limit = TOTAL_HITS_CAP + 1;
    const own = (seqs: Sql, upTo: number) => this.countRows(sql(`FROM (${seqs.sql})`, ...seqs.params), upTo);
    // `capped`: it has at least n images, counted no further.
    const counted = all.filter((c) => c.seqs).map((c) => ({ c, n: own(c.seqs!, limit), capped: false }));
    // When every one has more than the cap, the outer loop is the smallest of them counted further;
    // a broad box is counted further too, to choose how to probe it.
    const further = counted.length > 1 && counted.every((x) => x.n === limit);
    for (const x of counted) {
      const upTo = x.n < limit ? limit : further ? DRIVER_COUNT_LIMIT : x.c.placed ? BOX_SET_LIMIT : limit;
      if (upTo > limit) x.n = own(x.c.seqs!, upTo);
      x.capped = x.n === upTo;
    }
    counted.sort((a, b) => a.n - b.n);
    // Reading a condition's images into a set spares reading the rows of the outer loop's images
    // outside it (at 1M images a combined query read 10,752 rows: 9 ms from the page cache, 40 to
    // 470 ms from the OS's), but costs more than reading the rows it would spare: those of the
    // outer loop's images that the tests by seq before it let through, in proportion to how many
    // images each holds. Not for a condition counted only so far. The outer loop's own set serves
    // only walks of a sort index, which probe every image.
    const images = Math.max(this.statements.lastSeq.get() as number, 1);
    const broad = new Set<Condition>();
    let reachingRows = counted[0]?.n ?? 0;
    for (const x of counted.slice(1)) if (!x.c.byRow) reachingRows *= Math.min(1, x.n / images);
    for (const x of counted) {
      if (!x.c.byRow) continue;
      const worthIt = !x.capped && (x === counted[0] ? x.n < BOX_SET_LIMIT : x.n * (x.c.setCost ?? 1) < reachingRows);
      if (!worthIt) broad.add(x.c);
      else if (x !== counted[0]) reachingRows *= x.n / images;
    }
    const conditions = all.map((c) => (broad.has(c) ? { ...c, bySeq: undefined } : c));
    const driver = counted.length > 0 ? conditions[all.indexOf(counted[0].c)] : undefined;
    const others = conditions.filter((c) => c !== driver);
    const walk = (extra: Sql[]) => walked(conditions, extra);
    if (!driver) return { n: this.countRows(walk([]), limit), walk, all: walk, walkCost: 1 };
    const matchesOf = (extra: Sql[]) => driven(driver, others, extra);
    const many = { n: limit, walk, all: matchesOf, walkCost: 1 };
    // One condition whose index holds exactly its images has been counted: the search chooses,
    // for each read, between walking a sort index and reading those images.
    // Up to the cap its images are known by seq, without reading their rows.
    if (others.length === 0 && driver.exact) {
      const n = Math.min(counted[0].n, limit);
      return { ...many, n, walkCost: driver.walkCost ?? 1, ...(n <= TOTAL_HITS_CAP ? { seqs: () => this.seqsOf(driver.seqs!) } : {}) };
    }
    // A box or circle whose candidates are few enough to read: only the rows of those its R*Tree
    // entry leaves in doubt (near a box's edge or a circle's) are read, to check them. A box is
    // read up to BOX_SET_LIMIT candidates, past the cap: its newest matches are then found by seq
    // too, not by walking the receive order and probing each image.
    if (others.length === 0 && driver.placed && counted[0].n <= (driver.certain ? BOX_SET_LIMIT - 1 : TOTAL_HITS_CAP)) {
      const [[certain, unsure]] = this.select(
        `json_group_array(seq) FILTER (WHERE sure = 1), json_group_array(seq) FILTER (WHERE sure = 0)`,
        sql(`FROM (${driver.placed.sql})`, ...driver.placed.params),
        '',
        [],
      ) as [string, string][];
      const exact = JSON.parse(certain) as number[];
      const checked = sql(`SELECT seq FROM images WHERE seq IN (SELECT value FROM json_each(?)) AND ${driver.byRow!.sql}`, unsure, ...driver.byRow!.params);
      if (unsure !== '[]') exact.push(...this.seqsOf(checked));
      return { ...many, n: Math.min(exact.length, limit), seqs: () => exact };
    }
    if (counted[0].n > TOTAL_HITS_CAP && others.length === 0 && driver.certain && own(driver.certain, limit) === limit) return many;
    const matches = this.select(sql(`images.seq, images.received_ms, images.id, ${key.sql}, ${FACET_COLUMNS}`, ...key.params), matchesOf([]), 'LIMIT ?', [limit]) as Match[];
    return matches.length <= TOTAL_HITS_CAP ? { n: matches.length, matches } : many;
  }

  /** The expression the query sorts by, whose values are the port's sort positions. */
  private sortKey(query: ImageQuery): Sql {
    if (query.sort.field !== 'distance') return sql(SORT_COLUMNS[query.sort.field][query.sort.order]);
    return sql('distance_m(?, ?, images.lat, images.lon)', query.near!.lat, query.near!.lon);
  }

  /** The seqs a SELECT of `seq` gives. */
  private seqsOf(seqs: Sql): number[] {
    // As one JSON array: handing over a row each costs more than SQLite reading it (0.35 µs per row).
    const [[list]] = this.select('json_group_array(seq)', sql(`FROM (${seqs.sql})`, ...seqs.params), '', []);
    return JSON.parse(list as string) as number[];
  }

  /**
   * The newest `want` of the images `seqs`, in (received desc, id) order. Their rows are read from
   * the highest seq down, stopping once no image further down can be among them: image_blocks
   * bounds the receive times below each block. Images are mostly indexed in the order they were
   * received, so this reads about `want` rows instead of every match's.
   */
  private newestBySeq(seqs: number[], want: number): Match[] {
    const order = Float64Array.from(seqs).sort().reverse();
    const blockOf = (seq: number) => Math.floor(seq / 2 ** SEQ_BLOCK_BITS);
    let found: Match[] = [];
    for (let i = 0; i < order.length; ) {
      if (found.length >= want) {
        const below = this.statements.newestUpTo.get(blockOf(order[i])) as number | null;
        // Strictly: an image received at the same instant as the last kept may precede it by id.
        if (below !== null && found[want - 1][1] > below) break;
      }
      // Whole blocks, so that the bound of the next one holds only images not read yet.
      let end = Math.min(order.length, i + Math.max(want - found.length, 256));
      while (end < order.length && blockOf(order[end]) === blockOf(order[end - 1])) end++;
      const next = Array.from(order.subarray(i, end));
      i = end;
      found = this.withTiedIds([...found, ...this.facetRows(next)]).sort(newestFirst).slice(0, want);
    }
    return found;
  }

  /** Rows counted up to `limit`. */
  private countRows(from: Sql, limit: number): number {
    const [[n]] = this.select('1', from, 'LIMIT ?', [limit], 'SELECT COUNT(*) FROM (', ')');
    return n as number;
  }

  private select(columns: string | Sql, from: Sql, tail: string, params: unknown[], before = '', after = ''): unknown[][] {
    const selected = typeof columns === 'string' ? sql(columns) : columns;
    return this.db
      .prepare(`${before}SELECT ${selected.sql} ${from.sql} ${tail}${after}`)
      .raw()
      .all(...selected.params, ...from.params, ...params) as unknown[][];
  }

  /**
   * The newest FACET_SAMPLE matches, in (received desc, id) order. Sorted by receive time alone,
   * an index that holds it (as the capture-time one does) spares reading every match's row; only
   * the images received at the last instant kept need the id order, to keep the same ones as
   * Elasticsearch.
   */
  private newest(matches: (extra: Sql[]) => Sql, sortWhole: boolean): Match[] {
    // Read from the matches' own index, every match's row is read anyway: whole, and sorted here.
    if (sortWhole) {
      const all = this.select(`images.seq, images.received_ms, images.id, 0, ${FACET_COLUMNS}`, matches([]), '', []) as Match[];
      return all.sort(newestFirst).slice(0, FACET_SAMPLE);
    }
    // Sorted by SQLite, only columns an index holds: a sorter keeps every selected column of every
    // match, so asking for more reads every match's row. The sample's rows are read after, once.
    const sample = this.select('images.seq, images.received_ms', matches([]), 'ORDER BY images.received_ms DESC LIMIT ?', [FACET_SAMPLE]) as [number, number][];
    if (sample.length === FACET_SAMPLE) {
      const last = sample[sample.length - 1][1];
      const tied = sample.filter((row) => row[1] === last).length;
      const boundary = this.select('images.seq, images.received_ms', matches([sql('images.received_ms = ?', last)]), 'ORDER BY images.id LIMIT ?', [tied]) as [number, number][];
      sample.splice(sample.length - tied, tied, ...boundary);
    }
    return this.withTiedIds(this.facetRows(sample.map(([seq]) => seq))).sort(newestFirst);
  }

  /** The facet columns of images, from image_facets, their values' names looked up. */
  private facetRows(seqs: number[]): Match[] {
    const rows = this.statements.facetRows.all(JSON.stringify(seqs)) as (string | number | null)[][];
    const name = (id: string | number | null) => {
      if (id === null) return null;
      // Values are only ever added, by this process or another.
      if (!this.valueNames.has(id as number)) for (const [key, value] of this.statements.facetValues.all() as [number, string][]) this.valueNames.set(key, value);
      return this.valueNames.get(id as number)!;
    };
    for (const row of rows) for (const column of [4, 5, 6, 7, 10]) row[column] = name(row[column]);
    return rows as Match[];
  }

  /**
   * Images by distance from a point, then id, from image_facets: a circle's matches are spread over
   * the whole archive, and reading their rows to sort them took up to 55 ms at p95 at 1M images.
   */
  private nearestBySeq(seqs: number[], { lat, lon }: { lat: number; lon: number }): number[] {
    const placed = (this.statements.placesOf.all(JSON.stringify(seqs)) as [number, number, number][]).map(
      ([seq, lat2, lon2]): [number, number, string] => [seq, distanceMeters(lat, lon, lat2, lon2), ''],
    );
    return this.withTiedIds(placed)
      .sort((a, b) => a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0))
      .map(([seq]) => seq);
  }

  /**
   * Items are [seq, sort value, id, ...], their ids '' where not read: fills in the ids of those
   * that share their sort value (a receive time, a distance) with another, which only ids order.
   */
  private withTiedIds<T extends [number, number, string, ...unknown[]]>(matches: T[]): T[] {
    const at = new Map<number, number>();
    for (const match of matches) at.set(match[1], (at.get(match[1]) ?? 0) + 1);
    const missing = matches.filter((match) => match[2] === '' && at.get(match[1])! > 1);
    if (missing.length > 0) {
      const ids = new Map(this.statements.idsOf.all(JSON.stringify(missing.map((match) => match[0]))) as [number, string][]);
      for (const match of missing) match[2] = ids.get(match[0])!;
    }
    return matches;
  }

  /** Facets of the sample (every match when at most FACET_SAMPLE match), its columns read once and counted here. */
  private facets(names: FacetName[], sample: Match[], n: number): FacetCounts {
    const rows = sample.map((match) => match.slice(4) as FacetRow);
    const tally = (index: 0 | 1 | 2 | 3) => {
      const counts = new Map<string, number>();
      for (const row of rows) if (row[index] !== null) counts.set(row[index]!, (counts.get(row[index]!) ?? 0) + 1);
      return topBuckets(counts);
    };
    const facets: FacetCounts = { scope: n <= FACET_SAMPLE ? 'all' : 'newest', images: rows.length };
    for (const name of names) {
      if (name === 'make') facets.make = tally(0);
      if (name === 'model') facets.model = tally(1);
      if (name === 'lens') facets.lens = tally(2);
      if (name === 'status') facets.status = tally(3);
      if (name === 'gps') {
        const located = rows.filter((row) => row[4] === 1).length;
        facets.gps = { with: located, without: rows.length - located };
      }
      if (name === 'captured') {
        const days = new Map<number, number>();
        for (const row of rows) if (row[5] !== null) days.set(dayOf(row[5]), (days.get(dayOf(row[5])) ?? 0) + 1);
        facets.captured = captureHistogram(days, rows.filter((row) => row[5] === null).length);
      }
      if (name === 'account') {
        // An image with several accounts counts in each: those are read from image_accounts.
        const counts = new Map<string, number>();
        for (const row of rows) if (row[6] !== null) counts.set(row[6], (counts.get(row[6]) ?? 0) + 1);
        const several = sample.filter((match) => match[10] === null).map((match) => match[0]);
        if (several.length > 0) for (const [account, n] of this.statements.accountCounts.all(JSON.stringify(several)) as [string, number][]) counts.set(account, (counts.get(account) ?? 0) + n);
        facets.account = topBuckets(counts);
      }
    }
    return facets;
  }

  /**
   * Reads, merges and writes one image in a transaction; a merge that changes nothing (or leaves no
   * document) writes nothing. The merge is told when the image was last erased (null: never).
   */
  private write(id: string, merge: (existing: ImageDocument | null, erasedAt: string | null) => ImageDocument | null): void {
    this.db.transaction(() => {
      const { statements } = this;
      const row = statements.storedById.get(id) as ({ doc: string; seq: number } & Record<string, unknown>) | undefined;
      const stored = row ? (JSON.parse(row.doc) as StoredDocument) : null;
      const existing = stored ? upgradeDocument(stored) : null;
      const doc = merge(existing, (statements.erasedAt.get(id) as string | undefined) ?? null);
      if (doc === null || isDeepStrictEqual(doc, stored)) return;
      const lat = doc.gps?.lat ?? null;
      const lon = doc.gps?.lon ?? null;
      const columns = { ...searchFields(doc), lat, lon, status: doc.status };
      // A sync tool sending an image again changes only its sources: its row, the indexes on it and
      // its place stay as they are, and their pages are neither read nor written (at 1M images a
      // re-send read them from the OS at random: single upserts fell to 736/s).
      const unchanged = row !== undefined && Object.entries(columns).every(([column, value]) => row[column] === value);
      const seq = unchanged ? row.seq : (statements.upsert.get({ id: doc.id, ...columns }) as { seq: number }).seq;
      statements.putDoc.run(seq, JSON.stringify(doc));
      for (const source of doc.sources) statements.addAccount.run(source.account, seq);
      const terms = documentTerms(doc).join(' ');
      if (!existing || terms !== documentTerms(existing).join(' ')) {
        statements.deleteTerms.run(seq);
        statements.insertTerms.run(seq, terms);
      }
      if (unchanged) return;
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
