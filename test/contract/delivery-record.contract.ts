import type { Delivery, DeliveryNode, DeliveryRecord } from '../../shared/ports/delivery-record.port';
import { fakeId } from '../helpers/events';

export interface DeliveryRecordHarness {
  /** A fresh, empty record for one test, and a way to open another client of the same storage (another node). */
  create(): Promise<{ record: DeliveryRecord; another(): DeliveryRecord }>;
  cleanup(): Promise<void>;
}

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  const imageId = overrides.imageId ?? fakeId();
  return {
    imageId,
    size: 123_456,
    modifiedAt: '2025-03-01T10:00:00.000Z',
    originalKey: `originals/${imageId.slice(0, 2)}/${imageId.slice(2, 4)}/${imageId}.jpg`,
    contentType: 'image/jpeg',
    ...overrides,
  };
}

const byName = (nodes: DeliveryNode[]) => [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const names = (nodes: DeliveryNode[]) => byName(nodes).map((n) => (n.type === 'directory' ? `${n.name}/` : n.name));

/** One behaviour spec for every DeliveryRecord adapter: the FTP view must be the same on each. */
export function deliveryRecordContract(name: string, makeHarness: () => Promise<DeliveryRecordHarness>): void {
  describe(`DeliveryRecord contract: ${name}`, () => {
    let harness: DeliveryRecordHarness;
    let record: DeliveryRecord;
    let another: () => DeliveryRecord;
    const opened: DeliveryRecord[] = [];

    beforeAll(async () => {
      harness = await makeHarness();
    });
    beforeEach(async () => {
      ({ record, another } = await harness.create());
      opened.push(record);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((r) => r.close()));
    });
    afterAll(async () => {
      await harness.cleanup();
    });

    it('answers a delivered file with what was delivered, and nothing for a path never delivered', async () => {
      const d = delivery();
      await record.put('cam1', '/DCIM/IMG_0001.JPG', d);
      expect(await record.get('cam1', '/DCIM/IMG_0001.JPG')).toEqual({ type: 'file', name: 'IMG_0001.JPG', delivery: d });
      expect(await record.get('cam1', '/DCIM/IMG_0002.JPG')).toBeNull();
      expect(await record.get('cam1', '/')).toBeNull();
    });

    it('keeps each account to its own view', async () => {
      await record.put('cam1', '/a.jpg', delivery());
      expect(await record.get('cam2', '/a.jpg')).toBeNull();
      expect(await record.list('cam2', '/')).toEqual([]);
    });

    it('records the parent directories of a delivered file and lists direct children only', async () => {
      const top = delivery();
      await record.put('cam1', '/top.jpg', top);
      await record.put('cam1', '/DCIM/100CANON/IMG_0001.JPG', delivery());
      await record.put('cam1', '/DCIM/100CANON/IMG_0002.JPG', delivery());
      await record.put('cam1', '/DCIM/note.jpg', delivery());
      expect(await record.get('cam1', '/DCIM')).toEqual({ type: 'directory', name: 'DCIM' });
      expect(await record.get('cam1', '/DCIM/100CANON')).toEqual({ type: 'directory', name: '100CANON' });
      expect(byName(await record.list('cam1', '/'))).toEqual([
        { type: 'directory', name: 'DCIM' },
        { type: 'file', name: 'top.jpg', delivery: top },
      ]);
      expect(names(await record.list('cam1', '/DCIM'))).toEqual(['100CANON/', 'note.jpg']);
      expect(names(await record.list('cam1', '/DCIM/100CANON'))).toEqual(['IMG_0001.JPG', 'IMG_0002.JPG']);
      expect(await record.list('cam1', '/nowhere')).toEqual([]);
    });

    it('replaces the entry when the same path is delivered again', async () => {
      await record.put('cam1', '/a.jpg', delivery({ size: 1 }));
      const again = delivery({ size: 2, modifiedAt: '2025-03-02T10:00:00.000Z' });
      await record.put('cam1', '/a.jpg', again);
      expect(await record.get('cam1', '/a.jpg')).toEqual({ type: 'file', name: 'a.jpg', delivery: again });
      expect(await record.list('cam1', '/')).toHaveLength(1);
    });

    it('lists a file delivered a moment ago through another client of the same record (another node)', async () => {
      const other = another();
      opened.push(other);
      expect(await other.list('cam1', '/DCIM')).toEqual([]);
      const d = delivery();
      await record.put('cam1', '/DCIM/fresh.jpg', d);
      expect(await other.list('cam1', '/DCIM')).toEqual([{ type: 'file', name: 'fresh.jpg', delivery: d }]);
      expect(await other.get('cam1', '/DCIM/fresh.jpg')).toEqual({ type: 'file', name: 'fresh.jpg', delivery: d });
      await other.remove('cam1', '/DCIM/fresh.jpg');
      expect(await record.list('cam1', '/DCIM')).toEqual([]);
    });

    it('renames a file: the new path has the same delivery (and time), the old one is gone, a file at the new path is replaced', async () => {
      const d = delivery();
      await record.put('cam1', '/cam_tmp.jpg', d);
      await record.put('cam1', '/x/y.jpg', delivery());
      expect(await record.rename('cam1', '/cam_tmp.jpg', '/x/y.jpg')).toEqual([{ from: '/cam_tmp.jpg', to: '/x/y.jpg', delivery: d }]);
      expect(await record.get('cam1', '/cam_tmp.jpg')).toBeNull();
      expect(await record.get('cam1', '/x/y.jpg')).toEqual({ type: 'file', name: 'y.jpg', delivery: d });
      expect(names(await record.list('cam1', '/'))).toEqual(['x/']);
      expect(names(await record.list('cam1', '/x'))).toEqual(['y.jpg']);
    });

    it('renames into a directory not recorded yet, recording it', async () => {
      const d = delivery();
      await record.put('cam1', '/a.jpg', d);
      await record.rename('cam1', '/a.jpg', '/new/deep/a.jpg');
      expect(await record.get('cam1', '/new/deep')).toEqual({ type: 'directory', name: 'deep' });
      expect(names(await record.list('cam1', '/new'))).toEqual(['deep/']);
    });

    it('renames a directory with everything under it, and nothing beside it that merely shares its prefix', async () => {
      const files = { '/a/1.jpg': delivery(), '/a/sub/2.jpg': delivery(), '/a/sub/deeper/3.jpg': delivery() };
      for (const [path, d] of Object.entries(files)) await record.put('cam1', path, d);
      // Same prefix, not inside: "!" sorts before "/" and "b" after it.
      const beside = { '/a!/4.jpg': delivery(), '/ab/5.jpg': delivery(), '/a.jpg': delivery() };
      for (const [path, d] of Object.entries(beside)) await record.put('cam1', path, d);

      const moves = await record.rename('cam1', '/a', '/z/b');
      expect([...moves].sort((x, y) => (x.from < y.from ? -1 : 1))).toEqual([
        { from: '/a/1.jpg', to: '/z/b/1.jpg', delivery: files['/a/1.jpg'] },
        { from: '/a/sub/2.jpg', to: '/z/b/sub/2.jpg', delivery: files['/a/sub/2.jpg'] },
        { from: '/a/sub/deeper/3.jpg', to: '/z/b/sub/deeper/3.jpg', delivery: files['/a/sub/deeper/3.jpg'] },
      ]);
      expect(await record.get('cam1', '/a')).toBeNull();
      expect(await record.list('cam1', '/a/sub')).toEqual([]);
      expect(names(await record.list('cam1', '/'))).toEqual(['a!/', 'a.jpg', 'ab/', 'z/']);
      expect(names(await record.list('cam1', '/z/b'))).toEqual(['1.jpg', 'sub/']);
      expect(names(await record.list('cam1', '/z/b/sub'))).toEqual(['2.jpg', 'deeper/']);
      expect(await record.get('cam1', '/z/b/sub/deeper/3.jpg')).toEqual({ type: 'file', name: '3.jpg', delivery: files['/a/sub/deeper/3.jpg'] });
      for (const [path, d] of Object.entries(beside)) expect(await record.get('cam1', path)).toMatchObject({ type: 'file', delivery: d });
    });

    it('renames nothing when the old path was never recorded', async () => {
      expect(await record.rename('cam1', '/none.jpg', '/other.jpg')).toEqual([]);
      expect(await record.get('cam1', '/other.jpg')).toBeNull();
    });

    it('removes a file, and a directory only once nothing is recorded in it', async () => {
      await record.put('cam1', '/d/a.jpg', delivery());
      expect(await record.remove('cam1', '/d')).toBe(false);
      expect(await record.remove('cam1', '/d/a.jpg')).toBe(true);
      expect(await record.get('cam1', '/d/a.jpg')).toBeNull();
      // Like a folder on disk, the directory stays until it is removed itself.
      expect(await record.get('cam1', '/d')).toEqual({ type: 'directory', name: 'd' });
      expect(await record.list('cam1', '/d')).toEqual([]);
      expect(await record.remove('cam1', '/d')).toBe(true);
      expect(await record.list('cam1', '/')).toEqual([]);
      expect(await record.remove('cam1', '/d/a.jpg')).toBe(false);
    });

    it('forgets an erased image in every account that delivered it, renamed copies included, and nothing else', async () => {
      const erased = delivery();
      const kept = delivery();
      await record.put('cam1', '/DCIM/a.jpg', erased);
      await record.put('cam1', '/DCIM/b.jpg', kept);
      await record.put('cam1', '/copy/a.jpg', erased);
      await record.put('partner', '/in/a.jpg', erased);
      await record.rename('partner', '/in', '/done');
      // From another node: the erasure runs wherever the operator or the sweep is.
      const other = another();
      opened.push(other);
      const forgotten = await other.forgetImage(erased.imageId);
      expect(forgotten.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
        { account: 'cam1', path: '/DCIM/a.jpg' },
        { account: 'cam1', path: '/copy/a.jpg' },
        { account: 'partner', path: '/done/a.jpg' },
      ]);
      expect(names(await record.list('cam1', '/DCIM'))).toEqual(['b.jpg']);
      expect(await record.get('partner', '/done/a.jpg')).toBeNull();
      // Its directories stay, as after DELE.
      expect(await record.get('cam1', '/copy')).toEqual({ type: 'directory', name: 'copy' });
      expect(await record.forgetImage(erased.imageId)).toEqual([]);
      expect(await record.get('cam1', '/DCIM/b.jpg')).toEqual({ type: 'file', name: 'b.jpg', delivery: kept });
    });

    it('takes names with spaces, quotes, wildcards of SQL and regular expressions, and non-ASCII letters', async () => {
      const odd = ["/Ordner mit Leerzeichen/it's 100% _x_ [1].jpg", '/ü/日本.JPG', '/*/?.jpg'];
      for (const path of odd) await record.put('cam1', path, delivery());
      for (const path of odd) expect(await record.get('cam1', path)).toMatchObject({ type: 'file' });
      expect(names(await record.list('cam1', '/Ordner mit Leerzeichen'))).toEqual(["it's 100% _x_ [1].jpg"]);
      expect(await record.list('cam1', '/_')).toEqual([]);
      await record.rename('cam1', '/ü', '/%');
      expect(names(await record.list('cam1', '/%'))).toEqual(['日本.JPG']);
    });

    it('lists a directory of 12 000 files whole', async () => {
      const n = 12_000;
      const paths = Array.from({ length: n }, (_, i) => `/big/IMG_${String(i).padStart(5, '0')}.JPG`);
      for (let i = 0; i < n; i += 200) await Promise.all(paths.slice(i, i + 200).map((p) => record.put('cam1', p, delivery({ imageId: fakeId() }))));
      const listed = await record.list('cam1', '/big');
      expect(listed).toHaveLength(n);
      expect(new Set(listed.map((e) => e.name)).size).toBe(n);
    }, 120_000);
  });
}
