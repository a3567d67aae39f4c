import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { objectStoreContract } from './object-store.contract';

objectStoreContract('local directory (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'store-'));
  return {
    store: new LocalObjectStore(dir),
    storeName: 'local',
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
