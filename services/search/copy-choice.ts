import type { ObjectLocation } from '../../shared/contracts/events';
import type { NamedStore } from '../../shared/ports/object-store.port';

/** What the choice needs to know of the stores' health. */
export interface StoreMarks {
  isUp(store: string): boolean;
}

/**
 * The configured stores that hold `key` according to the image's locations, in the order reads
 * should try them: stores marked up before stores marked down; among those, the request's region
 * first, then the configured order (primary first). A document that names none of the configured
 * stores (written under another store name) is read from the primary, where every image is written.
 */
export function chooseCopies(key: string, locations: readonly ObjectLocation[], stores: readonly NamedStore[], marks: StoreMarks, region?: string | null): NamedStore[] {
  const holding = new Set(locations.filter((l) => l.key === key).map((l) => l.store));
  const copies = stores.filter((s) => holding.has(s.name));
  if (copies.length === 0) return stores.filter((s) => s.role === 'primary');
  const rank = (s: NamedStore) => (marks.isUp(s.name) ? 0 : 2) + (region && s.region === region ? 0 : 1);
  // Array.prototype.sort is stable: equal ranks keep the configured order.
  return copies.sort((a, b) => rank(a) - rank(b));
}
