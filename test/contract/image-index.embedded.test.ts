import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteImageIndex } from '../../shared/adapters/sqlite-image-index.adapter';
import { documentTerms } from '../../shared/index-document';
import type { ImageDocument } from '../../shared/ports/image-index.port';
import { failedImageEvent, processedEvent, source } from '../helpers/events';
import { imageIndexContract } from './image-index.contract';

imageIndexContract('SQLite FTS5 (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'index-'));
  let n = 0;
  return {
    create: async () => new SqliteImageIndex(path.join(dir, `index-${n++}.sqlite`)),
    unreachable: async () => {
      const index = new SqliteImageIndex(path.join(dir, `index-${n++}.sqlite`));
      await index.close();
      return index;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('SQLite image index written by the first release', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'index-legacy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A file as the first release left it: FTS rows keyed by an UNINDEXED id, documents without status, a source per delivery. */
  function legacyFile(file: string, events: ReturnType<typeof processedEvent>[]): void {
    const db = new Database(file);
    db.exec(`
      CREATE TABLE images (
        id TEXT PRIMARY KEY, doc TEXT NOT NULL, captured_ms INTEGER, received_ms INTEGER NOT NULL,
        make TEXT, model TEXT, lat REAL, lon REAL);
      CREATE INDEX images_by_received ON images (received_ms);
      CREATE INDEX images_by_captured ON images (captured_ms);
      CREATE TABLE image_accounts (id TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (account, id));
      CREATE VIRTUAL TABLE image_terms USING fts5 (terms, id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0');
      CREATE TABLE failures (key TEXT PRIMARY KEY, failed_at TEXT NOT NULL, event TEXT NOT NULL);
      CREATE INDEX failures_by_time ON failures (failed_at);
    `);
    for (const event of events) {
      const { schema: _schema, source: first, ...rest } = event;
      const sources = [first, { ...first, receivedAt: '2025-03-02T10:00:00.000Z' }, { ...first, path: '/copy.jpg' }];
      const doc = { ...rest, sources, firstSeenAt: first.receivedAt, lastSeenAt: '2025-03-02T10:00:00.000Z' };
      db.prepare('INSERT INTO images (id, doc, received_ms, make, model) VALUES (?, ?, ?, ?, ?)').run(event.id, JSON.stringify(doc), Date.parse(first.receivedAt), 'canon', 'eos r5');
      db.prepare('INSERT INTO image_accounts (id, account) VALUES (?, ?)').run(event.id, first.account);
      db.prepare('INSERT INTO image_terms (terms, id) VALUES (?, ?)').run(documentTerms(doc as unknown as ImageDocument).join(' '), event.id);
    }
    db.close();
  }

  it('opens it: old images count as processed, their deliveries fold into sources, and every image stays findable', async () => {
    const file = path.join(dir, 'v0.sqlite');
    const old = [processedEvent({ keywords: ['harbour'] }), processedEvent({ keywords: ['ferry'] })];
    legacyFile(file, old);

    const index = new SqliteImageIndex(file);
    try {
      const doc = await index.get(old[0].id);
      expect(doc).toMatchObject({ status: 'processed', error: null, firstSeenAt: '2025-03-01T10:00:00.000Z', lastSeenAt: '2025-03-02T10:00:00.000Z' });
      expect(doc?.sources.map((s) => [s.path, s.count, s.firstSeenAt, s.lastSeenAt])).toEqual([
        ['/DCIM/IMG_0001.JPG', 2, '2025-03-01T10:00:00.000Z', '2025-03-02T10:00:00.000Z'],
        ['/copy.jpg', 1, '2025-03-01T10:00:00.000Z', '2025-03-01T10:00:00.000Z'],
      ]);
      const ids = async (q: object) => (await index.search({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, ...q })).items.map((d) => d.id);
      expect(await ids({ text: 'harbour' })).toEqual([old[0].id]);
      expect((await ids({ status: 'processed' })).sort()).toEqual(old.map((e) => e.id).sort());
      // The facets' columns of images indexed before they had a table of their own.
      const { facets } = await index.search({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, facets: ['make', 'account', 'status'] });
      expect(facets).toMatchObject({ images: 2, make: [{ value: 'canon', count: 2 }], account: [{ value: old[0].source.account, count: 2 }], status: [{ value: 'processed', count: 2 }] });

      await index.upsert({ ...old[0], keywords: ['harbour', 'storm'], source: source({ receivedAt: '2025-03-03T10:00:00.000Z' }) });
      const broken = failedImageEvent();
      await index.upsertFailed(broken);
      expect(await ids({ text: 'storm' })).toEqual([old[0].id]);
      expect(await ids({ text: 'ferry' })).toEqual([old[1].id]);
      expect(await ids({ status: 'failed' })).toEqual([broken.id]);
      expect((await index.get(old[0].id))?.sources[0].count).toBe(3);
    } finally {
      await index.close();
    }

    // One FTS row per image, keyed by the image's rowid: the old rows were moved, not left behind.
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM image_terms').get()).toEqual({ n: 3 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM image_terms JOIN images ON images.seq = image_terms.rowid').get()).toEqual({ n: 3 });
    } finally {
      db.close();
    }
  });

  it('opens a migrated file again without migrating it twice', async () => {
    const file = path.join(dir, 'twice.sqlite');
    const event = processedEvent();
    legacyFile(file, [event]);
    await new SqliteImageIndex(file).close();
    const index = new SqliteImageIndex(file);
    try {
      expect(await index.get(event.id)).toMatchObject({ id: event.id, status: 'processed' });
    } finally {
      await index.close();
    }
    // The first release's schema is not laid over a migrated file: it put back an index migration 4 dropped.
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'images_by_captured'").all()).toEqual([]);
    } finally {
      db.close();
    }
  });
});
