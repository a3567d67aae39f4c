import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { objectStoreContract } from './object-store.contract';

objectStoreContract('local directory (embedded)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'store-'));
  return {
    store: new LocalObjectStore(dir),
    storeName: 'local',
    // Its root lies under a file, so no folder can be made there.
    unreachable: () => {
      writeFileSync(path.join(dir, 'a-file'), '');
      return new LocalObjectStore(path.join(dir, 'a-file', 'objects'));
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
