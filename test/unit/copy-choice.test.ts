import { chooseCopies } from '../../services/search/copy-choice';
import type { ObjectLocation } from '../../shared/contracts/events';
import type { NamedStore, ObjectStore } from '../../shared/ports/object-store.port';

const KEY = 'originals/ab/cd/abcd.jpg';
const store = (name: string, region: string, role: NamedStore['role'] = 'replica'): NamedStore => ({ name, region, role, store: {} as ObjectStore });
const at = (name: string, key = KEY): ObjectLocation => ({ store: name, bucket: null, key, url: `file:///${name}/${key}` });

const STORES = [store('minio-a', 'eu-west', 'primary'), store('rgw-b', 'eu-north'), store('rgw-c', 'us-east')];
const allUp = { isUp: () => true };
const names = (stores: NamedStore[]) => stores.map((s) => s.name);

describe('which copy a read goes to', () => {
  it('tries the copies in configured order, primary first, without a region', () => {
    const locations = [at('rgw-c'), at('rgw-b'), at('minio-a')];
    expect(names(chooseCopies(KEY, locations, STORES, allUp))).toEqual(['minio-a', 'rgw-b', 'rgw-c']);
  });

  it("puts the request's region first, then the configured order", () => {
    const locations = [at('minio-a'), at('rgw-b'), at('rgw-c')];
    expect(names(chooseCopies(KEY, locations, STORES, allUp, 'us-east'))).toEqual(['rgw-c', 'minio-a', 'rgw-b']);
    expect(names(chooseCopies(KEY, locations, STORES, allUp, 'eu-north'))).toEqual(['rgw-b', 'minio-a', 'rgw-c']);
    // A region no store is in changes nothing.
    expect(names(chooseCopies(KEY, locations, STORES, allUp, 'ap-south'))).toEqual(['minio-a', 'rgw-b', 'rgw-c']);
  });

  it('puts stores marked down last, even in the requested region', () => {
    const locations = [at('minio-a'), at('rgw-b'), at('rgw-c')];
    const minioDown = { isUp: (name: string) => name !== 'minio-a' };
    expect(names(chooseCopies(KEY, locations, STORES, minioDown))).toEqual(['rgw-b', 'rgw-c', 'minio-a']);
    const euNorthDown = { isUp: (name: string) => name !== 'rgw-b' };
    expect(names(chooseCopies(KEY, locations, STORES, euNorthDown, 'eu-north'))).toEqual(['minio-a', 'rgw-c', 'rgw-b']);
    // Every store down: still every copy, in the order they would have had.
    expect(names(chooseCopies(KEY, locations, STORES, { isUp: () => false }, 'us-east'))).toEqual(['rgw-c', 'minio-a', 'rgw-b']);
  });

  it('reads only stores whose location holds the requested key', () => {
    // The original is replicated to rgw-b only; a rendition of the same image is in rgw-c too.
    const locations = [at('minio-a'), at('rgw-b'), at('minio-a', 'renditions/ab/cd/abcd/thumb.webp'), at('rgw-c', 'renditions/ab/cd/abcd/thumb.webp')];
    expect(names(chooseCopies(KEY, locations, STORES, allUp, 'us-east'))).toEqual(['minio-a', 'rgw-b']);
    expect(names(chooseCopies('renditions/ab/cd/abcd/thumb.webp', locations, STORES, allUp, 'us-east'))).toEqual(['rgw-c', 'minio-a']);
  });

  it('ignores locations in stores this process does not know, and falls back to the primary when none is known', () => {
    expect(names(chooseCopies(KEY, [at('old-store'), at('rgw-b')], STORES, allUp))).toEqual(['rgw-b']);
    expect(names(chooseCopies(KEY, [at('old-store')], STORES, allUp))).toEqual(['minio-a']);
    expect(names(chooseCopies(KEY, [], STORES, allUp))).toEqual(['minio-a']);
  });
});
