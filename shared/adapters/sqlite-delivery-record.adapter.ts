import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  movedPath,
  parentDirectories,
  splitPath,
  type Delivery,
  type DeliveryMove,
  type DeliveryNode,
  type DeliveryRecord,
} from '../ports/delivery-record.port';

/**
 * Rows are clustered by (account, parent, name), so a listing reads one contiguous range and a get
 * is one seek; a directory's subtree is the range of parents between "<dir>/" and "<dir>0" ("0"
 * follows "/" in byte order). File columns are null for a directory.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS deliveries (
    account TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('file', 'directory')),
    image_id TEXT, size INTEGER, modified_at TEXT, original_key TEXT, content_type TEXT,
    PRIMARY KEY (account, parent, name)) WITHOUT ROWID;
  -- An erasure looks an image's files up in every account.
  CREATE INDEX IF NOT EXISTS deliveries_by_image ON deliveries (image_id) WHERE image_id IS NOT NULL;
`;

interface Row {
  parent: string;
  name: string;
  type: 'file' | 'directory';
  image_id: string | null;
  size: number | null;
  modified_at: string | null;
  original_key: string | null;
  content_type: string | null;
}

const fullPath = (row: Pick<Row, 'parent' | 'name'>) => (row.parent === '/' ? `/${row.name}` : `${row.parent}/${row.name}`);

function node(row: Row): DeliveryNode {
  if (row.type === 'directory') return { type: 'directory', name: row.name };
  return {
    type: 'file',
    name: row.name,
    delivery: { imageId: row.image_id!, size: row.size!, modifiedAt: row.modified_at!, originalKey: row.original_key!, contentType: row.content_type! },
  };
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare('SELECT * FROM deliveries WHERE account = ? AND parent = ? AND name = ?'),
    children: db.prepare('SELECT * FROM deliveries WHERE account = ? AND parent = ?'),
    hasChildren: db.prepare('SELECT 1 FROM deliveries WHERE account = ? AND parent = ? LIMIT 1'),
    subtree: db.prepare('SELECT * FROM deliveries WHERE account = ? AND (parent = ? OR (parent >= ? AND parent < ?))'),
    upsert: db.prepare(
      `INSERT OR REPLACE INTO deliveries (account, parent, name, type, image_id, size, modified_at, original_key, content_type)
       VALUES (@account, @parent, @name, @type, @image_id, @size, @modified_at, @original_key, @content_type)`,
    ),
    delete: db.prepare('DELETE FROM deliveries WHERE account = ? AND parent = ? AND name = ?'),
    deleteImage: db.prepare('DELETE FROM deliveries WHERE image_id = ? RETURNING account, parent, name'),
  };
}

/** The embedded record: <dataDir>/deliveries.sqlite, shared by every process on the data folder. */
export class SqliteDeliveryRecord implements DeliveryRecord {
  private readonly db: Database.Database;
  private readonly statements: ReturnType<typeof prepare>;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
    this.statements = prepare(this.db);
  }

  async get(account: string, filePath: string): Promise<DeliveryNode | null> {
    const { parent, name } = splitPath(filePath);
    const row = this.statements.get.get(account, parent, name) as Row | undefined;
    return row ? node(row) : null;
  }

  async list(account: string, directory: string): Promise<DeliveryNode[]> {
    return (this.statements.children.all(account, directory) as Row[]).map(node);
  }

  async put(account: string, filePath: string, delivery: Delivery): Promise<void> {
    this.db.transaction(() => {
      this.makeParents(account, filePath);
      this.write(account, filePath, { type: 'file', delivery });
    })();
  }

  async rename(account: string, from: string, to: string): Promise<DeliveryMove[]> {
    return this.db.transaction(() => {
      const { parent, name } = splitPath(from);
      const top = this.statements.get.get(account, parent, name) as Row | undefined;
      if (!top) return [];
      const rows = top.type === 'directory' ? [top, ...(this.statements.subtree.all(account, from, `${from}/`, `${from}0`) as Row[])] : [top];
      for (const row of rows) this.statements.delete.run(account, row.parent, row.name);
      this.makeParents(account, to);
      const moves: DeliveryMove[] = [];
      for (const row of rows) {
        const moved = movedPath(fullPath(row), from, to);
        const entry = node(row);
        this.write(account, moved, entry.type === 'file' ? { type: 'file', delivery: entry.delivery } : { type: 'directory' });
        if (entry.type === 'file') moves.push({ from: fullPath(row), to: moved, delivery: entry.delivery });
      }
      return moves;
    })();
  }

  async remove(account: string, filePath: string): Promise<boolean> {
    return this.db.transaction(() => {
      const { parent, name } = splitPath(filePath);
      const row = this.statements.get.get(account, parent, name) as Row | undefined;
      if (!row || (row.type === 'directory' && this.statements.hasChildren.get(account, filePath))) return false;
      this.statements.delete.run(account, parent, name);
      return true;
    })();
  }

  async forgetImage(imageId: string): Promise<{ account: string; path: string }[]> {
    const rows = this.statements.deleteImage.all(imageId) as (Pick<Row, 'parent' | 'name'> & { account: string })[];
    return rows.map((row) => ({ account: row.account, path: fullPath(row) }));
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Every directory above `filePath` becomes (or stays) a recorded directory. */
  private makeParents(account: string, filePath: string): void {
    for (const directory of parentDirectories(filePath)) this.write(account, directory, { type: 'directory' });
  }

  private write(account: string, filePath: string, entry: { type: 'file'; delivery: Delivery } | { type: 'directory' }): void {
    const { parent, name } = splitPath(filePath);
    const d = entry.type === 'file' ? entry.delivery : null;
    this.statements.upsert.run({
      account,
      parent,
      name,
      type: entry.type,
      image_id: d?.imageId ?? null,
      size: d?.size ?? null,
      modified_at: d?.modifiedAt ?? null,
      original_key: d?.originalKey ?? null,
      content_type: d?.contentType ?? null,
    });
  }
}
