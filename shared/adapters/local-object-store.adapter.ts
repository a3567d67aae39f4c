import { randomUUID } from 'node:crypto';
import { constants as fsConstants, createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { ObjectLocation } from '../contracts/events';
import { IngestError } from '../errors';
import type { ListedObject, LocalFile, ObjectStore, ObjectStream, StoredObject } from '../ports/object-store.port';

const CONTENT_TYPE_SUFFIX = '.content-type';

/**
 * Objects as files under one root. Writes go to a temp file that is fsynced and renamed into place,
 * so a crash leaves the old object or the new one, never half of one. A caller's SHA-256 (PutOptions) is
 * not checked: the bytes go from this machine's disk to its own, with no transfer between to damage them.
 */
export class LocalObjectStore implements ObjectStore {
  private readonly root: string;
  private readonly tmpDir: string;

  /** `name` is the store's name in locations (config `stores[].name`); a single embedded store is "local". */
  constructor(
    root: string,
    private readonly name = 'local',
    private readonly region?: string,
  ) {
    this.root = path.resolve(root);
    this.tmpDir = path.join(this.root, '.tmp');
  }

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<StoredObject> {
    return this.write(key, contentType, (tmp) => pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp, { flush: true })));
  }

  async putFile(key: string, filePath: string, contentType: string): Promise<StoredObject> {
    // A hard link shares the caller's already-synced bytes: no copy, no second fsync.
    return this.write(key, contentType, (tmp) =>
      fs.link(filePath, tmp).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV' && error.code !== 'EPERM') throw error;
        await pipeline(createReadStream(filePath), createWriteStream(tmp, { flush: true }));
      }),
    );
  }

  /** Fills a temp file with `fill`, then renames it over the key: readers see old or new, never half. */
  private async write(key: string, contentType: string, fill: (tmp: string) => Promise<void>): Promise<StoredObject> {
    const target = this.resolve(key);
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      await fill(tmp);
      await fs.writeFile(`${tmp}${CONTENT_TYPE_SUFFIX}`, contentType);
      // The content type lands first: an object file without its type would be served as octets.
      await fs.rename(`${tmp}${CONTENT_TYPE_SUFFIX}`, `${target}${CONTENT_TYPE_SUFFIX}`);
      await fs.rename(tmp, target);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      await fs.rm(`${tmp}${CONTENT_TYPE_SUFFIX}`, { force: true });
      throw new IngestError('STORE_UNAVAILABLE', `cannot write ${key}: ${(error as Error).message}`, { retriable: true, cause: error });
    }
    const { size } = await fs.stat(target);
    return { key, bytes: size, contentType };
  }

  async head(key: string): Promise<StoredObject | null> {
    const file = this.resolve(key);
    try {
      const [stat, contentType] = await Promise.all([
        fs.stat(file),
        fs.readFile(`${file}${CONTENT_TYPE_SUFFIX}`, 'utf8').catch(() => 'application/octet-stream'),
      ]);
      return { key, bytes: stat.size, contentType };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.resolve(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new IngestError('OBJECT_NOT_FOUND', `no object ${key}`, { cause: error });
      }
      throw new IngestError('STORE_UNAVAILABLE', `cannot read ${key}`, { retriable: true, cause: error });
    }
  }

  async getFile(key: string): Promise<LocalFile> {
    const file = this.resolve(key);
    // Objects are replaced by rename, never rewritten in place, so the reader's open file stays whole.
    const stat = await fs.stat(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new IngestError('OBJECT_NOT_FOUND', `no object ${key}`, { cause: error });
      throw new IngestError('STORE_UNAVAILABLE', `cannot read ${key}`, { retriable: true, cause: error });
    });
    return { path: file, bytes: stat.size, release: async () => undefined };
  }

  async getStream(key: string, range?: { start: number; end: number }): Promise<ObjectStream | null> {
    const meta = await this.head(key);
    if (!meta) return null;
    return { ...meta, body: createReadStream(this.resolve(key), range) };
  }

  async delete(key: string): Promise<void> {
    const file = this.resolve(key);
    await fs.rm(file, { force: true });
    await fs.rm(`${file}${CONTENT_TYPE_SUFFIX}`, { force: true });
  }

  /** Depth-first from the deepest folder the prefix names; the temp folder and content-type files are not objects. */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    const slash = prefix.lastIndexOf('/');
    const base = prefix.slice(0, slash + 1);
    const start = path.resolve(this.root, base);
    if (start !== this.root && !start.startsWith(this.root + path.sep)) throw new IngestError('NAME_NOT_ALLOWED', `object prefix not allowed: ${prefix}`);
    yield* this.walk(start, base, prefix);
  }

  private async *walk(dir: string, keyPrefix: string, wanted: string): AsyncGenerator<ListedObject> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw new IngestError('STORE_UNAVAILABLE', `cannot list ${keyPrefix}: ${(error as Error).message}`, { retriable: true, cause: error });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const key = keyPrefix + entry.name;
      if (entry.isDirectory()) {
        if (dir === this.root && entry.name === '.tmp') continue;
        // Only folders the prefix can still match.
        if (`${key}/`.startsWith(wanted) || wanted.startsWith(`${key}/`)) yield* this.walk(path.join(dir, entry.name), `${key}/`, wanted);
      } else if (entry.isFile() && !entry.name.endsWith(CONTENT_TYPE_SUFFIX) && key.startsWith(wanted)) {
        const stat = await fs.stat(path.join(dir, entry.name)).catch(() => null);
        // Deleted since the folder was read.
        if (stat) yield { key, bytes: stat.size, modifiedAt: stat.mtime.toISOString() };
      }
    }
  }

  locate(key: string): ObjectLocation {
    const location: ObjectLocation = { store: this.name, bucket: null, key, url: pathToFileURL(this.resolve(key)).href };
    return this.region ? { ...location, region: this.region } : location;
  }

  /** Ready when objects can be written: the temp folder exists (or can be made) and is writable. */
  async ping(): Promise<void> {
    try {
      await fs.mkdir(this.tmpDir, { recursive: true });
      await fs.access(this.tmpDir, fsConstants.W_OK);
    } catch (error) {
      throw new IngestError('STORE_UNAVAILABLE', `object folder ${this.root} is not writable: ${(error as Error).message}`, { retriable: true, cause: error });
    }
  }

  async close(): Promise<void> {}

  private resolve(key: string): string {
    const file = path.resolve(this.root, key);
    if (!key || key.endsWith(CONTENT_TYPE_SUFFIX) || !file.startsWith(this.root + path.sep)) {
      throw new IngestError('NAME_NOT_ALLOWED', `object key not allowed: ${key}`);
    }
    return file;
  }
}
